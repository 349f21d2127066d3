"""Posed real views for self-supervised depth training (`learned.depth.views`): the poses, the
resizing and the mirroring must make the true depth the one that explains the images."""
import json

import cv2
import numpy as np
import pytest
import torch

import learned
from geom import synth
from geom.io import load_cameras_json
from learned.depth import views
from learned.depth.losses import min_reprojection_loss
from learned.depth.train import main
from learned.warp import depth_pose_flow

SIZE = (64, 48)  # training size (W, H): half the rendered 128 x 96


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    """A rendered ring of 6 views (128 x 96) written as an image folder with cameras.json."""
    folder = tmp_path_factory.mktemp("views") / "ring"
    synth.write_folder(synth.render(synth.orbit_ring(6, seed=3, width=128, height=96)), folder)
    return folder


@pytest.fixture(scope="module")
def stereo_list(tmp_path_factory):
    """A rendered rectified stereo pair (128 x 96) and its list file."""
    folder = tmp_path_factory.mktemp("views") / "stereo"
    synth.write_folder(synth.render(synth.stereo_rig(seed=2, width=128, height=96)), folder)
    info = json.loads((folder / "stereo.json").read_text())
    K = load_cameras_json(folder / "cameras.json")[info["left"]].K
    line = f"{info['left']} {info['right']} {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]} {info['baseline']}"
    (folder / "pairs.txt").write_text("# left right fx fy cx cy baseline\n" + line + "\n")
    return folder / "pairs.txt"


def _true_depth(image_path):
    """The rendered depth of an image, resized to SIZE (no hit: far away)."""
    depth = np.load(image_path.parent / "depth" / f"{image_path.stem}.npy")
    depth = np.where(np.isfinite(depth), depth, 1e3).astype(np.float32)
    return cv2.resize(depth, SIZE, interpolation=cv2.INTER_AREA)


def _error(sample, depth):
    target, sources, K, R, t = (torch.from_numpy(a)[None] for a in sample)
    d = torch.from_numpy(np.ascontiguousarray(depth))[None, None]
    flows = [depth_pose_flow(d, K, R[:, k], t[:, k]) for k in range(sources.shape[1])]
    return min_reprojection_loss(target, list(sources.unbind(1)), flows, automask=False)[0].item()


def test_sequence_groups_nearest_sources_and_relative_poses(ring):
    cams = load_cameras_json(ring / "cameras.json")
    groups = views.sequence_groups(cams, ring, n_sources=2)
    assert len(groups) == 6 and all(len(g.sources) == 2 for g in groups)
    rng = np.random.default_rng(0)
    X = rng.normal(size=3)
    for g in groups:
        target = cams[g.target.name]
        dist = {n: np.linalg.norm(c.center - target.center) for n, c in cams.items() if n != g.target.name}
        assert sorted(dist, key=dist.get)[:2] == [s.name for s in g.sources]
        for k, s in enumerate(g.sources):
            src = cams[s.name]
            np.testing.assert_allclose(g.R[k] @ (target.R @ X + target.t) + g.t[k], src.R @ X + src.t,
                                       atol=1e-12)


def test_true_depth_explains_a_resized_sequence_and_its_mirror_image(ring):
    groups = views.sequence_groups(load_cameras_json(ring / "cameras.json"), ring, n_sources=2)
    images = views.load_images(groups, SIZE[1], SIZE[0])
    for g in groups[:3]:
        sample = views.group_sample(images, g, SIZE[1], SIZE[0])
        depth = _true_depth(g.target)
        true = _error(sample, depth)
        assert true < 0.7 * min(_error(sample, 1.3 * depth), _error(sample, depth / 1.3))
        # seed 2 mirrors (its first draw is below 1/2) and jitters the colours, not the geometry
        assert np.random.default_rng(2).random() < 0.5
        mirrored = views.group_sample(images, g, SIZE[1], SIZE[0], np.random.default_rng(2))
        flipped = depth[:, ::-1]
        assert _error(mirrored, flipped) < 0.7 * min(_error(mirrored, 1.3 * flipped),
                                                      _error(mirrored, flipped / 1.3))


