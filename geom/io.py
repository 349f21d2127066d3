"""Output folders shared by the pipelines and `geom.synth`.

`cameras.json`: a JSON object mapping image file name -> {"K": 3x3 list, "R": 3x3 list,
"t": [3], "width": W, "height": H}, with the house convention `x_cam = R X + t`.
`output_folder`: a folder that appears complete or not at all.
"""
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .camera import Camera


def save_cameras_json(path, cameras):
    """Write `cameras` (dict image name -> `Camera` with a known image size) to `path`."""
    out = {}
    for name, cam in cameras.items():
        if not isinstance(cam, Camera) or cam.width is None:
            raise ValueError(f"cameras[{name!r}]: expected a Camera with a known image size")
        out[str(name)] = {"K": cam.K.tolist(), "R": cam.R.tolist(), "t": cam.t.tolist(),
                          "width": cam.width, "height": cam.height}
    Path(path).write_text(json.dumps(out, indent=1))


def load_cameras_json(path):
    """Read a `cameras.json` -> dict image name -> `Camera`; a malformed file raises ValueError
    naming the file and the entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping image names to cameras")
    cameras = {}
    for name, entry in data.items():
        try:
            cameras[name] = Camera(np.array(entry["K"], float), np.array(entry["R"], float),
                                   np.array(entry["t"], float), entry["width"], entry["height"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: camera {name!r}: {err!r} "
                             "(expected K, R, t, width, height)") from err
    return cameras


def check_output(folder, overwrite=False):
    """Raise FileExistsError when `folder` exists and `overwrite` is false: call it before
    spending time on what will be written there."""
    if Path(folder).exists() and not overwrite:
        raise FileExistsError(f"{folder}: already exists (use --overwrite to replace it)")


@contextmanager
def output_folder(folder, overwrite=False):
    """Yield a temporary sibling of `folder` to write into; on success it replaces `folder`, on
    failure it is removed and an existing `folder` is left untouched. Refuses an existing
    `folder` unless `overwrite` (FileExistsError)."""
    folder = Path(folder)
    check_output(folder, overwrite)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
            folder.rename(old / folder.name)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
