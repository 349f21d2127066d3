"""Stage outputs: `cameras.json`, a COLMAP model (text, or binary for names with spaces), a PLY
point cloud, all written into a folder that appears complete or not at all.

COLMAP puts the pixel origin at the top-left corner of the top-left pixel, half a pixel away
from the house convention (its centre): principal points and keypoints get +0.5 on the way out.
"""
import struct
from pathlib import Path

import numpy as np

from geom.io import save_cameras_json
from geom.rotation import quaternion_from_rotation


COLMAP_MODEL_IDS = {"SIMPLE_PINHOLE": 0, "PINHOLE": 1, "SIMPLE_RADIAL": 2}


def camera_params(model, K, k):
    """COLMAP's parameters of a camera `model` (a name of `COLMAP_MODEL_IDS`) from K (3, 3) and
    radial coefficient k, in COLMAP's corner pixel origin: SIMPLE_PINHOLE (f, cx, cy), PINHOLE
    (fx, fy, cx, cy), SIMPLE_RADIAL (f, cx, cy, k)."""
    cx, cy = K[0, 2] + 0.5, K[1, 2] + 0.5
    return {"SIMPLE_PINHOLE": (K[0, 0], cx, cy), "PINHOLE": (K[0, 0], K[1, 1], cx, cy),
            "SIMPLE_RADIAL": (K[0, 0], cx, cy, k)}[model]


def colmap_model(rec):
    """The COLMAP model of a `Reconstruction` as plain records, in COLMAP's corner pixel origin:
    cameras [(id, model name, width, height, params)] (`camera_params`; the model of the
    image's camera group, PINHOLE without one; one camera per distinct calibration, so a
    refined camera group is one camera),
    images [(id, qvec (4,), tvec (3,), camera id, name, xy (M, 2), point ids (M,))] and points
    [(id, xyz (3,), rgb (3,), mean error, image ids (L,), point2D indices (L,))]."""
    names = [n for n in rec.image_names if n in rec.cameras]
    image_id = np.zeros(len(rec.image_names), np.int64)
    image_id[[rec.image_names.index(n) for n in names]] = np.arange(1, len(names) + 1)
    point2d_index = np.empty(len(rec.obs_point), np.int64)  # an observation's place in its image
    model_of = {n: g["model"] for g in rec.camera_groups for n in g["images"]}
    camera_id, images = {}, []
    for k, name in enumerate(names, 1):
        cam = rec.cameras[name]
        model = model_of.get(name, "PINHOLE")
        key = (model, cam.width, cam.height,
               tuple(float(v) for v in camera_params(model, cam.K, rec.radial.get(name, 0.0))))
        c = camera_id.setdefault(key, len(camera_id) + 1)
        sel = np.flatnonzero(rec.obs_image == rec.image_names.index(name))
        point2d_index[sel] = np.arange(sel.size)
        images.append((k, quaternion_from_rotation(cam.R), cam.t, c, name, rec.obs_xy[sel] + 0.5,
                       rec.obs_point[sel] + 1))
    cameras = [(c, *key) for key, c in camera_id.items()]
    mean_err = np.bincount(rec.obs_point, rec.reprojection_errors(), len(rec.points)) / np.maximum(
        rec.track_lengths, 1)
    order = np.argsort(rec.obs_point, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(rec.track_lengths)])
    points = []
    for p in range(len(rec.points)):
        obs = order[bounds[p]:bounds[p + 1]]
        points.append((p + 1, rec.points[p], rec.colors[p], mean_err[p],
                       image_id[rec.obs_image[obs]], point2d_index[obs]))
    return cameras, images, points


def write_colmap(rec, folder):
    """COLMAP model of a `Reconstruction` in `folder` (created): text (cameras.txt, images.txt,
    points3D.txt), or binary (.bin) when an image name holds whitespace, which COLMAP's text
    format cannot hold. Returns the format written, "text" or "binary"."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = colmap_model(rec)
    if any(len(name.split()) != 1 or name != name.strip() for name in rec.image_names):
        _write_colmap_binary(folder, *model)
        return "binary"
    _write_colmap_text(folder, *model)
    return "text"


def _write_colmap_text(folder, cameras, images, points):
    (folder / "cameras.txt").write_text(
        "# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
        + "".join(f"{k} {model} {w} {h} {_numbers(params)}\n"
                  for k, model, w, h, params in cameras))
    (folder / "images.txt").write_text(
        "# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n# POINTS2D[] as (X, Y, POINT3D_ID)\n"
        + "".join(f"{k} {_numbers(q)} {_numbers(t)} {c} {name}\n"
                  + " ".join(f"{_numbers(p)} {i}" for p, i in zip(xy, ids)) + "\n"
                  for k, q, t, c, name, xy, ids in images))
    (folder / "points3D.txt").write_text(
        "# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
        + "".join(f"{k} {_numbers(X)} {c[0]} {c[1]} {c[2]} {_numbers([err])} "
                  + " ".join(f"{i} {j}" for i, j in zip(img, idx)) + "\n"
                  for k, X, c, err, img, idx in points))


def _write_colmap_binary(folder, cameras, images, points):
    """COLMAP's binary model (little-endian; model ids `COLMAP_MODEL_IDS`)."""
    with open(folder / "cameras.bin", "wb") as f:
        f.write(struct.pack("<Q", len(cameras)))
        for k, model, w, h, params in cameras:
            f.write(struct.pack(f"<IiQQ{len(params)}d", k, COLMAP_MODEL_IDS[model], w, h,
                                *params))
    with open(folder / "images.bin", "wb") as f:
        f.write(struct.pack("<Q", len(images)))
        for k, q, t, c, name, xy, ids in images:
            f.write(struct.pack("<I7dI", k, *q, *t, c) + name.encode() + b"\0")
            obs = np.empty(len(ids), [("x", "<f8"), ("y", "<f8"), ("id", "<u8")])
            obs["x"], obs["y"], obs["id"] = xy[:, 0], xy[:, 1], ids
            f.write(struct.pack("<Q", len(ids)) + obs.tobytes())
    with open(folder / "points3D.bin", "wb") as f:
        f.write(struct.pack("<Q", len(points)))
        for k, X, c, err, img, idx in points:
            f.write(struct.pack("<Q3d3BdQ", k, *X, *c, err, len(img)))
            f.write(np.stack([img, idx], 1).astype("<u4").tobytes())


def _numbers(values):
    """Space-separated shortest round-trip decimal forms."""
    return " ".join(repr(float(v)) for v in values)


def write_ply(path, points, colors):
    """Binary little-endian PLY of points (N, 3) with uint8 RGB colours (N, 3)."""
    points = np.asarray(points, np.float64)
    rec = np.empty(len(points), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                       ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    for k, name in enumerate("xyz"):
        rec[name] = points[:, k]
    for k, name in enumerate(("red", "green", "blue")):
        rec[name] = colors[:, k]
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(points)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n")
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(rec.tobytes())


def write_sparse(rec, folder):
    """cameras.json, sparse/ (COLMAP model, `write_colmap`) and points.ply of `rec` into
    `folder`; returns the COLMAP format written."""
    folder = Path(folder)
    save_cameras_json(folder / "cameras.json", rec.cameras)
    fmt = write_colmap(rec, folder / "sparse")
    write_ply(folder / "points.ply", rec.points, rec.colors)
    return fmt
