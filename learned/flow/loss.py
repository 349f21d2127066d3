"""Training loss of the recurrent flow network."""


def sequence_loss(flows, target, valid=None, gamma=0.8, max_flow=400.0):
    """RAFT's sequence loss: `sum_i gamma^(N-1-i) mean |flows[i] - target|_1` over the N
    iterations, on pixels that are `valid (B, H, W)` and whose true flow is below `max_flow`.

    `flows`: list of `(B, 2, H, W)`; `target`: `(B, 2, H, W)`. Returns a scalar tensor."""
    if not flows:
        raise ValueError("flows: expected at least one prediction")
    mag = target.norm(dim=1)
    mask = mag < max_flow
    if valid is not None:
        mask = mask & valid.bool()
    mask = mask[:, None].to(target.dtype)
    denom = (mask.sum() * 2).clamp_min(1.0)
    n = len(flows)
    return sum(gamma ** (n - 1 - i) * ((f - target).abs() * mask).sum() / denom
               for i, f in enumerate(flows))
