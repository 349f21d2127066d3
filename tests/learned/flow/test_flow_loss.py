import pytest
import torch

from learned.flow.loss import sequence_loss


def test_zero_for_exact_predictions():
    gt = torch.randn(2, 2, 8, 8)
    assert sequence_loss([gt, gt.clone()], gt) == 0


def test_weights_later_iterations_more():
    gt = torch.zeros(1, 2, 4, 4)
    flows = [torch.full_like(gt, 1.0), torch.full_like(gt, 2.0)]  # L1 per component: 1 then 2
    assert sequence_loss(flows, gt, gamma=0.5) == pytest.approx(0.5 * 1 + 1.0 * 2)


def test_valid_mask_and_max_flow():
    gt = torch.zeros(1, 2, 2, 2)
    gt[0, 0, 0, 0] = 1000.0  # above max_flow: ignored
    pred = torch.zeros_like(gt)
    pred[0, :, 1, 1] = 4.0  # a valid pixel with error 4 per component
    valid = torch.ones(1, 2, 2, dtype=torch.bool)
    assert sequence_loss([pred], gt, valid) == pytest.approx(4 * 2 / (3 * 2))
    valid[0, 1, 1] = False
    assert sequence_loss([pred], gt, valid) == 0


def test_no_predictions():
    with pytest.raises(ValueError, match="at least one prediction"):
        sequence_loss([], torch.zeros(1, 2, 2, 2))
