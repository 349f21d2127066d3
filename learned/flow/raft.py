"""RAFT-style optical flow network (Teed & Deng, ECCV 2020), written from the paper.

Feature and context encoders at 1/8 resolution, an all-pairs correlation volume with a pyramid
of `corr_levels` levels looked up within `corr_radius`, a ConvGRU update operator iterated
`iters` times, and convex upsampling of the 1/8 flow to full resolution.

Input images `(B, 3, H, W)` float in [0, 1] with `H`, `W` divisible by 8 (`RAFT.stride`);
output: a list of full-resolution flows `(B, 2, H, W)` (pixels, image 1 -> image 2), the last
being the estimate: one per iteration in training mode, only the last one in eval mode.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..warp import pixel_grid, sample

SIZES = {
    # 0.79 M parameters (RAFT-small: 0.99 M), cheaper update operator (hidden state 64)
    "small": dict(widths=(32, 64, 96), feature_dim=128, hidden_dim=64, context_dim=64,
                  corr_levels=4, corr_radius=3, iters=12),
    # for tests: tens of thousands of parameters
    "tiny": dict(widths=(8, 12, 16), feature_dim=16, hidden_dim=16, context_dim=8,
                 corr_levels=2, corr_radius=2, iters=3),
}


class BottleneckBlock(nn.Module):
    """Residual bottleneck (1x1 reduce to a quarter, 3x3 with `stride`, 1x1 expand), as in
    RAFT-small's encoders: a quarter of the cost of a plain 3x3 residual block."""

    def __init__(self, cin, cout, norm, stride):
        super().__init__()
        mid = max(cout // 4, 1)
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1), _norm(norm, mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride, 1), _norm(norm, mid), nn.ReLU(),
            nn.Conv2d(mid, cout, 1), _norm(norm, cout))
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride), _norm(norm, cout))

    def forward(self, x):
        return F.relu((x if self.down is None else self.down(x)) + self.body(x))


def _norm(kind, c):
    return nn.InstanceNorm2d(c) if kind == "instance" else nn.BatchNorm2d(c)


class Encoder(nn.Module):
    """Image `(B, 3, H, W)` -> features `(B, out_dim, H/8, W/8)`: a 7x7 stride-2 stem and three
    stages of two bottleneck blocks (strides 1, 2, 2)."""

    def __init__(self, widths, out_dim, norm):
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 7, 2, 3), _norm(norm, w0), nn.ReLU())
        stages, cin = [], w0
        for w, s in zip(widths, (1, 2, 2)):
            stages += [BottleneckBlock(cin, w, norm, s), BottleneckBlock(w, w, norm, 1)]
            cin = w
        self.stages = nn.Sequential(*stages)
        self.out = nn.Conv2d(w2, out_dim, 1)

    def forward(self, x):
        return self.out(self.stages(self.stem(x)))


class CorrPyramid:
    """All-pairs correlation of two feature maps `(B, D, h, w)`, pooled into `levels` levels;
    `lookup(coords)` samples a `(2r+1)^2` window around `coords (B, 2, h, w)` (pixels of the
    1/8 grid in image 2) at every level: `(B, levels (2r+1)^2, h, w)`."""

    def __init__(self, f1, f2, levels, radius):
        b, d, h, w = f1.shape
        corr = torch.einsum("bdi,bdj->bij", f1.reshape(b, d, -1), f2.reshape(b, d, -1)) / d ** 0.5
        corr = corr.reshape(b * h * w, 1, h, w)
        self.pyramid = [corr]
        for _ in range(levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.pyramid.append(corr)
        self.radius = radius
        r = torch.arange(-radius, radius + 1, device=f1.device, dtype=f1.dtype)
        dy, dx = torch.meshgrid(r, r, indexing="ij")
        self.delta = torch.stack([dx, dy]).reshape(1, 2, 2 * radius + 1, 2 * radius + 1)

    def lookup(self, coords):
        b, _, h, w = coords.shape
        centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 2, 1, 1)
        out = []
        for level, corr in enumerate(self.pyramid):
            window = centre / 2 ** level + self.delta
            out.append(sample(corr, window).reshape(b, h, w, -1))
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


