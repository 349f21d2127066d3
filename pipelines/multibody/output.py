"""Stage 6: the output folder of `mvdepth multibody`.

    cameras.json          per image K, R, t (the static background defines the cameras)
    bodies.json           per body: support, scaled or not and why, per image its motion since
                          the reference image in world coordinates (`X(image) = R X(ref) + t`,
                          t null when the body is unscaled) and the pairwise motions
    labels/<stem>.png     body id per pixel (uint8, 255: unknown)
    depth/<stem>.npy      float32 depth (NaN unknown) and depth/<stem>.png preview
    points.ply            background points and the bodies' points at the reference image,
                          coloured by body
    report.html           segmentation over the images, trajectories, depth maps, timings, and
                          errors against the ground truth when the synthetic writer's files
                          (cameras.json, labels/, depth/, bodies.json) sit beside the images
"""
import html
import json

import cv2
import numpy as np

from geom.io import save_cameras_json
from pipelines.sfm import export
from pipelines.sfm.dense import depth_preview
from pipelines.sfm.evaluate import depth_absrel
from pipelines.sfm.report import png64, svg, html_table

from . import evaluate

PALETTE = np.array([[150, 150, 150], [230, 60, 50], [40, 160, 70], [50, 100, 230],
                    [240, 170, 20], [170, 60, 200], [20, 190, 200], [240, 110, 180]], np.uint8)


def body_color(b):
    """RGB uint8 colour of body b (0 grey background)."""
    return PALETTE[b % len(PALETTE)]


def reference_view(result):
    """The first registered view: the bodies' motions are expressed from it."""
    return next(k for k, c in enumerate(result.cameras) if c is not None)


def body_world_motion(result, body, view):
    """(R, t) moving body `body` from its place at the reference view to its place at `view`,
    world coordinates (`X(view) = R X(ref) + t`, t None when unscaled), or None when unknown."""
    r = reference_view(result)
    cams = result.cameras
    if cams[view] is None:
        return None
    if view == r or body == 0:
        return np.eye(3), np.zeros(3)
    mo = result.motions.get((min(r, view), max(r, view), body))
    if mo is None:
        return None
    A, a = (mo.R, mo.t) if r < view else mo.inverse()
    R = cams[view].R.T @ A @ cams[r].R
    if not np.isfinite(mo.scale):
        return R, None
    return R, cams[view].R.T @ (A @ cams[r].t + mo.scale * a - cams[view].t)


def body_points(result, body):
    """World points (N, 3) of `body` at the reference view (background: the sparse model)."""
    if body == 0:
        return result.background.points
    r = reference_view(result)
    cam = result.cameras[r]
    X = [mo.points * mo.scale if i == r else
         (mo.points * mo.scale) @ mo.R.T + mo.scale * mo.t
         for (i, j, b), mo in result.motions.items()
         if b == body and r in (i, j) and np.isfinite(mo.scale)]
    if not X:
        return np.zeros((0, 3))
    return (np.concatenate(X) - cam.t) @ cam.R


def write_output(folder, imgs, result, timings, truth=None):
    """Write the files of the module docstring into `folder` (an existing, empty folder)."""
    names = result.names
    save_cameras_json(folder / "cameras.json",
                      {n: c for n, c in zip(names, result.cameras) if c is not None})
    bodies = []
    for b in range(result.segmentation.n_bodies):
        motions = {}
        for k, n in enumerate(names):
            m = body_world_motion(result, b, k)
            if m is not None:
                motions[n] = {"R": m[0].tolist(), "t": None if m[1] is None else m[1].tolist()}
        pairs = [{"images": [names[i], names[j]], "R": mo.R.tolist(), "t": mo.t.tolist(),
                  "scale": mo.scale if np.isfinite(mo.scale) else None, "matches": len(mo.matches),
                  "note": mo.note} for (i, j, bb), mo in sorted(result.motions.items()) if bb == b]
        bodies.append({"body": b, "background": b == 0,
                       "matches": int(result.segmentation.support[b]),
                       "scaled": b == 0 or result.body_scaled(b), "motions": motions,
                       "pairs": pairs})
    (folder / "bodies.json").write_text(json.dumps(
        {"reference": names[reference_view(result)], "depth_plugin": result.depth_plugin,
         "notes": result.notes, "bodies": bodies}, indent=1))
    (folder / "labels").mkdir()
    depths = {}
    for k, (depth, labels, _) in result.dense.items():
        stem = names[k].rsplit(".", 1)[0]
        cv2.imwrite(str(folder / "labels" / f"{stem}.png"),
                    np.where(labels >= 0, labels, 255).astype(np.uint8))
        depths[names[k]] = depth
    export.write_depths(folder / "depth", depths, depth_preview)
    pts = [body_points(result, b) for b in range(result.segmentation.n_bodies)]
    export.write_ply(folder / "points.ply", np.concatenate(pts),
                     np.concatenate([np.repeat(body_color(b)[None], len(p), 0)
                                     for b, p in enumerate(pts)]))
    write_report(folder / "report.html", imgs, result, timings, truth)


