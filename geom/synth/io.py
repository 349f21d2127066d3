"""Write a rendered `Sequence` as an image folder with its ground truth.

Layout (the pipelines' output format, so the CLI runs on it as on a user's photos):

    frame_000.png ...              RGB images
    cameras.json                   image name -> K, R, t, width, height (`geom.io`)
    depth/frame_000.npy            float32 depth (camera z, inf where nothing is hit)
    labels/frame_000.png           uint8 body label (0 static background, b = bodies[b - 1])
    bodies.json                    {"world": ..., "bodies": [{"label", "shape", "size",
                                   "poses": {image name: {"R", "t"}}}]} (body -> world)
    flow/frame_000_frame_001.npy   float32 (H, W, 2) flow between consecutive frames
    flow/frame_000_frame_001_occluded.png   uint8 0/255 occlusion mask of that flow
    stereo.json, disparity/frame_000.npy    for a rectified stereo pair: baseline, left disparity

The folder appears complete or not at all: everything goes to a temporary sibling that is
renamed at the end.
"""
import json
from pathlib import Path

import cv2
import numpy as np

from ..io import output_folder, save_cameras_json
from .render import Sequence


def image_names(n_frames):
    """Image file names of a written sequence: frame_000.png, frame_001.png, ..."""
    return [f"frame_{f:03d}.png" for f in range(n_frames)]


def write_folder(sequence, folder, overwrite=False):
    """Write `sequence` to `folder` (see the module docstring); returns the folder's Path.

    Refuses (FileExistsError) to replace an existing `folder` unless `overwrite`; on any failure
    nothing is left behind and an existing folder is untouched."""
    if not isinstance(sequence, Sequence):
        raise ValueError(f"sequence: expected a rendered Sequence, got {type(sequence).__name__}")
    with output_folder(folder, overwrite) as tmp:
        _write(sequence, tmp)
    return Path(folder)


def _write(sequence, out):
    scene, frames = sequence.scene, sequence.frames
    names = image_names(len(frames))
    stems = [Path(n).stem for n in names]
    for sub in ("depth", "labels", "flow"):
        (out / sub).mkdir()
    for name, stem, frame in zip(names, stems, frames):
        _imwrite(out / name, frame.image[:, :, ::-1])
        np.save(out / "depth" / f"{stem}.npy", frame.depth)
        _imwrite(out / "labels" / f"{stem}.png", frame.labels)
    save_cameras_json(out / "cameras.json", {n: f.camera for n, f in zip(names, frames)})
    bodies = [{"label": b + 1, "shape": body.shape.kind, "size": list(body.shape.size),
               "poses": {n: {"R": body.R[f].tolist(), "t": body.t[f].tolist()}
                         for f, n in enumerate(names)}}
              for b, body in enumerate(scene.bodies)]
    (out / "bodies.json").write_text(json.dumps(
        {"world": "z up; a pose maps body to world coordinates: X_world = R X_body + t",
         "bodies": bodies}, indent=1))
    for i in range(len(frames) - 1):
        flow, occluded = sequence.flow(i, i + 1)
        np.save(out / "flow" / f"{stems[i]}_{stems[i + 1]}.npy", flow)
        _imwrite(out / "flow" / f"{stems[i]}_{stems[i + 1]}_occluded.png",
                 occluded.astype(np.uint8) * 255)
    if scene.baseline is not None:
        (out / "disparity").mkdir()
        np.save(out / "disparity" / f"{stems[0]}.npy", sequence.disparity())
        (out / "stereo.json").write_text(json.dumps(
            {"left": names[0], "right": names[1], "baseline": scene.baseline,
             "disparity": f"disparity/{stems[0]}.npy"}, indent=1))


def _imwrite(path, image):
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise OSError(f"{path}: could not write the image")
