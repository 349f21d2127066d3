"""Stage outputs: `cameras.json`, a COLMAP text model, a PLY point cloud, all written into a
folder that appears complete or not at all.

COLMAP puts the pixel origin at the top-left corner of the top-left pixel, half a pixel away
from the house convention (its centre): principal points and keypoints get +0.5 on the way out.
"""
from pathlib import Path

import cv2
import numpy as np

from geom.io import save_cameras_json
from geom.rotation import quaternion_from_rotation


def write_colmap_text(rec, folder):
    """COLMAP text model of a `Reconstruction`: cameras.txt (one PINHOLE camera per registered
    image), images.txt, points3D.txt in `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [n for n in rec.image_names if n in rec.cameras]
    image_id = {rec.image_names.index(n): k + 1 for k, n in enumerate(names)}
    errors = rec.reprojection_errors()
    # per image, its observations in order: (POINT2D_IDX) -> point id
    point2d_index = np.empty(len(rec.obs_point), np.int64)
    lines_cam, lines_img = [], []
    for k, name in enumerate(names, 1):
        cam = rec.cameras[name]
        K = cam.K
        lines_cam.append(f"{k} PINHOLE {cam.width} {cam.height} "
                         + _numbers([K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5]))
        sel = np.flatnonzero(rec.obs_image == rec.image_names.index(name))
        point2d_index[sel] = np.arange(sel.size)
        q = quaternion_from_rotation(cam.R)
        lines_img.append(f"{k} {_numbers(q)} {_numbers(cam.t)} {k} {name}")
        lines_img.append(" ".join(f"{_numbers(xy + 0.5)} {p + 1}"
                                  for xy, p in zip(rec.obs_xy[sel], rec.obs_point[sel])))
    mean_err = np.bincount(rec.obs_point, errors, len(rec.points)) / np.maximum(
        rec.track_lengths, 1)
    order = np.argsort(rec.obs_point, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(rec.track_lengths)])
    lines_pts = []
    for p in range(len(rec.points)):
        obs = order[bounds[p]:bounds[p + 1]]
        track = " ".join(f"{image_id[i]} {j}" for i, j in zip(rec.obs_image[obs], point2d_index[obs]))
        X, c = rec.points[p], rec.colors[p]
        lines_pts.append(f"{p + 1} {_numbers(X)} {c[0]} {c[1]} {c[2]} "
                         f"{_numbers([mean_err[p]])} {track}")
    (folder / "cameras.txt").write_text(
        "# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n" + "\n".join(lines_cam) + "\n")
    (folder / "images.txt").write_text(
        "# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n# POINTS2D[] as (X, Y, POINT3D_ID)\n"
        + "\n".join(lines_img) + "\n")
    (folder / "points3D.txt").write_text(
        "# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
        + "\n".join(lines_pts) + "\n")


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


def write_depths(folder, depths, preview):
    """`folder/<image stem>.npy` (float32 depth, NaN: none) and `<image stem>.png` (`preview`
    of the depth, RGB) for each image name -> depth (H, W) of `depths`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, depth in depths.items():
        stem = Path(name).stem
        np.save(folder / f"{stem}.npy", depth.astype(np.float32))
        if not cv2.imwrite(str(folder / f"{stem}.png"), preview(depth)[:, :, ::-1]):
            raise OSError(f"{folder / stem}.png: could not write the image")


def write_sparse(rec, folder):
    """cameras.json, sparse/ (COLMAP text) and points.ply of `rec` into `folder`."""
    folder = Path(folder)
    save_cameras_json(folder / "cameras.json", rec.cameras)
    write_colmap_text(rec, folder / "sparse")
    write_ply(folder / "points.ply", rec.points, rec.colors)
