"""ONNX export of the project's networks and ONNX models as flow / depth plug-ins (onnxruntime).

An exported file takes images `(B, 3, H, W)` float32 in [0, 1] (inputs `image`, or `image1` and
`image2`) with `H`, `W` any multiples of the network's stride, and returns the final estimate
only: `depth (B, 1, H, W)` or `flow (B, 2, H, W)`. What the plug-in interface needs to run it
(task, stride, and for depth: output kind, inverse, working size) is stored as JSON in the
model's metadata under the key `mvdepth`. ONNX files from elsewhere that follow the same
input/output layout load too; without that metadata they are taken as stride 1, and a depth
model's map as 'affine' (up to scale and shift, the weakest claim) depth.

Needs the optional packages `onnx` and `onnxruntime` (`pip install mvdepth[onnx]`).
"""
import json
import warnings
from pathlib import Path

import torch

from .estimators import (DepthEstimator, FlowEstimator, NetworkDepth, NetworkFlow, check_depth_output,
                      default_device)

META_KEY = "mvdepth"
INSTALL_HINT = "pip install 'mvdepth[onnx]' (or: pip install onnx onnxruntime)"


def _import(module):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(f"ONNX support needs the package {module!r}: {INSTALL_HINT}") from err


class _Final(torch.nn.Module):
    """The network's final estimate only: the finest depth map, or the last flow."""

    def __init__(self, net):
        super().__init__()
        self.net, self.index = net, 0 if net.task == "depth" else -1

    def forward(self, *images):
        return self.net(*images)[self.index]


def export_onnx(model, path, opset=17, **meta):
    """Write `model` to the ONNX file `path` (parents created); returns the path.

    `model`: a network of this project (`learned.depth.unet.UNet`, `learned.flow.raft.RAFT`) or
    an estimator holding one (`load_depth('unet-synth')`, `NetworkFlow`), whose output kind,
    inverse flag and working size are then kept. `meta`: for a depth network, `output`
    ('metric', 'scale', 'affine'; default 'scale'), `inverse` and `working_size` (see
    `plugins.NetworkDepth`). The file accepts any batch and any sides divisible by the stride."""
    onnx = _import("onnx")
    if isinstance(model, NetworkDepth):
        meta = {"output": model.output, "inverse": model.inverse, "working_size": model.working_size, **meta}
        model = model.model
    elif isinstance(model, NetworkFlow):
        model = model.model
    if not isinstance(model, torch.nn.Module) or getattr(model, "task", None) not in ("depth", "flow"):
        raise ValueError(f"model: expected a depth or flow network of this project (UNet, RAFT) or an "
                         f"estimator holding one, got {type(model).__name__}")
    info = {"task": model.task, "arch": model.arch, "stride": int(model.stride)}
    if model.task == "depth":
        info.update(output=check_depth_output(meta.pop("output", "scale")),
                    inverse=bool(meta.pop("inverse", False)), working_size=meta.pop("working_size", None))
    if meta:
        raise ValueError(f"meta: unexpected keys {sorted(meta)} for a {model.task} network")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    example = torch.rand(1, 3, 8 * model.stride, 12 * model.stride, device=device)
    names = ["image"] if model.task == "depth" else ["image1", "image2"]
    out = "depth" if model.task == "depth" else "flow"
    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in names + [out]}
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():  # the traced shape checks are constant for valid inputs
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(_Final(model), tuple(example for _ in names), str(path), dynamo=False,
                              input_names=names, output_names=[out], dynamic_axes=axes,
                              opset_version=opset)
    finally:
        model.train(was_training)
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(info)
    onnx.save(proto, str(path))
    return path


def _session(path, device):
    ort = _import("onnxruntime")
    providers = ["CPUExecutionProvider"]
    if default_device(device).type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), providers=providers)
    except Exception as err:
        raise ValueError(f"{path}: not a readable ONNX model ({err})") from err
    meta = json.loads(session.get_modelmeta().custom_metadata_map.get(META_KEY, "{}"))
    return session, meta


def _run(session, *tensors):
    feeds = {i.name: t.detach().cpu().numpy() for i, t in zip(session.get_inputs(), tensors)}
    return torch.from_numpy(session.run(None, feeds)[0])


class OnnxFlow(FlowEstimator):
    """A flow model in an ONNX file (see the module docstring), run by onnxruntime."""

    def __init__(self, session, meta):
        self.session, self.meta = session, meta
        self.device, self.stride = torch.device("cpu"), int(meta.get("stride", 1))

    def _run(self, t1, t2):
        return _run(self.session, t1, t2)


class OnnxDepth(DepthEstimator):
    """A depth model in an ONNX file (see the module docstring), run by onnxruntime."""

    def __init__(self, session, meta):
        self.session, self.meta = session, meta
        self.device, self.stride = torch.device("cpu"), int(meta.get("stride", 1))
        self.output = check_depth_output(meta.get("output", "affine"))
        self.inverse = bool(meta.get("inverse", False))
        self.working_size = meta.get("working_size")

    def _run(self, t):
        out = _run(self.session, t)
        return out[:, None] if out.ndim == 3 else out


def load_onnx(path, task, device=None):
    """The `task` ('flow' or 'depth') estimator of the ONNX file `path`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: ONNX file not found")
    session, meta = _session(path, device)
    if meta.get("task", task) != task:
        raise ValueError(f"{path}: holds a {meta['task']} network, not a {task} network")
    return (OnnxFlow if task == "flow" else OnnxDepth)(session, meta)
