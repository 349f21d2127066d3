import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.rotation import rotation_from_axis_angle
from learned.warp import depth_pose_flow, disparity_to_flow, inside, pixel_grid, sample, warp


@given(st.integers(-3, 3), st.integers(-3, 3))
@settings(max_examples=15)
def test_integer_flow_warp_is_a_shift(dx, dy):
    img = torch.rand(1, 2, 12, 14)
    flow = torch.zeros(1, 2, 12, 14)
    flow[:, 0], flow[:, 1] = dx, dy
    out, valid = warp(img, flow)
    rolled = torch.roll(img, shifts=(-dy, -dx), dims=(2, 3))
    ys = slice(max(0, -dy), 12 - max(0, dy))
    xs = slice(max(0, -dx), 14 - max(0, dx))
    torch.testing.assert_close(out[..., ys, xs], rolled[..., ys, xs])
    assert valid[..., ys, xs].all() and int(valid.sum()) == (ys.stop - ys.start) * (xs.stop - xs.start)


def test_sample_is_bilinear_at_pixel_centres_convention():
    img = torch.arange(12.0).reshape(1, 1, 3, 4)  # value = 4 y + x
    points = torch.tensor([[0.5, 1.25], [2.0, 0.0], [3.0, 2.0]])  # (x, y)
    coords = points.T.reshape(1, 2, 1, 3)
    out = sample(img, coords)
    torch.testing.assert_close(out.flatten(), torch.tensor([4 * 1.25 + 0.5, 2.0, 11.0]))
    assert inside(coords, 3, 4).all() and not inside(coords + 0.01, 3, 4)[0, 0, 0, 2]


def test_depth_pose_flow_identity_and_translation():
    K = torch.tensor([[100.0, 0, 15], [0, 100.0, 10], [0, 0, 1]])[None]
    depth = torch.full((1, 1, 20, 30), 4.0)
    zero = depth_pose_flow(depth, K, torch.eye(3)[None], torch.zeros(1, 3))
    assert zero.abs().max() < 1e-4
    flow = depth_pose_flow(depth, K, torch.eye(3)[None], torch.tensor([[0.2, -0.1, 0.0]]))
    torch.testing.assert_close(flow[:, 0], torch.full((1, 20, 30), 100 * 0.2 / 4))
    torch.testing.assert_close(flow[:, 1], torch.full((1, 20, 30), -100 * 0.1 / 4))


def test_depth_pose_flow_matches_projection():
    rng = np.random.default_rng(3)
    K = np.array([[80.0, 0, 12], [0, 90.0, 8], [0, 0, 1]])
    R, t = rotation_from_axis_angle(rng.normal(scale=0.05, size=3)), np.array([0.1, 0.05, -0.2])
    depth = rng.uniform(2, 5, (1, 1, 16, 24))
    flow = depth_pose_flow(*(torch.from_numpy(a) for a in (depth, K[None], R[None], t[None])))
    for x, y in [(0, 0), (5, 7), (23, 15)]:
        X1 = depth[0, 0, y, x] * np.linalg.solve(K, [x, y, 1.0])
        p = K @ (R @ X1 + t)
        np.testing.assert_allclose(flow[0, :, y, x].numpy(), p[:2] / p[2] - [x, y], atol=1e-9)


def test_pixel_grid():
    g = pixel_grid(2, 3, 4)
    assert g.shape == (2, 2, 3, 4) and g[1, 0, 2, 3] == 3 and g[1, 1, 2, 3] == 2


def test_stereo_is_the_pose_special_case_of_depth_pose_flow():
    f, b = 120.0, 0.3
    K = torch.tensor([[f, 0, 20.0], [0, f, 15.0], [0, 0, 1]], dtype=torch.float64)[None]
    depth = torch.rand(1, 1, 30, 40, dtype=torch.float64) * 5 + 2
    flow = depth_pose_flow(depth, K, torch.eye(3, dtype=torch.float64)[None],
                           torch.tensor([[-b, 0.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(flow, disparity_to_flow(f * b / depth))  # right camera: x - f b / Z
