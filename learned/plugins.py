"""Plug-in interface: `load_flow`, `load_depth`, `available`.

A flow estimator is called as `flow = est(img1, img2)` and returns `(H, W, 2)` float32 pixels
from image 1 to image 2 (`img1[y, x] ~ img2[y + v, x + u]`). A depth estimator is called as
`depth = est(img)` and returns `(H, W)` float32; its attributes say what the numbers mean:
`output` is 'metric', 'scale' (up to a scale factor) or 'affine' (up to scale and shift), and
`inverse` is True when the map is inverse depth (disparity-like) rather than depth.
Images are `(H, W)` or `(H, W, 3)`, uint8 or float32 in [0, 1]; both images of a pair have the
same size; any size is accepted (networks pad to their stride inside and crop back).

Names resolve, in order, to: OpenCV's classical flows (`OPENCV_FLOWS`), the project's networks
with weights in `learned/weights/` (`NETWORKS`), Depth Anything models through `transformers`
(`depth-anything:<folder or cached hub id>`, `learned.depth_anything`), third-party plug-ins
registered under the entry-point groups `mvdepth.flow` / `mvdepth.depth` (the entry point is a
factory called as `factory(device=None)` that returns an estimator), an ONNX file (`.onnx`,
run by onnxruntime, `learned.onnx_io`), or a path to a weights file written by
`learned.checkpoint.save`.
"""
import os
from importlib.metadata import entry_points
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .images import check_image, check_pair, crop, pad_to_multiple, to_gray_uint8, to_rgb_tensor, to_uint8

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEPTH_OUTPUTS = ("metric", "scale", "affine")
DEPTH_ANYTHING = "depth-anything:"  # prefix of the Depth Anything plug-in names

# name -> (task, weights file in WEIGHTS_DIR, the command that trains it)
NETWORKS = {
    "raft-small": ("flow", "raft_small.pt",
                   "python -m learned.flow.train --size small --steps 100000 --batch-size 8 --workers 8 "
                   "--out learned/weights/raft_small.pt"),
    "unet-small": ("depth", "unet_small.pt",
                   "python -m learned.depth.train --size small --steps 50000 --batch-size 8 --workers 8 "
                   "--out learned/weights/unet_small.pt"),
    # trained on one CPU thread in ~50 min (learned/weights/README.md); depth up to scale
    "unet-synth": ("depth", "unet_synth.pt",
                   "OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m learned.depth.train --data scenes "
                   "--size compact --lam 1 --n-scenes 600 --steps 4000 --batch-size 8 --height 96 "
                   "--width 128 --val-images 32 --log-every 100 --save-every 500 --cache-dir /tmp/depthcache "
                   "--working-size 160 --out learned/weights/unet_synth.pt"),
}


def default_device(device=None):
    """`device` as a torch device; by default CUDA when torch sees a GPU, else the CPU."""
    return torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------------------------------- OpenCV flows

def _dis(preset):
    def compute(a, b):
        return cv2.DISOpticalFlow_create(preset).calc(to_gray_uint8(a), to_gray_uint8(b), None)
    return compute


def _farneback(a, b):
    return cv2.calcOpticalFlowFarneback(to_gray_uint8(a), to_gray_uint8(b), None, pyr_scale=0.5,
                                        levels=5, winsize=15, iterations=3, poly_n=5,
                                        poly_sigma=1.1, flags=0)


def _deepflow(a, b):
    return cv2.optflow.createOptFlow_DeepFlow().calc(to_gray_uint8(a), to_gray_uint8(b), None)


def _dual_tvl1(a, b):
    return cv2.optflow.DualTVL1OpticalFlow_create().calc(to_gray_uint8(a), to_gray_uint8(b), None)


def _rlof(a, b):
    def rgb(img):
        u = to_uint8(img)
        return np.ascontiguousarray(np.repeat(u[..., None], 3, axis=2) if u.ndim == 2 else u)
    return cv2.optflow.calcOpticalFlowDenseRLOF(rgb(a), rgb(b), None)


