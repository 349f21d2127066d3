import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.costvolume import _penalties, _sgm, postprocess, sgm_aggregate
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
    out = postprocess(values, speckle_size=0, speckle_range=0.0, median=True, fill=False,
                      prefer_low=True)
    np.testing.assert_array_equal(out, median3_reference(values))


@settings(max_examples=10, deadline=None)
@given(seeds(), st.sampled_from([2, 3, 16, 37]), st.sampled_from([4, 8]))
def test_integer_aggregation_equals_the_float_one_with_whole_penalties(seed, D, paths):
    """The uint16 path arithmetic of census stereo (truncated per operation) is exact: with
    uint8 costs, whole penalties and a guide whose steps keep every adapted P2 whole (steps of
    0 or 3 grey levels with p2_gradient 3: P2 / 2), it equals the float32 aggregation."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 64, (9, 23, D)).astype(np.uint8)
    guide = (3 * rng.integers(0, 2, (9, 23))).astype(np.float32)
    pen = _penalties(7.0, 120.0, 3.0)
    ref = sgm_aggregate(cost.astype(np.float32), guide, p1=7.0, p2=120.0, paths=paths,
                        p2_gradient=3.0)
    S = _sgm(cost, guide, *pen, paths == 8, integer=True)
    assert S.dtype == np.uint16
    np.testing.assert_array_equal(S, ref)
