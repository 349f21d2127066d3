import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import learned  # noqa: E402
from learned import checkpoint  # noqa: E402
from learned.depth.unet import UNet  # noqa: E402
from learned.flow.raft import RAFT  # noqa: E402
from learned.onnx_io import OnnxDepth, OnnxFlow  # noqa: E402
from learned.synthetic import random_texture  # noqa: E402


def _image(h, w, seed=0):
    return random_texture(np.random.default_rng(seed), h, w)


def test_depth_network_onnx_matches_torch(tmp_path):
    torch.manual_seed(0)
    net = UNet.from_size("tiny")
    path = learned.export_onnx(net, tmp_path / "depth.onnx", output="affine", inverse=True, working_size=40)
    est = learned.load_depth(str(path))
    ref = learned.plugins.NetworkDepth(net, "cpu", "affine", True, working_size=40)
    assert isinstance(est, OnnxDepth) and (est.output, est.inverse, est.working_size) == ("affine", True, 40)
    for h, w in ((37, 53), (64, 48)):  # other sizes than the export's, not multiples of the stride
        img = _image(h, w)
        got, want = est(img), ref(img)
        assert got.shape == (h, w) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_shipped_estimator_exports_with_its_meaning(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "net.pt"
    checkpoint.save(ckpt, UNet.from_size("tiny"), output="scale", inverse=False, working_size=32)
    path = learned.export_onnx(learned.load_depth(ckpt, device="cpu"), tmp_path / "net.onnx")
    est = learned.load_depth(path)
    assert (est.output, est.inverse, est.working_size, est.stride) == ("scale", False, 32, 4)


def test_flow_network_onnx_matches_torch(tmp_path):
    torch.manual_seed(0)
    net = RAFT.from_size("tiny")
    path = learned.export_onnx(net, tmp_path / "flow.onnx")
    est = learned.load_flow(path)
    ref = learned.plugins.NetworkFlow(net, "cpu")
    assert isinstance(est, OnnxFlow) and est.stride == 8
    big = _image(60, 90)
    img1, img2 = big[:50, :75], big[3:53, 2:77]
    got, want = est(img1, img2), ref(img1, img2)
    assert got.shape == (50, 75, 2) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_onnx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.onnx: ONNX file not found"):
        learned.load_depth(tmp_path / "absent.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.onnx: not a readable ONNX model"):
        learned.load_flow(bad)
    path = learned.export_onnx(UNet.from_size("tiny"), tmp_path / "d.onnx")
    with pytest.raises(ValueError, match="holds a depth network, not a flow network"):
        learned.load_flow(path)
    with pytest.raises(ValueError, match="model: expected a depth or flow network"):
        learned.export_onnx(torch.nn.Conv2d(3, 1, 3), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="output: expected one of"):
        learned.export_onnx(UNet.from_size("tiny"), tmp_path / "x.onnx", output="relative")
    with pytest.raises(ValueError, match=r"meta: unexpected keys \['output'\] for a flow network"):
        learned.export_onnx(RAFT.from_size("tiny"), tmp_path / "x.onnx", output="scale")


def test_without_onnxruntime_says_what_to_install(monkeypatch, tmp_path):
    path = learned.export_onnx(UNet.from_size("tiny"), tmp_path / "d.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"'onnxruntime': pip install 'mvdepth\[onnx\]'"):
        learned.load_depth(path)
