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
from pipelines import export
from pipelines import report_parts as parts
from pipelines.depthmaps import depth_preview, write_depths
from pipelines.evaluate import depth_absrel

from . import evaluate

PALETTE = np.array([[150, 150, 150], [230, 60, 50], [40, 160, 70], [50, 100, 230],
                    [240, 170, 20], [170, 60, 200], [20, 190, 200], [240, 110, 180]], np.uint8)


def body_color(b):
    """RGB uint8 colour of body b (0 grey background)."""
    return PALETTE[b % len(PALETTE)]


def reference_view(result):
    """The first registered view: the bodies' motions are expressed from it."""
    return next(k for k, name in enumerate(result.names) if name in result.cameras)


def body_world_motion(result, body, view):
    """(R, t) moving body `body` from its place at the reference view to its place at `view`,
    world coordinates (`X(view) = R X(ref) + t`, t None when unscaled), or None when unknown."""
    r = reference_view(result)
    if result.names[view] not in result.cameras:
        return None
    if view == r or body == 0:
        return np.eye(3), np.zeros(3)
    mo = result.motions.get((min(r, view), max(r, view), body))
    if mo is None:
        return None
    A, a = (mo.R, mo.t) if r < view else mo.inverse()
    cam_r, cam_v = result.cameras[result.names[r]], result.cameras[result.names[view]]
    R = cam_v.R.T @ A @ cam_r.R
    if not np.isfinite(mo.scale):
        return R, None
    return R, cam_v.R.T @ (A @ cam_r.t + mo.scale * a - cam_v.t)


def body_points(result, body):
    """World points (N, 3) of `body` at the reference view (background: the sparse model)."""
    if body == 0:
        return result.background.points
    r = reference_view(result)
    cam = result.cameras[result.names[r]]
    X = [mo.points * mo.scale if i == r else
         (mo.points * mo.scale) @ mo.R.T + mo.scale * mo.t
         for (i, j, b), mo in result.motions.items()
         if b == body and r in (i, j) and np.isfinite(mo.scale)]
    if not X:
        return np.zeros((0, 3))
    return (np.concatenate(X) - cam.t) @ cam.R


def write_output(folder, imgs, result, timer, truth=None, sources=None):
    """Write the files of the module docstring into `folder` (an existing, empty folder);
    timer, sources: for the report (`write_report`)."""
    names = result.names
    save_cameras_json(folder / "cameras.json",
                      {n: result.cameras[n] for n in names if n in result.cameras})
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
    write_depths(folder / "depth", depths)
    pts = [body_points(result, b) for b in range(result.segmentation.n_bodies)]
    export.write_ply(folder / "points.ply", np.concatenate(pts),
                     np.concatenate([np.repeat(body_color(b)[None], len(p), 0)
                                     for b, p in enumerate(pts)]))
    write_report(folder / "report.html", imgs, result, timer, truth, sources)


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


def body_paths(result):
    """Per scaled moving body, ("body b", its centroid's positions over the images (K, 3), RGB)."""
    paths = []
    for b in range(1, result.segmentation.n_bodies):
        P = body_points(result, b)
        if len(P):
            c = np.median(P, axis=0)
            ms = [body_world_motion(result, b, k) for k in range(len(result.names))]
            path = [R @ c + t for R, t in (m for m in ms if m is not None and m[1] is not None)]
            if path:
                paths.append((f"body {b}", np.array(path), body_color(b)))
    return paths


def write_report(path, imgs, result, timer, truth=None, sources=None):
    """`report.html` of a `MultiBodyResult`: bodies table, notes, 3D view (background points in
    their colours, the bodies' points and trajectories in theirs), layout with trajectories,
    per camera numbers, segmentation overlays beside the depth maps, pair matrix, errors against
    `truth` (an `evaluate.Truth`), timings of `timer` (a `Timer`). sources: per image where its
    intrinsics came from."""
    seg, names = result.segmentation, imgs.names
    sources = sources or ["-"] * len(names)
    rows = [[b, "background" if b == 0 else "moving", int(seg.support[b]),
             "yes" if b == 0 or result.body_scaled(b) else "NO (see notes)"]
            for b in range(seg.n_bodies)]
    ids = {n: f"image-{k}" for k, n in enumerate(names)}
    cams = [(n, result.cameras[n]) for n in names if n in result.cameras]
    bg = result.background
    bodies = [body_points(result, b) for b in range(1, seg.n_bodies)]
    points = np.concatenate([bg.points] + bodies)
    colours = np.concatenate([bg.colors] + [np.repeat(body_color(b)[None], len(p), 0)
                                            for b, p in enumerate(bodies, 1)])
    stats = {n: {"keypoints": str(len(result.features[k].keypoints)),
                 "in a body": str(int((seg.keypoint_bodies[k] >= 0).sum())),
                 "intrinsics from": sources[k]} for k, n in enumerate(names)}
    paths = body_paths(result)
    view = parts.scene_data([{"name": n, "camera": c, "size": imgs.size, "image": ids[n],
                              "stats": stats[n]} for n, c in cams], points, colours, paths)
    out = [f"<p>{len(names)} images, {seg.n_bodies} bodies, depth plug-in: "
           f"{html.escape(str(result.depth_plugin))}.</p>",
           parts.table(["body", "kind", "matches", "scaled"], rows), parts.notes(result.notes),
           parts.section("3D view (background, bodies and their trajectories in their colours)",
                         parts.scene_view(view)),
           parts.section("Trajectories (plane of the camera centres' principal axes)",
                         parts.layout_svg(cams, bg.points, paths)),
           parts.section("Cameras", parts.table(
               ["image", "registered", "keypoints", "in a body", "intrinsics from"]
               + [h for h, _ in parts.INTRINSICS_COLUMNS],
               [[n, "yes" if n in result.cameras else "no", stats[n]["keypoints"],
                 stats[n]["in a body"], sources[k]]
                + [f(result.cameras[n].K) if n in result.cameras else "-"
                   for _, f in parts.INTRINSICS_COLUMNS]
                for k, n in enumerate(names)]))]
    overlays, depths = {}, {}
    for k, n in enumerate(names):
        labels = result.dense[k][1] if k in result.dense else np.full(imgs.images[k].shape[:2], -1)
        overlays[n] = parts.thumbnail(overlay(imgs.images[k], labels, result.features[k].keypoints,
                                              seg.keypoint_bodies[k]))
        if k in result.dense:
            depths[n] = parts.thumbnail(depth_preview(result.dense[k][0]))
    out.append(parts.section("Segmentation and depth maps", parts.image_grid(
        names, [("segmentation (dense labels blended, keypoints dotted)", overlays),
                ("beside it the depth map", depths)], ids)))
    counts = {p: sum(len(m) for m in bs.values()) for p, bs in seg.pair_bodies.items()}
    out.append(parts.section("Pair graph (matches in a body's motion)", parts.pair_matrix(
        names, list(counts), {p: c for p, c in counts.items() if c}, "matches")))
    if truth is not None:
        out.append(parts.section("Errors against the ground truth beside the images",
                                 _truth_table(result, truth)))
    out.append(parts.section("Timings", parts.timings_table(timer)))
    parts.write_page(path, f"mvdepth multibody: {imgs.folder}", out)


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
    return parts.table(["measure", "value"], rows)