CONTRIB_FLOWS = ("deepflow", "dual-tvl1", "rlof")  # in cv2.optflow, from opencv-contrib-python
OPENCV_FLOWS = {
    "dis-ultrafast": _dis(cv2.DISOpticalFlow_PRESET_ULTRAFAST),
    "dis-fast": _dis(cv2.DISOpticalFlow_PRESET_FAST),
    "dis-medium": _dis(cv2.DISOpticalFlow_PRESET_MEDIUM),
    "farneback": _farneback,
    "deepflow": _deepflow,
    "dual-tvl1": _dual_tvl1,
    "rlof": _rlof,
}


class OpenCVFlow:
    """One of OpenCV's classical dense flows (CPU), by name."""

    def __init__(self, name):
        if name in CONTRIB_FLOWS and not hasattr(cv2, "optflow"):
            raise ImportError(f"flow {name!r} needs OpenCV's contrib modules (cv2.optflow): "
                              f"pip uninstall opencv-python && pip install opencv-contrib-python")
        self.name, self._compute = name, OPENCV_FLOWS[name]

    def __call__(self, img1, img2):
        a, b = check_pair(img1, img2)
        return np.ascontiguousarray(self._compute(a, b), dtype=np.float32)

    def __repr__(self):
        return f"OpenCVFlow({self.name!r})"


# ----------------------------------------------------------------------- our networks

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


def _from_checkpoint(path, task, device):
    model, meta = checkpoint.load(path, default_device(device))
    if model.task != task:
        raise ValueError(f"{path}: holds a {model.task} network ({model.arch}), not a {task} network")
    if task == "flow":
        return NetworkFlow(model, device, meta)
    return NetworkDepth(model, device, meta.get("output", "scale"), meta.get("inverse", False), meta,
                        meta.get("working_size"))


# ---------------------------------------------------------------------------- loading

def _entry_points(task):
    return {ep.name: ep for ep in entry_points(group=f"mvdepth.{task}")}


def available():
    """Names `load_flow` / `load_depth` accept: `{'flow': [...], 'depth': [...]}` (OpenCV
    flows, the project's networks whether or not their weights are present, entry points)."""
    out = {}
    for task in ("flow", "depth"):
        names = list(OPENCV_FLOWS) if task == "flow" else []
        names += [n for n, (t, _, _) in NETWORKS.items() if t == task]
        names += sorted(set(_entry_points(task)) - set(names))
        out[task] = names
    return out


def _load(task, name_or_path, device):
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"name_or_path: expected a plug-in name or a weights file path, "
                         f"got {type(name_or_path).__name__}")
    name = os.fspath(name_or_path)
    if task == "flow" and name in OPENCV_FLOWS:
        return OpenCVFlow(name)
    if name in NETWORKS and NETWORKS[name][0] == task:
        _, file, command = NETWORKS[name]
        path = WEIGHTS_DIR / file
        if not path.is_file():
            raise FileNotFoundError(f"weights of {name!r} not found: {path} is missing. "
                                    f"Train them with: {command}")
        return _from_checkpoint(path, task, device)
    if task == "depth" and name.startswith(DEPTH_ANYTHING):
        from .depth_anything import load_depth_anything
        return load_depth_anything(name[len(DEPTH_ANYTHING):], device)
    eps = _entry_points(task)
    if name in eps:
        return eps[name].load()(device=device)
    if Path(name).suffix == ".onnx":
        from .onnx_io import load_onnx
        return load_onnx(name, task, device)
    if Path(name).is_file():
        return _from_checkpoint(name, task, device)
    if Path(name).suffix in (".pt", ".pth"):
        raise FileNotFoundError(f"{name}: weights file not found")
    extra = f", {DEPTH_ANYTHING}<folder or hub id>" if task == "depth" else ""
    raise ValueError(f"unknown {task} plug-in {name!r}; available: {', '.join(available()[task])} "
                     f"(or a weights file path, an .onnx file{extra})")


def load_flow(name_or_path, device=None):
    """A flow estimator by name or weights path (see the module docstring); `device` for
    networks: default CUDA when available, else CPU."""
    return _load("flow", name_or_path, device)


def load_depth(name_or_path, device=None):
    """A depth estimator by name or weights path (see the module docstring)."""
    return _load("depth", name_or_path, device)
