import numpy as np
import pytest

from learned.depth.metrics import align_scale_shift, depth_metrics


def test_by_hand():
    m = depth_metrics(np.array([[2.0, 2.0]]), np.array([[1.0, 2.0]]))
    assert m["abs_rel"] == pytest.approx(0.5)
    assert m["sq_rel"] == pytest.approx(0.5)
    assert m["rmse"] == pytest.approx(np.sqrt(0.5))
    assert m["rmse_log"] == pytest.approx(np.log(2) / np.sqrt(2))
    assert m["delta1"] == pytest.approx(0.5) and m["delta2"] == pytest.approx(0.5)
    assert m["delta3"] == pytest.approx(0.5)  # 1.25^3 = 1.95 < 2
    assert m["si_log"] == pytest.approx(np.log(2) / 2)


@pytest.mark.parametrize("pred_of_gt, align", [
    (lambda g: 3.0 * g, "median"),
    (lambda g: 3.0 * g + 1.0, "scale-shift"),
    (lambda g: 2.0 / g + 0.5, "inverse-scale-shift"),
])
def test_alignment_recovers_exact_predictions(pred_of_gt, align):
    gt = np.random.default_rng(0).uniform(1, 10, (6, 8))
    m = depth_metrics(pred_of_gt(gt), gt, align=align)
    assert m["abs_rel"] < 1e-9 and m["rmse"] < 1e-8 and m["delta1"] == 1
    assert depth_metrics(pred_of_gt(gt), gt)["abs_rel"] > 0.4  # unaligned it is wrong


def test_si_log_ignores_scale_and_mask_restricts():
    gt = np.random.default_rng(1).uniform(1, 10, (5, 5))
    assert depth_metrics(7 * gt, gt)["si_log"] == pytest.approx(0, abs=1e-12)
    pred = gt.copy()
    pred[0] = 100.0
    mask = np.ones_like(gt, bool)
    mask[0] = False
    assert depth_metrics(pred, gt, mask)["abs_rel"] == 0
    gt[1] = 0  # no ground truth there
    assert depth_metrics(np.where(gt > 0, gt, 50.0), gt)["rmse"] == 0


def test_align_scale_shift_least_squares():
    p = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(align_scale_shift(p, np.array([1.0, 3.0, 5.0])), [1, 3, 5])


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"pred and gt: expected two \(H, W\)"):
        depth_metrics(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="align: expected one of"):
        depth_metrics(np.ones((2, 2)), np.ones((2, 2)), align="mean")
    with pytest.raises(ValueError, match="fewer than 2 valid pixels"):
        depth_metrics(np.ones((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 2\)"):
        depth_metrics(np.ones((2, 2)), np.ones((2, 2)), np.ones(3, bool))
