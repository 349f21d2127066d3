import itertools

import numpy as np
import pytest
import torch

import learned
from learned import checkpoint
from learned.depth.data import batches, make_rgbd, view_batches
from learned.depth.losses import bin_centre_loss
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


@pytest.mark.parametrize("bins", [0, 4])
def test_rescale_multiplies_every_output(bins):
    torch.manual_seed(0)
    model = UNet.from_size("tiny", bins=bins).eval()
    x = torch.rand(1, 3, 16, 24)
    before = model(x)
    model.rescale(3.5)
    for a, b in zip(before, model(x)):
        torch.testing.assert_close(b, 3.5 * a, rtol=1e-5, atol=0)
    if bins:
        assert model.config["bin_range"] == pytest.approx((0.035, 350.0))
    with pytest.raises(ValueError, match="factor: expected a finite positive"):
        model.rescale(0.0)


def test_bad_sizes():
    with pytest.raises(ValueError, match="divisible by 4"):
        UNet.from_size("tiny")(torch.rand(1, 3, 10, 12))
    with pytest.raises(ValueError, match="scales: expected 1..3"):
        UNet(widths=(4, 8, 16), scales=4)


@pytest.mark.parametrize("size, bins, shape", [("tiny", 2, (2, 3, 16, 24)), ("tiny", 8, (1, 3, 4, 8)),
                                               ("compact", 16, (2, 3, 32, 48))])
def test_adaptive_bins_outputs_and_centres(size, bins, shape):
    torch.manual_seed(0)
    model = UNet.from_size(size, bins=bins, bin_range=(0.5, 20.0))
    outs, centres = model(torch.rand(shape), with_centres=True)
    plain = UNet.from_size(size)(torch.rand(shape))
    assert [o.shape for o in outs] == [o.shape for o in plain]
    assert centres.shape == (shape[0], bins) and (centres[:, 1:] > centres[:, :-1]).all()
    assert 0.5 < centres.min() and centres.max() < 20.0
    lo, hi = centres.min(1).values, centres.max(1).values  # a mean of the centres: inside them
    assert ((lo[:, None, None, None] <= outs[0]) & (outs[0] <= hi[:, None, None, None])).all()
    assert all((o > 0).all() for o in outs[1:]) and model.config["bins"] == bins
    assert UNet.from_size(size)(torch.rand(shape), with_centres=True)[1] is None


def test_bad_bins():
    for bins in (-1, 1, 2.5, True):
        with pytest.raises(ValueError, match="bins: expected 0"):
            UNet.from_size("tiny", bins=bins)
    for bin_range in ((0.0, 10.0), (5.0, 1.0), (1.0, float("nan")), (1.0, float("inf")), (1.0, 2.0, 3.0)):
        with pytest.raises(ValueError, match="bin_range"):
            UNet.from_size("tiny", bins=4, bin_range=bin_range)


def test_adaptive_bins_save_and_reload_give_identical_outputs(tmp_path):
    torch.manual_seed(3)
    model = UNet.from_size("tiny", bins=6, bin_range=(0.2, 50.0))
    model(torch.rand(2, 3, 16, 16))  # moves the batch-norm running statistics off their init
    model.eval()
    checkpoint.save(tmp_path / "bins.pt", model)
    loaded, _ = checkpoint.load(tmp_path / "bins.pt")
    assert loaded.config == model.config == dict(widths=(8, 12, 16), scales=2, bins=6, bin_range=(0.2, 50.0))
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        (a, ca), (b, cb) = model(x, with_centres=True), loaded(x, with_centres=True)
    assert torch.equal(ca, cb) and all(torch.equal(p, q) for p, q in zip(a, b))


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


def test_tiny_adaptive_bins_network_overfits_a_few_samples():
    torch.manual_seed(0)
    model = UNet.from_size("tiny", bins=8)
    batch = next(batches(0, 2, 32, 48))
    log_depth = torch.log(batch[1])

    def chamfer():
        with torch.no_grad():
            return float(bin_centre_loss(torch.log(model(batch[0], with_centres=True)[1]), log_depth))

    before = chamfer()
    losses = train(model, itertools.repeat(batch), 60, lr=1e-2)
    assert np.mean(losses[-5:]) < losses[0] / 5
    assert chamfer() < before / 5  # the bins moved onto the depths


def _bin_term(depth, centres, lam):
    return float(supervised_loss([depth], depth, lam=lam, centres=centres, bins_weight=1.0)
                 - supervised_loss([depth], depth, lam=lam))


def test_bin_centre_term_sees_the_depths_relative_to_their_geometric_mean_at_lambda_1():
    depth = torch.tensor([1.0, 2.0, 4.0, 4.0, 2.0, 0.0], dtype=torch.float64).view(1, 1, 2, 3)  # 0: invalid
    centres = torch.tensor([[1.0, 2.0, 4.0]], dtype=torch.float64)
    assert _bin_term(depth, centres, 0.5) == pytest.approx(0, abs=1e-12)  # metric: the depths themselves
    assert _bin_term(depth, centres / 2.0 ** 1.2, 1.0) == pytest.approx(0, abs=1e-12)  # geometric mean 2^1.2
    for lam in (0.5, 1.0):
        assert _bin_term(depth, 3 * centres, lam) > 0.1
    assert _bin_term(7 * depth, centres / 2.0 ** 1.2, 1.0) == pytest.approx(0, abs=1e-12)  # up to scale


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
    printed = capsys.readouterr()
    assert "evaluation: abs_rel" in printed.out
    assert "training steps: 2/2 (" in printed.err  # progress with its rate, on stderr
    est = learned.load_depth(out)
    assert est.output == "scale" and est.inverse is False
    assert est.meta["command"].startswith("python -m learned.depth.train --out")
    main(["--out", str(out), "--size", "tiny", "--mode", "views", "--steps", "1", "--batch-size", "1",
          "--height", "32", "--width", "32", "--val-images", "1", "--quiet"])
    printed = capsys.readouterr()
    assert "evaluation: abs_rel" in printed.out and "training steps" not in printed.err
    assert "--quiet" not in learned.load_depth(out).meta["command"]
    assert learned.load_depth(out).output == "metric"
    main(["--out", str(out), "--size", "tiny", "--bins", "4", "--steps", "2", "--batch-size", "1",
          "--height", "32", "--width", "32", "--lam", "1", "--val-images", "1"])
    est = learned.load_depth(out)
    assert est.model.config["bins"] == 4 and "--bins 4" in est.meta["command"]
    depth = est(np.random.default_rng(0).random((40, 44, 3)).astype(np.float32))
    assert depth.shape == (40, 44) and (depth > 0).all()
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x.pt"), "--size", "tiny", "--bins", "-2", "--steps", "1"])
    assert "bins: expected 0" in capsys.readouterr().err
