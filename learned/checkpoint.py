"""Save and load networks as a single file: architecture name, constructor config, metadata
(e.g. the command that trained it, what a depth output means) and the weights.

A network class has a class attribute `arch` (a key of `ARCHITECTURES`) and an attribute
`config`, the dict of keyword arguments it was built with.
"""
import importlib
from pathlib import Path

import torch

ARCHITECTURES = {"raft": "learned.flow.raft:RAFT", "unet": "learned.depth.unet:UNet"}
FORMAT = 1


def architecture(arch):
    """The network class registered under `arch`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    module, cls = ARCHITECTURES[arch].split(":")
    return getattr(importlib.import_module(module), cls)


def save(path, model, **meta):
    """Write `model` (weights + config) and JSON-like `meta` to `path` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "arch": model.arch, "config": dict(model.config),
                "meta": meta, "state_dict": state}, path)


def load(path, device="cpu"):
    """Read a file written by `save`: returns (model in eval mode on `device`, meta dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a readable torch weights file ({err})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not an mvdepth weights file (format {FORMAT})")
    model = architecture(ckpt["arch"])(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt["meta"]
