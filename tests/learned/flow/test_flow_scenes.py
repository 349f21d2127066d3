import cv2
import numpy as np

from learned.flow.data import batches
from learned.flow.scenes import GENERATORS, render_pairs, sample


def test_render_pairs_gives_flow_that_warps_frame_2_onto_frame_1_and_caches(tmp_path):
    images, flows = render_pairs(len(GENERATORS), 48, 64, seed=2, cache_dir=tmp_path)
    assert images.shape == (3, 2, 48, 64, 3) and images.dtype == np.uint8
    assert flows.shape == (3, 48, 64, 2) and flows.dtype == np.float32 and np.isfinite(flows).all()
    xs, ys = np.meshgrid(np.arange(64, dtype=np.float32), np.arange(48, dtype=np.float32))
    for (img1, img2), flow in zip(images.astype(np.float32), flows):
        assert np.abs(flow).max() > 0.5  # something moves
        warped = cv2.remap(img2, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
        # most pixels are visible in frame 2: warping by the true flow brings them back
        assert np.median(np.abs(warped - img1)) < 0.5 * np.median(np.abs(img2 - img1))
    again = render_pairs(len(GENERATORS), 48, 64, seed=2, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "flow_scenes_2_3_64x48.npz"]
    np.testing.assert_array_equal(again[1], flows)


def test_sample_mirrors_images_and_flow_together():
    images = np.zeros((1, 2, 6, 8, 3), np.uint8)
    images[0, 0, :, :, 0] = np.arange(8) * 30  # red encodes the column of frame 1
    flows = np.zeros((1, 6, 8, 2), np.float32)
    flows[0, :, :, 0] = np.arange(8)  # horizontal flow increasing to the right
    flows[0, :, :, 1] = 1
    mirrored = set()
    for seed in range(16):
        img1, img2, flow = sample(np.random.default_rng(seed), images, flows, 4, 5)
        assert img1.shape == img2.shape == (4, 5, 3) and flow.shape == (4, 5, 2)
        assert img1.dtype == flow.dtype == np.float32 and img1.flags.c_contiguous
        mirror = flow[0, 0, 0] < 0
        mirrored.add(mirror)
        col = np.round(img1[0, :, 0] * 255 / 30)  # the window's original columns
        np.testing.assert_allclose(flow[0, :, 0], -col if mirror else col)
        assert (flow[..., 1] == 1).all()
    assert mirrored == {True, False}


def test_batches_draw_the_given_fraction_from_the_scenes():
    scenes = render_pairs(2, 40, 48, seed=1)
    mixed = next(batches(3, 16, 32, 40, augment=False, scenes=scenes, scene_fraction=0.5))
    only = next(batches(3, 4, 32, 40, augment=False, scenes=scenes, scene_fraction=1.0))
    assert [t.shape for t in mixed] == [(16, 3, 32, 40), (16, 3, 32, 40), (16, 2, 32, 40)]

    def from_scenes(img):  # rendered pixels are multiples of 1/255
        return np.allclose(img * 255, np.round(img * 255), atol=1e-3)
    assert all(from_scenes(x.numpy()) for x in only[0])
    assert 0 < sum(from_scenes(x.numpy()) for x in mixed[0]) < 16
