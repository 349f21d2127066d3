import numpy as np
import torch

from learned.depth.scenes import GENERATORS, augment, batches, render_frames


def test_render_frames_two_views_per_scene_and_cache(tmp_path):
    images, depths = render_frames(len(GENERATORS), 32, 40, seed=3, cache_dir=tmp_path)
    assert images.shape == (8, 32, 40, 3) and images.dtype == np.uint8
    assert depths.shape == (8, 32, 40) and depths.dtype == np.float32
    assert np.isfinite(depths).all() and (depths >= 0).all() and (depths > 0).mean() > 0.9
    assert len({images[i].tobytes() for i in range(8)}) == 8  # distinct views
    again, again_depths = render_frames(len(GENERATORS), 32, 40, seed=3, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "scenes_3_4_40x32.npz"]
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_depths, depths)


def test_augment_crops_the_same_window_of_image_and_depth():
    h, w = 12, 16
    depth = np.arange(1, h * w + 1, dtype=np.float32).reshape(h, w)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :, 0] = np.arange(w) * 16  # red encodes the column
    flips = set()
    for seed in range(20):
        img, d = augment(np.random.default_rng(seed), image, depth, 8, 10)
        assert img.shape == (3, 8, 10) and d.shape == (1, 8, 10) and img.dtype == d.dtype == np.float32
        assert 0 <= img.min() and img.max() <= 1
        y, x = np.argwhere(depth == d[0].min())[0]  # top-left corner of the window in `depth`
        flipped = d[0, 0, 0] > d[0, 0, -1]
        window = depth[y:y + 8, x:x + 10]
        np.testing.assert_array_equal(d[0], window[:, ::-1] if flipped else window)
        # photometric jitter is monotonic (up to noise and clipping): red still follows the column
        corr = np.corrcoef(img[0].mean(0), np.arange(10))[0, 1]
        assert corr < -0.8 if flipped else corr > 0.8
        flips.add(bool(flipped))
    assert flips == {True, False}


def test_batches_are_reproducible_and_strided():
    first = next(batches(5, 2, 16, 16, n_scenes=2, render_height=20, render_width=24))
    assert first[0].shape == (2, 3, 16, 16) and first[1].shape == (2, 1, 16, 16)
    again = batches(5, 2, 16, 16, n_scenes=2, render_height=20, render_width=24)
    assert all(torch.equal(a, b) for a, b in zip(first, next(again)))
    second = next(again)
    odd = next(batches(5, 2, 16, 16, start=1, stride=2, n_scenes=2, render_height=20, render_width=24))
    assert all(torch.equal(a, b) for a, b in zip(second, odd))
    assert not torch.equal(first[0], second[0])
