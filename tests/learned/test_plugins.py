import sys
import types
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import learned
from learned import checkpoint, plugins
from learned.depth.unet import UNet
from learned.flow.raft import RAFT
from learned.synthetic import random_texture


def _shifted_pair(dx, dy, h=96, w=128, seed=0):
    """img2 is img1 moved by (dx, dy) pixels: img2[y + dy, x + dx] = img1[y, x]."""
    big = random_texture(np.random.default_rng(seed), h + 40, w + 40)
    img1 = big[20:20 + h, 20:20 + w]
    img2 = big[20 - dy:20 - dy + h, 20 - dx:20 - dx + w]
    return np.ascontiguousarray(img1), np.ascontiguousarray(img2)


def test_available_lists_opencv_flows_and_shipped_networks():
    names = learned.available()
    assert {"dis-ultrafast", "dis-fast", "dis-medium", "farneback", "deepflow", "dual-tvl1",
            "rlof"} <= set(names["flow"])
    assert "unet-synth" in names["depth"]
    for task, found in names.items():
        for name, (t, file, _) in plugins.NETWORKS.items():
            if t == task:
                assert (name in found) == (plugins.WEIGHTS_DIR / file).is_file()


@pytest.mark.parametrize("name", list(plugins.OPENCV_FLOWS))
def test_opencv_flows_recover_a_shift(name):
    img1, img2 = _shifted_pair(3, -2)
    flow = learned.load_flow(name)(img1, img2)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [3, -2], atol=0.25)


def test_opencv_flow_accepts_grey_uint8_and_rgb_float():
    img1, img2 = _shifted_pair(2, 1)
    est = learned.load_flow("dis-medium")
    grey = est((img1.mean(-1) * 255).astype(np.uint8), (img2.mean(-1) * 255).astype(np.uint8))
    rgb = est(img1, img2)
    assert grey.shape == rgb.shape == (96, 128, 2)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="unknown flow plug-in 'nope'.*dis-medium.*not shipped yet.*raft-small"):
        learned.load_flow("nope")
    with pytest.raises(ValueError, match="unknown depth plug-in 'dis-medium'.*unet-synth.*"
                                         "an .onnx file, depth-anything:<folder or hub id>.*unet-small"):
        learned.load_depth("dis-medium")
    with pytest.raises(ValueError, match="name_or_path"):
        learned.load_flow(3)


@pytest.mark.parametrize("loader, name, file, script", [
    (learned.load_flow, "raft-small", "raft_small.pt", "python -m learned.flow.train"),
    (learned.load_depth, "unet-small", "unet_small.pt", "python -m learned.depth.train"),
    (learned.load_depth, "unet-synth", "unet_synth.pt", "python -m learned.depth.train"),
])
def test_missing_weights_names_the_file_and_the_training_command(monkeypatch, tmp_path, loader, name,
                                                                  file, script):
    monkeypatch.setattr(plugins, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        loader(name)
    msg = str(err.value)
    assert str(tmp_path / file) in msg and script in msg and f"--out learned/weights/{file}" in msg


def test_missing_weights_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        learned.load_flow(tmp_path / "absent.pt")


@pytest.mark.parametrize("img, match", [
    ([[0, 1], [2, 3]], "numpy array"),
    (np.zeros((8, 8), np.float64), "dtype uint8 or float32"),
    (np.zeros((8, 8, 4), np.uint8), r"shape \(H, W\) or \(H, W, 3\)"),
    (np.zeros(8, np.uint8), r"shape \(H, W\) or \(H, W, 3\)"),
    (np.full((8, 8), 2.0, np.float32), r"in \[0, 1\]"),
    (np.full((8, 8), np.nan, np.float32), "finite"),
])
def test_wrong_image_type(img, match):
    good = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="img1: .*" + match):
        learned.load_flow("dis-fast")(img, good)


def test_pair_of_different_sizes():
    with pytest.raises(ValueError, match="different sizes"):
        learned.load_flow("dis-fast")(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))


