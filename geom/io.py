"""Output folders shared by the pipelines and `geom.synth`.

`cameras.json`: a JSON object mapping image file name -> {"K": 3x3 list, "R": 3x3 list,
"t": [3], "width": W, "height": H}, with the house convention `x_cam = R X + t`.
`output_folder`: a folder that appears complete or not at all, with a manifest of what mvdepth
wrote in it; `check_output` refuses, before any work, a folder that would put a user's files at
risk (mvdepth never deletes or replaces anything it did not write).
"""
import json
import os
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


MANIFEST = ".mvdepth-output"


def check_output(folder, overwrite=False, inputs=()):
    """Refuse, before any work, an output folder that would put files at risk; call it before
    spending time on what will be written there.

    folder: the output folder. It must not equal, contain or lie inside any of `inputs` (paths
    of files or folders read), nor be or contain the current folder, nor be a symbolic link
    (ValueError). An existing `folder` is refused unless `overwrite` (FileExistsError), and
    even then unless it is empty or mvdepth wrote it: it holds a manifest (`MANIFEST`) naming every file in it
    (ValueError naming the first stranger). Its nearest existing ancestor must be a folder we
    can write in, tested by creating and removing a probe folder (OSError)."""
    path = Path(folder)
    out = Path(os.path.realpath(path))
    for item in inputs:
        src = Path(os.path.realpath(item))
        if out == src:
            raise ValueError(f"{folder}: the output folder is an input ({item})")
        if out in src.parents:
            raise ValueError(f"{folder}: the output folder contains the input {item}")
        if src in out.parents:
            raise ValueError(f"{folder}: the output folder lies inside the input folder {item}")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise ValueError(f"{folder}: the output folder is or contains the current folder")
    if path.is_symlink():
        raise ValueError(f"{folder}: the output folder is a symbolic link (give its target)")
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{folder}: already exists (use --overwrite to replace it)")
        _check_written_by_mvdepth(path)
    _probe_writable(out.parent)


def _check_written_by_mvdepth(folder):
    """Raise ValueError unless `folder` is an empty folder or one whose manifest lists every
    file in it."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder: not replacing it")
    if not any(folder.iterdir()):
        return
    try:
        written = set(json.loads((folder / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{folder}: not an mvdepth output folder (no {MANIFEST} manifest): "
                         "not replacing it") from None
    for name in _files(folder):
        if name not in written and name != MANIFEST:
            raise ValueError(f"{folder}: holds {name.rstrip('/')}, which mvdepth did not write: "
                             "not replacing the folder")


def _files(folder):
    """Relative POSIX paths of every entry below `folder` (folders end in '/'), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found += [(rel / f).as_posix() for f in files]
        found += [(rel / d).as_posix() + ("" if (Path(root) / d).is_symlink() else "/")
                  for d in dirs]
    return sorted(found)


def _probe_writable(parent):
    """Raise OSError naming `parent` unless its nearest existing ancestor is a writable folder."""
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OSError(f"{existing}: not a folder, cannot hold the output")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mvdepth-probe.", dir=existing))
    except OSError as err:
        raise OSError(f"{existing}: cannot write the output here ({err.strerror})") from None


@contextmanager
def output_folder(folder, overwrite=False, inputs=()):
    """Yield a temporary sibling of `folder` to write into; on success it gets a manifest of its
    files (`MANIFEST`) and replaces `folder`, on failure it is removed and an existing `folder`
    is left untouched. `check_output` (with `overwrite`, `inputs`) runs before and again just
    before the replacement."""
    folder = Path(os.path.abspath(folder))
    check_output(folder, overwrite, inputs)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield tmp
        (tmp / MANIFEST).write_text(json.dumps({"written_by": "mvdepth", "files": _files(tmp)},
                                               indent=1))
        check_output(folder, overwrite, inputs)
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
