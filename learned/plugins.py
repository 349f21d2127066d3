"""Plug-in interface: `load_flow`, `load_depth`, `available`.

A flow estimator is called as `flow = est(img1, img2)` and returns `(H, W, 2)` float32 pixels
from image 1 to image 2 (`img1[y, x] ~ img2[y + v, x + u]`). A depth estimator is called as
`depth = est(img)` and returns `(H, W)` float32; its attributes say what the numbers mean:
`output` is 'metric', 'scale' (up to a scale factor) or 'affine' (up to scale and shift), and
`inverse` is True when the map is inverse depth (disparity-like) rather than depth.
Images are `(H, W)` or `(H, W, 3)`, uint8 or float32 in [0, 1]; both images of a pair have the
same size; any size is accepted (networks pad to their stride inside and crop back). The
estimator classes of the networks are in `learned.estimators`.

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

from . import checkpoint
from .depth_anything import PREFIX as DEPTH_ANYTHING
from .estimators import NetworkDepth, NetworkFlow, default_device
from .images import check_pair, to_gray_uint8, to_uint8

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

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
# smallest image side each flow takes: below it OpenCV 4.x/5.x raises, hangs or crashes the
# process (DIS: a segmentation fault at 24x400; RLOF: at 48x48, and a hang at 1x1)
FLOW_MIN_SIDE = {"dis-ultrafast": 32, "dis-fast": 32, "dis-medium": 32, "rlof": 64}
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
        side = FLOW_MIN_SIDE.get(self.name, 1)
        if min(a.shape[:2]) < side:
            raise ValueError(f"flow {self.name!r} needs images of at least {side}x{side} pixels, "
                             f"got {a.shape[1]}x{a.shape[0]}")
        return np.ascontiguousarray(self._compute(a, b), dtype=np.float32)

    def __repr__(self):
        return f"OpenCVFlow({self.name!r})"


# ----------------------------------------------------------------------- our networks

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


def _networks(task, shipped):
    """Names of the project's `task` networks whose weights are (`shipped`) or are not present."""
    return [n for n, (t, file, _) in NETWORKS.items() if t == task and (WEIGHTS_DIR / file).is_file() == shipped]


def available():
    """Names `load_flow` / `load_depth` load now: `{'flow': [...], 'depth': [...]}` (OpenCV
    flows, the project's networks whose weights are present, entry points). The networks whose
    weights are not shipped yet are named by the error of an unknown name."""
    out = {}
    for task in ("flow", "depth"):
        names = list(OPENCV_FLOWS) if task == "flow" else []
        names += _networks(task, shipped=True)
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
    unshipped = _networks(task, shipped=False)
    later = f"; weights not shipped yet (load one for its training command): {', '.join(unshipped)}" if unshipped else ""
    raise ValueError(f"unknown {task} plug-in {name!r}; available: {', '.join(available()[task])} "
                     f"(or a weights file path, an .onnx file{extra}){later}")


def load_flow(name_or_path, device=None):
    """A flow estimator by name or weights path (see the module docstring); `device` for
    networks: default CUDA when available, else CPU."""
    return _load("flow", name_or_path, device)


def load_depth(name_or_path, device=None):
    """A depth estimator by name or weights path (see the module docstring)."""
    return _load("depth", name_or_path, device)
