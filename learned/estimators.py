"""The estimator classes behind the plug-ins (`learned.plugins`): a flow estimator is called as
`est(img1, img2) -> (H, W, 2)`, a depth estimator as `est(img) -> (H, W)` with `output`
('metric', 'scale' or 'affine') and `inverse` saying what the map means. The bases pad to the
network's stride (and resize to a working size) inside, so any image size is accepted.
"""
import torch
import torch.nn.functional as F

from .images import check_image, check_pair, crop, pad_to_multiple, to_rgb_tensor

DEPTH_OUTPUTS = ("metric", "scale", "affine")


def default_device(device=None):
    """`device` as a torch device; by default CUDA when torch sees a GPU, else the CPU."""
    return torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")


class FlowEstimator:
    """Base of the flow estimators that run a network on padded `(1, 3, H, W)` tensors: a
    subclass sets `device` and `stride` and implements `_run(t1, t2) -> (1, 2, H, W)`."""

    @torch.no_grad()
    def __call__(self, img1, img2):
        a, b = check_pair(img1, img2)
        t1, size = pad_to_multiple(to_rgb_tensor(a, self.device), self.stride)
        t2, _ = pad_to_multiple(to_rgb_tensor(b, self.device), self.stride)
        return crop(self._run(t1, t2), size)[0].permute(1, 2, 0).float().cpu().numpy()


class NetworkFlow(FlowEstimator):
    """A flow network of this project (e.g. `learned.flow.raft.RAFT`) in inference mode."""

    def __init__(self, model, device=None, meta=None):
        self.device = default_device(device)
        self.model, self.meta = model.to(self.device).eval(), dict(meta or {})
        self.stride = model.stride

    def _run(self, t1, t2):
        return self.model(t1, t2)[-1]


class DepthEstimator:
    """Base of the depth estimators that run a network on `(1, 3, H, W)` tensors in [0, 1]; a
    subclass sets `device`, `stride`, `working_size`, `output`, `inverse` and implements
    `_run(t) -> (1, 1, H, W)` on sides divisible by `stride`. With `working_size` (pixels), the
    image is resized to the area of a `working_size` square (aspect kept: a wide image keeps
    enough rows), and the map resized back."""

    def _predict(self, t):
        full = t.shape[-2:]
        s = self.working_size / (full[0] * full[1]) ** 0.5 if self.working_size else 1.0
        if abs(s - 1) > 1e-3:
            t = F.interpolate(t, size=(max(1, round(full[0] * s)), max(1, round(full[1] * s))),
                              mode="bilinear", align_corners=False, antialias=True)
        padded, size = pad_to_multiple(t, self.stride)
        out = crop(self._run(padded), size)
        if out.shape[-2:] != full:
            out = F.interpolate(out, size=full, mode="bilinear", align_corners=False)
        return out

    @torch.no_grad()
    def __call__(self, img):
        return self._predict(to_rgb_tensor(check_image(img), self.device))[0, 0].float().cpu().numpy()

    @torch.no_grad()
    def with_uncertainty(self, img):
        """Flip consistency: `(depth, uncertainty)`, both `(H, W)` float32. `depth` is the mean
        of the predictions for the image and for its mirror image (flipped back); `uncertainty`
        is their relative disagreement `|a - b| / (a + b)`, in [0, 1] (0 where both are 0)."""
        t = to_rgb_tensor(check_image(img), self.device)
        a, b = self._predict(t), self._predict(t.flip(-1)).flip(-1)
        depth, unc = (a + b) / 2, (a - b).abs() / (a + b).clamp_min(1e-12)
        return depth[0, 0].float().cpu().numpy(), unc[0, 0].float().cpu().numpy()


def check_depth_output(output):
    """`output` if it is one of `DEPTH_OUTPUTS`, else a ValueError."""
    if output not in DEPTH_OUTPUTS:
        raise ValueError(f"output: expected one of {DEPTH_OUTPUTS}, got {output!r}")
    return output


class NetworkDepth(DepthEstimator):
    """A depth network of this project (e.g. `learned.depth.unet.UNet`) in inference mode;
    `output` and `inverse` say what its map means (see the module docstring), `working_size`
    the image size it runs at (`DepthEstimator`; None: the image's own size)."""

    def __init__(self, model, device=None, output="scale", inverse=False, meta=None, working_size=None):
        self.output, self.inverse = check_depth_output(output), bool(inverse)
        self.device = default_device(device)
        self.model, self.meta = model.to(self.device).eval(), dict(meta or {})
        self.stride, self.working_size = model.stride, working_size

    def _run(self, t):
        return self.model(t)[0]