class ConvGRU(nn.Module):
    def __init__(self, hidden, inp):
        super().__init__()
        self.convz = nn.Conv2d(hidden + inp, hidden, 3, padding=1)
        self.convr = nn.Conv2d(hidden + inp, hidden, 3, padding=1)
        self.convq = nn.Conv2d(hidden + inp, hidden, 3, padding=1)

    def forward(self, h, x):
        hx = torch.cat([h, x], dim=1)
        z, r = torch.sigmoid(self.convz(hx)), torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class UpdateBlock(nn.Module):
    """Motion encoder (correlation + current flow), ConvGRU, flow-delta head and the convex
    upsampling mask head (`64 * 9` weights per 1/8 pixel)."""

    def __init__(self, corr_channels, hidden, context):
        super().__init__()
        m = hidden + 16
        self.convc = nn.Conv2d(corr_channels, m, 1)
        self.convf1 = nn.Conv2d(2, m // 2, 7, padding=3)
        self.convf2 = nn.Conv2d(m // 2, m // 4, 3, padding=1)
        self.conv = nn.Conv2d(m + m // 4, m - 2, 3, padding=1)
        self.gru = ConvGRU(hidden, m + context)
        self.flow_head = nn.Sequential(nn.Conv2d(hidden, 2 * hidden, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(2 * hidden, 2, 3, padding=1))
        self.mask_head = nn.Sequential(nn.Conv2d(hidden, 2 * hidden, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(2 * hidden, 64 * 9, 1))

    def forward(self, h, context, corr, flow, with_mask=True):
        c = F.relu(self.convc(corr))
        f = F.relu(self.convf2(F.relu(self.convf1(flow))))
        motion = torch.cat([F.relu(self.conv(torch.cat([c, f], dim=1))), flow], dim=1)
        h = self.gru(h, torch.cat([context, motion], dim=1))
        return h, self.flow_head(h), 0.25 * self.mask_head(h) if with_mask else None


def convex_upsample(flow, mask):
    """Flow `(B, 2, h, w)` at 1/8 -> `(B, 2, 8h, 8w)`: each fine pixel is a convex combination
    (softmax of `mask (B, 64*9, h, w)`) of the 3x3 coarse neighbours, times 8."""
    b, _, h, w = flow.shape
    mask = torch.softmax(mask.view(b, 1, 9, 8, 8, h, w), dim=2)
    nb = F.unfold(8 * flow, 3, padding=1).view(b, 2, 9, 1, 1, h, w)
    up = (mask * nb).sum(dim=2).permute(0, 1, 4, 2, 5, 3)
    return up.reshape(b, 2, 8 * h, 8 * w)


class RAFT(nn.Module):
    """RAFT-style flow network; `RAFT.from_size('small')` or explicit config keywords."""

    arch, task = "raft", "flow"
    stride = 8

    def __init__(self, widths=(32, 64, 96), feature_dim=128, hidden_dim=64, context_dim=64,
                 corr_levels=4, corr_radius=3, iters=12):
        super().__init__()
        self.config = dict(widths=tuple(widths), feature_dim=feature_dim, hidden_dim=hidden_dim,
                           context_dim=context_dim, corr_levels=corr_levels,
                           corr_radius=corr_radius, iters=iters)
        self.hidden_dim, self.iters = hidden_dim, iters
        self.corr_levels, self.corr_radius = corr_levels, corr_radius
        self.fnet = Encoder(widths, feature_dim, "instance")
        self.cnet = Encoder(widths, hidden_dim + context_dim, "batch")
        self.update = UpdateBlock(corr_levels * (2 * corr_radius + 1) ** 2, hidden_dim, context_dim)

    @classmethod
    def from_size(cls, size, **overrides):
        if size not in SIZES:
            raise ValueError(f"unknown RAFT size {size!r}; known: {sorted(SIZES)}")
        return cls(**{**SIZES[size], **overrides})

    def forward(self, image1, image2, iters=None, all_iterations=None):
        """Flows `(B, 2, H, W)` after each update iteration (`all_iterations`, the default while
        training, for the sequence loss) or after the last one only (default in eval mode:
        the convex upsampling then runs once)."""
        all_iterations = self.training if all_iterations is None else all_iterations
        if image1.shape != image2.shape or image1.shape[-1] % 8 or image1.shape[-2] % 8:
            raise ValueError(f"images: expected two (B, 3, H, W) tensors with H, W divisible by 8, "
                             f"got {tuple(image1.shape)} and {tuple(image2.shape)}")
        x1, x2 = 2 * image1 - 1, 2 * image2 - 1
        f1, f2 = self.fnet(torch.cat([x1, x2])).chunk(2)
        corr = CorrPyramid(f1, f2, self.corr_levels, self.corr_radius)
        h, context = torch.split(self.cnet(x1), [self.hidden_dim, self.config["context_dim"]], dim=1)
        h, context = torch.tanh(h), F.relu(context)
        b, _, hh, ww = f1.shape
        coords0 = pixel_grid(b, hh, ww, f1.device, f1.dtype)
        coords1 = coords0.clone()
        flows, n = [], iters or self.iters
        for i in range(n):
            coords1 = coords1.detach()
            h, delta, mask = self.update(h, context, corr.lookup(coords1), coords1 - coords0,
                                         with_mask=all_iterations or i == n - 1)
            coords1 = coords1 + delta
            if mask is not None:
                flows.append(convex_upsample(coords1 - coords0, mask))
        return flows