def test_mirrored_poses_give_the_mirrored_flow():
    rng = np.random.default_rng(4)
    K = np.array([[50.0, 0.5, 30.0], [0.0, 55.0, 22.0], [0.0, 0.0, 1.0]])
    R = cv2.Rodrigues(rng.normal(0, 0.1, 3))[0][None]
    t = rng.normal(0, 0.3, (1, 3))
    depth = rng.uniform(2, 5, (1, 1, 12, 16)).astype(np.float32)
    width = 16
    Kf, Rf, tf = views.flipped(K, R, t, width)
    as_t = lambda a: torch.from_numpy(np.asarray(a, np.float32))[None]
    flow = depth_pose_flow(torch.from_numpy(depth), as_t(K), as_t(R[0]), as_t(t[0]))
    flow_f = depth_pose_flow(torch.from_numpy(depth[..., ::-1].copy()), as_t(Kf), as_t(Rf[0]), as_t(tf[0]))
    expected = flow.flip(-1) * torch.tensor([-1.0, 1.0])[None, :, None, None]
    torch.testing.assert_close(flow_f, expected, atol=1e-3, rtol=1e-4)


def test_stereo_groups_and_their_true_depth(stereo_list):
    groups = views.stereo_groups(stereo_list)
    assert len(groups) == 2
    left, right = groups
    assert left.sources == (right.target,) and right.sources == (left.target,)
    assert left.t[0, 0] < 0 < right.t[0, 0] and left.t[0, 0] == -right.t[0, 0]
    images = views.load_images(groups, SIZE[1], SIZE[0])
    sample = views.group_sample(images, left, SIZE[1], SIZE[0])
    depth = _true_depth(left.target)
    assert _error(sample, depth) < 0.7 * min(_error(sample, 1.3 * depth), _error(sample, depth / 1.3))


def test_resized_intrinsics_keep_pixel_centres():
    K = np.array([[100.0, 0.0, 63.5], [0.0, 100.0, 47.5], [0.0, 0.0, 1.0]])  # centred on 128 x 96
    K2 = views.resized_intrinsics(K, (128, 96), (64, 48))
    np.testing.assert_allclose(K2, [[50.0, 0.0, 31.5], [0.0, 50.0, 23.5], [0.0, 0.0, 1.0]])


def test_bad_views_name_the_problem(tmp_path, ring, stereo_list):
    cams = load_cameras_json(ring / "cameras.json")
    with pytest.raises(ValueError, match="need at least"):
        views.sequence_groups(dict(list(cams.items())[:2]), ring, n_sources=2)
    other = dict(cams)
    last = sorted(other)[-1]
    other[last] = type(cams[last])(cams[last].K @ np.diag([1.1, 1.1, 1.0]), cams[last].R, cams[last].t, 128, 96)
    with pytest.raises(ValueError, match="different intrinsics"):
        views.sequence_groups(other, ring)
    bad = tmp_path / "pairs.txt"
    bad.write_text("a.png b.png 100 100 50\n")
    with pytest.raises(ValueError, match=r"pairs.txt:1: expected 'LEFT RIGHT fx fy cx cy baseline'"):
        views.stereo_groups(bad)
    bad.write_text("a.png b.png 100 100 nan 40 0.2\n")
    with pytest.raises(ValueError, match=r"pairs.txt:1: expected"):
        views.stereo_groups(bad)
    bad.write_text("missing.png other.png 100 100 50 40 0.2\n")
    with pytest.raises(ValueError, match="missing.png: cannot read the image"):
        views.stereo_groups(bad)
    bad.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no stereo pairs"):
        views.stereo_groups(bad)
    groups = views.sequence_groups(cams, tmp_path)  # images are not in tmp_path
    with pytest.raises(ValueError, match="cannot read the image"):
        views.load_images(groups, 48, 64)


