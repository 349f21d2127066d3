import itertools

import numpy as np
import pytest
import torch

import learned
from learned.depth.data import batches, make_rgbd, view_batches
from learned.depth.train import main, self_supervised, supervised_loss, train
from learned.depth.unet import UNet


def test_multi_scale_positive_outputs():
    model = UNet.from_size("tiny")
    outs = model(torch.rand(2, 3, 16, 24))
    assert [o.shape for o in outs] == [(2, 1, 16, 24), (2, 1, 8, 12)]
    assert all((o > 0).all() for o in outs)
    small = UNet.from_size("small")
    assert len(small(torch.rand(1, 3, 32, 32))) == 4 and small.stride == 16
    assert 0.5e6 < sum(p.numel() for p in small.parameters()) < 2e6


def test_bad_sizes():
    with pytest.raises(ValueError, match="divisible by 4"):
        UNet.from_size("tiny")(torch.rand(1, 3, 10, 12))
    with pytest.raises(ValueError, match="scales: expected 1..3"):
        UNet(widths=(4, 8, 16), scales=4)


def test_supervised_loss_is_zero_for_the_truth():
    depth = torch.rand(2, 1, 8, 8) + 1
    half = torch.nn.functional.avg_pool2d(depth, 2)
    assert float(supervised_loss([depth], depth)) == pytest.approx(0, abs=1e-6)
    assert float(supervised_loss([depth, half], depth)) > 0


def test_tiny_network_overfits_a_few_samples():
    torch.manual_seed(0)
    model = UNet.from_size("tiny")
    batch = next(batches(0, 2, 32, 48))
    losses = train(model, itertools.repeat(batch), 40, lr=1e-2)
    assert np.mean(losses[-5:]) < losses[0] / 5


def test_self_supervised_training_reduces_the_view_synthesis_loss():
    torch.manual_seed(0)
    model = UNet.from_size("tiny")
    batch = next(view_batches(0, 2, 32, 48))
    losses = train(model, itertools.repeat(batch), 40, self_supervised(), lr=1e-2)
    assert np.mean(losses[-5:]) < losses[0] / 2


def test_synthetic_rgbd():
    img, depth = make_rgbd(3, 40, 60, depth_range=(2.0, 8.0))
    assert img.shape == (40, 60, 3) and depth.shape == (40, 60)
    assert 0 <= img.min() and img.max() <= 1 and 2.0 <= depth.min() and depth.max() <= 8.0
    img2, depth2 = make_rgbd(3, 40, 60, depth_range=(2.0, 8.0))
    assert np.array_equal(img, img2) and np.array_equal(depth, depth2)


def test_training_script_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "unet_tiny.pt"
    main(["--out", str(out), "--size", "tiny", "--steps", "2", "--batch-size", "1", "--height", "32",
          "--width", "32", "--lam", "1", "--val-images", "2", "--log-every", "1"])
    assert "held-out synthetic: abs_rel" in capsys.readouterr().out
    est = learned.load_depth(out)
    assert est.output == "scale" and est.inverse is False
    assert est.meta["command"].startswith("python -m learned.depth.train --out")
    main(["--out", str(out), "--size", "tiny", "--mode", "views", "--steps", "1", "--batch-size", "1",
          "--height", "32", "--width", "32", "--val-images", "1"])
    assert "held-out synthetic: abs_rel" in capsys.readouterr().out
    assert learned.load_depth(out).output == "metric"
