import numpy as np
import pytest
from hypothesis import given, strategies as st

from geom.rotation import (angle_between, angular_distance, axis_angle_from_rotation,
                           quaternion_from_rotation, random_rotation, rotation_from_axis_angle,
                           rotation_from_quaternion, skew)
from geom.testing import assert_rotation, rotations

vectors = st.lists(st.floats(-10, 10), min_size=3, max_size=3).map(np.array)


@given(rotations())
def test_quaternion_round_trip(R):
    q = quaternion_from_rotation(R)
    assert q[0] >= 0 and abs(np.linalg.norm(q) - 1) < 1e-12
    np.testing.assert_allclose(rotation_from_quaternion(q), R, atol=1e-12)


@given(rotations())
def test_axis_angle_round_trip(R):
    r = axis_angle_from_rotation(R)
    assert np.linalg.norm(r) <= np.pi + 1e-12
    np.testing.assert_allclose(rotation_from_axis_angle(r), R, atol=1e-10)


@given(vectors)
def test_axis_angle_gives_rotation_of_that_angle(r):
    R = rotation_from_axis_angle(r)
    assert_rotation(R)
    angle = np.linalg.norm(r) % (2 * np.pi)
    assert abs(angular_distance(np.eye(3), R) - min(angle, 2 * np.pi - angle)) < 1e-8
    if np.linalg.norm(r) > 1e-6:
        np.testing.assert_allclose(R @ r, r, atol=1e-9)  # the axis is fixed


@given(rotations(), rotations())
def test_angular_distance_is_a_metric(R1, R2):
    d = angular_distance(R1, R2)
    assert 0 <= d <= np.pi
    assert abs(d - angular_distance(R2, R1)) < 1e-9
    assert angular_distance(R1, R1) < 1e-12


@pytest.mark.parametrize("angle", [1e-12, 1e-9, 1e-6, 1e-3, np.pi - 1e-6])
def test_angular_distance_is_accurate_for_small_and_large_angles(angle):
    R = rotation_from_axis_angle(angle * np.array([0.6, 0.0, 0.8]))
    assert abs(angular_distance(np.eye(3), R) - angle) < 1e-15 + 1e-9 * angle


@given(vectors, vectors)
def test_skew_is_cross_product(u, v):
    np.testing.assert_allclose(skew(u) @ v, np.cross(u, v), atol=1e-9)


def test_random_rotation_is_seeded_and_uniform():
    np.testing.assert_array_equal(random_rotation(3), random_rotation(3))
    rng = np.random.default_rng(0)
    # for uniform rotations the mean of R is zero; E[trace] = 0
    traces = [np.trace(random_rotation(rng)) for _ in range(4000)]
    assert abs(np.mean(traces)) < 0.05


def test_angle_between():
    assert abs(angle_between([1, 0, 0], [0, 2, 0]) - np.pi / 2) < 1e-12
    with pytest.raises(ValueError, match="zero-length"):
        angle_between([0, 0, 0], [1, 0, 0])


def test_bad_input():
    with pytest.raises(ValueError, match="not a rotation"):
        quaternion_from_rotation(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="zero norm"):
        rotation_from_quaternion([0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"r: expected shape \(3\)"):
        rotation_from_axis_angle([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        rotation_from_axis_angle([np.nan, 0, 0])