def overlay(image, labels, keypoints, keypoint_bodies):
    """The image with the dense body labels blended in and the keypoints dotted by body."""
    out = image.astype(np.float32)
    sel = labels >= 0
    out[sel] = 0.55 * out[sel] + 0.45 * PALETTE[labels[sel] % len(PALETTE)]
    out = out.astype(np.uint8)
    for (x, y), b in zip(keypoints, keypoint_bodies):
        if b >= 0:
            cv2.circle(out, (int(round(x)), int(round(y))), 2, body_color(b).tolist(), -1)
    return out


def trajectories_svg(result, size=500):
    """Top view (the plane orthogonal to the cameras' mean up direction): camera centres
    (black) and each scaled body's centroid path over the images, in its colour."""
    cams = [c for c in result.cameras if c is not None]
    up = -np.mean([c.R[1] for c in cams], axis=0)
    up /= np.linalg.norm(up)
    basis = np.linalg.svd(np.eye(3) - np.outer(up, up))[0][:, :2]
    paths = [("cameras", np.array([c.center for c in cams]), np.array([0, 0, 0]))]
    for b in range(1, result.segmentation.n_bodies):
        P = body_points(result, b)
        if len(P):
            c = np.median(P, axis=0)
            ms = [body_world_motion(result, b, k) for k in range(len(result.names))]
            path = [R @ c + t for R, t in (m for m in ms if m is not None and m[1] is not None)]
            paths.append((f"body {b}", np.array(path), body_color(b)))
    every = np.concatenate([p for _, p, _ in paths]) @ basis
    lo, hi = every.min(0), every.max(0)
    scale = (size - 40) / max((hi - lo).max(), 1e-12)
    out = []
    for name, p, col in paths:
        xy = 20 + (p @ basis - lo) * scale
        colour = f"rgb({col[0]},{col[1]},{col[2]})"
        out.append(f"<polyline fill='none' stroke='{colour}' points='"
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "'/>")
        out += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'><title>"
                f"{html.escape(name)}, image {k}</title></circle>" for k, (x, y) in enumerate(xy)]
    return svg(size, size, "".join(out))


def write_report(path, imgs, result, timings, truth=None):
    """`report.html` of a `MultiBodyResult`: bodies table, notes, segmentation overlays,
    trajectories, depth maps, errors against `truth` (an `evaluate.Truth`), timings."""
    seg = result.segmentation
    rows = [[b, "background" if b == 0 else "moving", int(seg.support[b]),
             "yes" if b == 0 or result.body_scaled(b) else "NO (see notes)"]
            for b in range(seg.n_bodies)]
    parts = [f"<h1>mvdepth multibody: {html.escape(str(imgs.folder))}</h1>",
             f"<p>{len(imgs.names)} images, {seg.n_bodies} bodies, depth plug-in: "
             f"{html.escape(str(result.depth_plugin))}.</p>",
             html_table(["body", "kind", "matches", "scaled"], rows)]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in result.notes]
    figs = []
    for k, n in enumerate(imgs.names):
        labels = result.dense[k][1] if k in result.dense else np.full(imgs.images[k].shape[:2], -1)
        img = overlay(imgs.images[k], labels, result.features[k].keypoints,
                      seg.keypoint_bodies[k])
        figs.append(_figure(img, n))
    parts.append("<h2>Segmentation (dense labels blended, keypoints dotted)</h2>" + "".join(figs))
    parts.append("<h2>Trajectories (top view)</h2>" + trajectories_svg(result))
    parts.append("<h2>Depth maps</h2>" + "".join(
        _figure(depth_preview(d[0]), imgs.names[k]) for k, d in result.dense.items()))
    if truth is not None:
        parts.append("<h2>Errors against the ground truth beside the images</h2>"
                     + _truth_table(result, truth))
    parts.append("<h2>Timings</h2>" + html_table(["stage", "seconds"],
                                             [[k, f"{v:.2f}"] for k, v in timings.items()]))
    style = ("body{font-family:sans-serif;max-width:1000px;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
             ".note{color:#a40}")
    path.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>mvdepth multibody"
                    f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _figure(rgb, caption):
    return (f"<figure style='display:inline-block'><img width=300 src='data:image/png;base64,"
            f"{png64(rgb)}'><figcaption>{html.escape(caption)}</figcaption></figure>")


def _truth_table(result, truth):
    mapping = evaluate.body_labels(result, truth)
    kp = evaluate.keypoint_misclassification(result, truth, mapping)
    rows = [["keypoint misclassification", f"{kp:.3f}"]]
    if result.dense:
        err, cover = evaluate.pixel_misclassification(result, truth, mapping)
        rows.append(["pixel misclassification (labelled pixels)",
                     f"{err:.3f} ({cover:.0%} labelled)"])
        depths = {result.names[k]: d[0] for k, d in result.dense.items()}
        absrel = depth_absrel(depths, truth,
                                       {n: truth.labels[n] == 0 for n in depths})
        rows += [[f"depth AbsRel ({'all pixels' if key == 'all' else f'true body {key}'})",
                  f"{e:.3f} ({c:.0%} with a depth)"] for key, (e, c) in absrel.items()]
    for (i, j, b), (rot, sc) in sorted(evaluate.motion_errors(result, truth, mapping).items()):
        rows.append([f"body {b} (true {mapping.get(b)}), images {i}-{j}: rotation error (deg), "
                     f"relative scale error",
                     f"{np.degrees(rot):.3f}, " + ("-" if not np.isfinite(sc) else f"{sc:.3f}")])
    return html_table(["measure", "value"], rows)