def test_flow_network_from_weights_file_handles_any_size(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    checkpoint.save(path, RAFT.from_size("tiny"), command="test")
    est = learned.load_flow(path)
    assert est.device == torch.device("cpu") and est.meta["command"] == "test"
    img1, img2 = _shifted_pair(1, 1, h=37, w=53)
    flow = est(img1, (img2 * 255).astype(np.uint8))
    assert flow.shape == (37, 53, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    with pytest.raises(ValueError, match="holds a flow network"):
        learned.load_depth(path)


def test_depth_network_from_weights_file(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny_depth.pt"
    checkpoint.save(path, UNet.from_size("tiny"), output="affine", inverse=True)
    est = learned.load_depth(str(path))
    assert est.output == "affine" and est.inverse is True
    depth = est(np.zeros((21, 30, 3), np.uint8))
    assert depth.shape == (21, 30) and (depth > 0).all()
    with pytest.raises(ValueError, match="holds a depth network"):
        learned.load_flow(path)


def test_entry_point_plugin(monkeypatch):
    module = types.ModuleType("fake_mvdepth_plugin")

    class Constant:
        output, inverse = "metric", False

        def __init__(self, device=None):
            self.device = device

        def __call__(self, img):
            return np.ones(img.shape[:2], np.float32)

    module.Constant = Constant
    monkeypatch.setitem(sys.modules, "fake_mvdepth_plugin", module)
    ep = EntryPoint("constant-depth", "fake_mvdepth_plugin:Constant", "mvdepth.depth")
    monkeypatch.setattr(plugins, "entry_points",
                        lambda group: [ep] if group == "mvdepth.depth" else [])
    assert "constant-depth" in learned.available()["depth"]
    est = learned.load_depth("constant-depth", device="cpu")
    assert est.device == "cpu" and est(np.zeros((4, 5), np.uint8)).shape == (4, 5)


def test_default_device_is_cpu_without_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert plugins.default_device().type == expected
    assert plugins.default_device("cpu").type == "cpu"


def test_dis_medium_on_real_pairs(dataset):
    from learned.flow.metrics import epe, fl_all
    from pipelines.datasets.flow import kitti_pairs, middlebury_pairs

    est = learned.load_flow("dis-medium")
    for name, img1, img2, gt, valid in middlebury_pairs(dataset("middlebury_flow")):
        flow = est(img1, img2)
        assert epe(flow, gt, valid) < 0.4, name  # about 0.16 and 0.23 px (zero flow: 2.1 and 1.3)
        assert epe(np.zeros_like(gt), gt, valid) > 1.0
    (_, img1, img2, gt, valid), = kitti_pairs(dataset("kitti2012_flow_sample"))
    assert fl_all(est(img1, img2), gt, valid) < 0.2  # about 0.13; zero flow: over 0.9


class _Ramp(torch.nn.Module):
    """A stand-in depth network: 1 + x / W (not mirror-symmetric), or the image mean (symmetric)."""
    stride = 4

    def __init__(self, symmetric):
        super().__init__()
        self.symmetric = symmetric

    def forward(self, x):
        if self.symmetric:
            return [x.mean(dim=(1, 2, 3), keepdim=True).expand(-1, 1, *x.shape[2:]) + 1]
        ramp = torch.arange(x.shape[-1], dtype=x.dtype) / x.shape[-1]
        return [(1 + ramp).expand(x.shape[0], 1, *x.shape[2:])]


def test_flip_consistency_uncertainty():
    img = np.random.default_rng(0).integers(0, 256, (6, 9, 3)).astype(np.uint8)
    depth, unc = plugins.NetworkDepth(_Ramp(False), "cpu").with_uncertainty(img)
    # padded to width 12: a = 1 + x / 12, flipped back b = 1 + (8 - x) / 12
    x = np.arange(9)
    a, b = 1 + x / 12, 1 + (8 - x) / 12
    np.testing.assert_allclose(depth[0], (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(unc[3], np.abs(a - b) / (a + b), rtol=1e-5, atol=1e-7)
    _, unc = plugins.NetworkDepth(_Ramp(True), "cpu").with_uncertainty(img[:, :8])  # no padding
    assert unc.max() < 1e-6


class _Shape(torch.nn.Module):
    """A stand-in depth network that records the size of its input and returns ones."""
    stride = 4

    def forward(self, x):
        self.seen = tuple(x.shape[-2:])
        return [torch.ones_like(x[:, :1])]


@pytest.mark.parametrize("size, seen", [((60, 80), (44, 56)), ((30, 200), (20, 124)), ((50, 50), (48, 48))])
def test_working_size_resizes_to_its_area_and_back(size, seen):
    net = _Shape()
    depth = plugins.NetworkDepth(net, "cpu", working_size=48)(np.zeros(size, np.uint8))
    assert depth.shape == size and np.allclose(depth, 1)
    assert net.seen == seen  # area of a 48 x 48 square, aspect kept, padded to the stride 4


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300))
def test_working_size_keeps_any_image_size_and_the_aspect(h, w):
    net = _Shape()
    depth = plugins.NetworkDepth(net, "cpu", working_size=48)(np.zeros((h, w), np.uint8))
    assert depth.shape == (h, w)
    s = 48 / (h * w) ** 0.5  # the area of a 48 x 48 square, aspect kept (at least 1 pixel),
    for seen, side in zip(net.seen, (h, w)):  # padded to the stride 4
        assert seen % 4 == 0 and max(side * s, 1) - 0.5 <= seen < max(side * s, 1) + 0.5 + 3


def test_contrib_flows_without_opencv_contrib(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "optflow")
    with pytest.raises(ImportError, match="pip install opencv-contrib-python"):
        learned.load_flow("deepflow")
    assert learned.load_flow("dis-fast") is not None


def test_weights_readme_gives_each_training_command():
    readme = (plugins.WEIGHTS_DIR / "README.md").read_text()
    for name, (_, file, command) in plugins.NETWORKS.items():
        assert f"`{name}` | `{file}` | `{command}`" in readme
