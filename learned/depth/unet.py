"""U-Net encoder-decoder for dense depth with skip connections and multi-scale outputs,
optionally with an adaptive-bins head at the finest scale (AdaBins, Bhat et al. CVPR 2021).

Input `(B, 3, H, W)` float in [0, 1] with `H`, `W` divisible by `UNet.stride` = 2^len(widths-1);
output: a list of positive maps `(B, 1, H / 2^s, W / 2^s)` for `s = 0 .. scales-1`, finest first
(exp of the predicted log, so depth or inverse depth is always positive; what the map means is
decided by the training loss and recorded with the weights).
"""
import math
import numbers

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {
    "small": dict(widths=(32, 48, 64, 96, 128), scales=4),
    "compact": dict(widths=(16, 24, 32, 48, 64), scales=3),
    "tiny": dict(widths=(8, 12, 16), scales=2),
}


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ELU())


class UNet(nn.Module):
    """`widths[k]` channels at 1/2^k resolution; `scales` output heads on the finest levels.

    With `bins = n >= 2` the finest map comes from an adaptive-bins head (AdaBins): the image's
    bin widths come from the deepest features through global average pooling and a two-layer
    MLP (in place of the paper's mini-ViT), softmax-normalised over the fixed log range
    `log(bin_range)`; the finest decoder features give each pixel a softmax over the n bins, and
    its log map is the probability-weighted sum of the log bin centres. The coarser scales keep
    their plain heads. The range is fixed, as in the paper, and wide by default (four decades
    around 1): the learned widths place the bins anywhere inside it, so a learned range would
    add only a global scale, which the up-to-scale loss (lambda 1) leaves free to drift, while a
    fixed one keeps every map bounded. Unlike the paper, two more learned widths leave a margin
    below the first bin and above the last: bins that tile the whole range keep their end
    centres at least half the range apart, however narrow the image's depths. Log space gives
    every depth the same relative resolution, as the log losses measure it. `bins = 0`: plain
    heads at every scale.
    """

    arch, task = "unet", "depth"

    def __init__(self, widths=(32, 48, 64, 96, 128), scales=4, bins=0, bin_range=(0.01, 100.0)):
        super().__init__()
        if not 1 <= scales <= len(widths):
            raise ValueError(f"scales: expected 1..{len(widths)}, got {scales}")
        if not isinstance(bins, numbers.Integral) or isinstance(bins, bool) or bins < 0 or bins == 1:
            raise ValueError(f"bins: expected 0 (plain head) or an integer >= 2, got {bins!r}")
        if len(bin_range) != 2 or not 0 < bin_range[0] < bin_range[1] < math.inf:
            raise ValueError(f"bin_range: expected (low, high) with 0 < low < high finite, got {bin_range!r}")
        lo, hi = float(bin_range[0]), float(bin_range[1])
        self.config = dict(widths=tuple(widths), scales=scales, bins=int(bins), bin_range=(lo, hi))
        self.stride = 2 ** (len(widths) - 1)
        self.log_range = (math.log(lo), math.log(hi))
        self.down = nn.ModuleList([_block(3, widths[0])] +
                                  [_block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.up = nn.ModuleList([_block(b + a, a) for a, b in zip(widths[:-1], widths[1:])])
        # with bins, the finest head gives the n per-pixel bin logits instead of the log map
        self.heads = nn.ModuleList([nn.Conv2d(widths[s], bins if s == 0 and bins else 1, 3, padding=1)
                                    for s in range(scales)])
        self.bin_widths = nn.Sequential(nn.Linear(widths[-1], widths[-1]), nn.ELU(),
                                        nn.Linear(widths[-1], bins + 2)) if bins else None

    def _log_centres(self, deepest):
        """Log bin centres `(B, n)`, increasing, inside `log_range`, of the deepest features:
        the softmax of n + 2 widths partitions the range into a margin, the n bins and a margin."""
        w = torch.softmax(self.bin_widths(deepest.mean(dim=(2, 3))), dim=1)
        lo, hi = self.log_range
        return lo + (hi - lo) * (torch.cumsum(w, dim=1) - w / 2)[:, 1:-1]

    def forward(self, x, with_centres=False):
        """The list of maps; with `with_centres`, the pair (maps, bin centres `(B, n)` in the
        maps' units, increasing; None without bins)."""
        if x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise ValueError(f"x: expected (B, 3, H, W) with H, W divisible by {self.stride}, "
                             f"got {tuple(x.shape)}")
        skips = []
        y = 2 * x - 1
        for k, block in enumerate(self.down):
            y = block(y if k == 0 else F.max_pool2d(y, 2))
            skips.append(y)
        log_centres = None if self.bin_widths is None else self._log_centres(y)
        outs = []
        for level in range(len(self.up) - 1, -1, -1):
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = self.up[level](torch.cat([y, skips[level]], dim=1))
            if level < len(self.heads):
                h = self.heads[level](y)
                if level == 0 and log_centres is not None:
                    log = (torch.softmax(h, dim=1) * log_centres[:, :, None, None]).sum(1, keepdim=True)
                else:
                    log = h.clamp(-20, 20)
                outs.append(torch.exp(log))
        if not with_centres:
            return outs[::-1]
        return outs[::-1], None if log_centres is None else torch.exp(log_centres)

    @torch.no_grad()
    def rescale(self, factor):
        """Multiply every output map by `factor > 0`, in place: the plain heads' biases gain
        `log factor`, an adaptive-bins head's range is scaled (its config with it)."""
        if not factor > 0 or not math.isfinite(factor):
            raise ValueError(f"factor: expected a finite positive number, got {factor!r}")
        shift = math.log(factor)
        for s, head in enumerate(self.heads):
            if not (s == 0 and self.bin_widths is not None):
                head.bias += shift
        if self.bin_widths is not None:
            self.log_range = tuple(v + shift for v in self.log_range)
            self.config["bin_range"] = tuple(math.exp(v) for v in self.log_range)

    @classmethod
    def from_size(cls, size, **overrides):
        """The network of a named size (`SIZES`), with keyword `overrides` (e.g. `bins=16`)."""
        if size not in SIZES:
            raise ValueError(f"unknown UNet size {size!r}; known: {sorted(SIZES)}")
        return cls(**{**SIZES[size], **overrides})
