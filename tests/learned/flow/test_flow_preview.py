"""flow_to_color: the standard colour wheel (direction -> hue, magnitude -> saturation)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned.flow.preview import flow_to_color


def test_primary_directions_and_zero():
    # the Middlebury wheel at full magnitude: rightwards red, leftwards cyan; none white; NaN black
    flow = np.array([[[1.0, 0.0], [0.0, 0.0], [np.nan, 1.0], [-1.0, 0.0]]])
    rgb = flow_to_color(flow)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (255, 0, 0)       # rightwards: red
    assert tuple(rgb[0, 1]) == (255, 255, 255)   # none: white
    assert tuple(rgb[0, 2]) == (0, 0, 0)         # invalid: black
    assert rgb[0, 3, 1] > 200 and rgb[0, 3, 2] > 200 and rgb[0, 3, 0] < 60  # leftwards: cyan


@settings(max_examples=40, deadline=None)
@given(st.floats(-np.pi, np.pi), st.floats(0.1, 10.0), st.floats(0.05, 0.95))
def test_hue_depends_on_direction_and_saturation_on_magnitude(angle, norm, frac):
    full = np.array([[[norm * np.cos(angle), norm * np.sin(angle)]]])
    rgb_full = flow_to_color(full, max_norm=norm).astype(int)
    rgb_scaled = flow_to_color(10 * full, max_norm=10 * norm).astype(int)
    assert np.abs(rgb_full - rgb_scaled).max() <= 1  # scale invariant
    assert rgb_full.max() == 255                     # fully saturated colour has a full channel
    part = flow_to_color(frac * full, max_norm=norm).astype(int)
    assert part.min() > rgb_full.min() - 1           # smaller motion: whiter (min channel up)


def test_bad_input():
    with pytest.raises(ValueError, match=r"flow: expected shape \(H, W, 2\)"):
        flow_to_color(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="max_norm: expected a positive number"):
        flow_to_color(np.zeros((4, 4, 2)), max_norm=0)
