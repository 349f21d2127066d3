import numpy as np
import pytest

from learned.flow.metrics import endpoint_error, epe, fl_all, forward_backward_consistency


def test_epe_by_hand():
    gt = np.zeros((2, 3, 2))
    flow = gt + [3.0, 4.0]
    assert epe(flow, gt) == pytest.approx(5.0)
    valid = np.zeros((2, 3), bool)
    valid[0, 0] = True
    flow[0, 0] = [0.0, 1.0]
    assert epe(flow, gt, valid) == pytest.approx(1.0)
    assert np.isnan(endpoint_error(flow, gt, valid)[1, 1])


def test_fl_all_needs_both_3px_and_5_percent():
    gt = np.zeros((1, 3, 2))
    gt[0, :, 0] = [100.0, 10.0, 10.0]
    flow = gt.copy()
    flow[0, :, 1] = [4.0, 4.0, 2.0]  # 4 px < 5% of 100; 4 px > 3 and > 0.5; 2 px < 3
    assert fl_all(flow, gt) == pytest.approx(1 / 3)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        epe(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="valid: no pixel"):
        epe(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"valid: expected shape \(4, 4\)"):
        fl_all(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), np.ones((4, 5), bool))


def test_forward_backward_consistency():
    fwd = np.zeros((10, 12, 2), np.float32)
    fwd[..., 0], fwd[..., 1] = 2.0, 1.0
    err, ok = forward_backward_consistency(fwd, -fwd)
    assert ok[:8, :9].all() and err[:8, :9].max() < 1e-5
    assert not ok[:, 10:].any() and np.isinf(err[:, 10:]).all()  # lands outside image 2
    err, ok = forward_backward_consistency(fwd, fwd)  # backward flow in the wrong direction
    assert not ok.any() and err[:8, :9] == pytest.approx(np.sqrt(20))
