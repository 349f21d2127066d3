import numpy as np
from hypothesis import given, settings

from geom.costvolume import postprocess
from geom.testing import seeds


def median3_reference(values):
    """Upper median of the valid values of each valid pixel's clipped 3 x 3 window."""
    H, W = values.shape
    out = values.copy()
    for y in range(H):
        for x in range(W):
            if not np.isnan(values[y, x]):
                w = values[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].ravel()
                w = np.sort(w[~np.isnan(w)])
                out[y, x] = w[len(w) // 2]
    return out


@settings(max_examples=30, deadline=None)
@given(seeds())
def test_median_matches_the_median_of_valid_neighbours(seed):
    """Full windows (sorting network), windows with holes and border windows (insertion sort)
    agree with the sorted-window median, ties (few distinct values) included."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 6, (12, 15)).astype(np.float32) + rng.random() * (seed % 2)
    values[rng.random(values.shape) < 0.15] = np.nan
    out = postprocess(values, 0, 0.0, True, False, prefer_low=True)
    np.testing.assert_array_equal(out, median3_reference(values))
