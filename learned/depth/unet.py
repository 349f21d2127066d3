"""U-Net encoder-decoder for dense depth with skip connections and multi-scale outputs.

Input `(B, 3, H, W)` float in [0, 1] with `H`, `W` divisible by `UNet.stride` = 2^len(widths-1);
output: a list of positive maps `(B, 1, H / 2^s, W / 2^s)` for `s = 0 .. scales-1`, finest first
(exp of the predicted log, so depth or inverse depth is always positive; what the map means is
decided by the training loss and recorded with the weights).
"""
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
    """`widths[k]` channels at 1/2^k resolution; `scales` output heads on the finest levels."""

    arch, task = "unet", "depth"

    def __init__(self, widths=(32, 48, 64, 96, 128), scales=4):
        super().__init__()
        if not 1 <= scales <= len(widths):
            raise ValueError(f"scales: expected 1..{len(widths)}, got {scales}")
        self.config = dict(widths=tuple(widths), scales=scales)
        self.stride = 2 ** (len(widths) - 1)
        self.down = nn.ModuleList([_block(3, widths[0])] +
                                  [_block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.up = nn.ModuleList([_block(b + a, a) for a, b in zip(widths[:-1], widths[1:])])
        self.heads = nn.ModuleList([nn.Conv2d(widths[s], 1, 3, padding=1) for s in range(scales)])

    def forward(self, x):
        if x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise ValueError(f"x: expected (B, 3, H, W) with H, W divisible by {self.stride}, "
                             f"got {tuple(x.shape)}")
        skips = []
        y = 2 * x - 1
        for k, block in enumerate(self.down):
            y = block(y if k == 0 else F.max_pool2d(y, 2))
            skips.append(y)
        outs = []
        for level in range(len(self.up) - 1, -1, -1):
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = self.up[level](torch.cat([y, skips[level]], dim=1))
            if level < len(self.heads):
                outs.append(torch.exp(self.heads[level](y).clamp(-20, 20)))
        return outs[::-1]

    @classmethod
    def from_size(cls, size, **overrides):
        if size not in SIZES:
            raise ValueError(f"unknown UNet size {size!r}; known: {sorted(SIZES)}")
        return cls(**{**SIZES[size], **overrides})