TINY = ["--size", "tiny", "--steps", "2", "--batch-size", "2", "--height", "48", "--width", "64",
        "--log-every", "1"]


def test_training_on_real_views_and_stereo_pairs(tmp_path, ring, stereo_list, capsys):
    out = tmp_path / "views.pt"
    main(["--out", str(out), "--mode", "views", "--views", str(ring / "cameras.json"), "--images",
          str(ring)] + TINY)
    assert "evaluation: photometric" in capsys.readouterr().out
    est = learned.load_depth(out)
    assert est.output == "scale" and 0 <= est.meta["evaluation"]["seen"] <= 1
    main(["--out", str(out), "--mode", "stereo", "--stereo", str(stereo_list), "--metric"] + TINY)
    assert learned.load_depth(out).output == "metric"
    # fine-tuning the shipped network by name keeps its working size, starts in the poses' scale
    main(["--out", str(out), "--mode", "stereo", "--stereo", str(stereo_list), "--init", "unet-synth"]
         + TINY[2:] + ["--size", "compact"])
    assert "output scale calibrated to the poses: x" in capsys.readouterr().out
    est = learned.load_depth(out)
    assert est.working_size == learned.load_depth("unet-synth").working_size == 160
    assert est.meta["init_command"] == learned.load_depth("unet-synth").meta["command"]
    for bad in (["--mode", "views", "--views", str(ring / "cameras.json")],  # no --images
                ["--mode", "stereo"], ["--stereo", str(stereo_list)]):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "bad.pt")] + bad + TINY)
    assert "--mode stereo needs --stereo LIST" in capsys.readouterr().err


class _FixedDepth(torch.nn.Module):
    """A 'network' whose finest map is the true depth of each target, times `factor`."""

    def __init__(self, depths, factor):
        super().__init__()
        self.depths, self.factor = depths, factor

    def rescale(self, factor):
        self.factor *= factor

    def forward(self, target):
        return [self.factor * torch.stack([self._depth(image) for image in target])]

    def _depth(self, image):
        for known, depth in self.depths:
            if torch.equal(known, image):
                return torch.from_numpy(np.ascontiguousarray(depth))[None]
        raise AssertionError("unknown target")


def _ring_depths(ring):
    groups = views.sequence_groups(load_cameras_json(ring / "cameras.json"), ring, n_sources=2)
    images = views.load_images(groups, SIZE[1], SIZE[0])
    return groups, [(torch.from_numpy(views.group_sample(images, g, SIZE[1], SIZE[0])[0]), _true_depth(g.target))
                    for g in groups]


def test_photometric_check_ranks_the_true_depth_first(ring):
    groups, depths = _ring_depths(ring)
    checks = {f: views.photometric_check(_FixedDepth(depths, f), groups, SIZE[1], SIZE[0]) for f in (1.0, 1.4, 1 / 1.4)}
    assert checks[1.0]["photometric"] < 0.7 * min(checks[1.4]["photometric"], checks[1 / 1.4]["photometric"])
    assert 0.3 < checks[1.0]["seen"] <= 1.0


@pytest.mark.parametrize("wrong", [1 / 30, 8.0])
def test_scale_calibration_finds_the_scale_of_the_poses(ring, wrong):
    groups, depths = _ring_depths(ring)
    model = _FixedDepth(depths, wrong)
    batch = tuple(torch.stack(p) for p in zip(*(torch.utils.data.default_convert(
        views.group_sample(views.load_images(groups, SIZE[1], SIZE[0]), g, SIZE[1], SIZE[0])) for g in groups)))
    factor = views.calibrate_scale(model, batch)
    assert model.factor == pytest.approx(1.0, rel=0.1) and factor == pytest.approx(1 / wrong, rel=0.1)
