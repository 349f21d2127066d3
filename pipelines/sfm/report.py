"""`report.html` of `mvdepth sfm` / `two-view`: one self-contained page (`report_parts`)."""
import numpy as np

from pipelines import report_parts as parts

from ..depthmaps import depth_preview
from ..evaluate import relative_pose_errors
from .calibration import FOCAL_WEAK

KEYPOINT_RGB, TRACK_RGB = (150, 150, 150), (40, 220, 60)


def write_report(path, m, rec, timer, truth=None, depths=None):
    """Write the report of `rec` (a `Reconstruction` of the `pipeline.Matches` m) to `path`:
    summary and notes, 3D view, camera layout, per camera numbers and intrinsics, thumbnails
    with keypoints and track observations (beside the depth maps `depths`, dict name -> (H, W),
    when given), pair matrix, error and track-length histograms, errors against `truth` (dict
    name -> Camera), stage timings of `timer` (a `timing.Timer`)."""
    names, errors = rec.image_names, rec.reprojection_errors()
    finite = errors[np.isfinite(errors)]
    stats = _per_image(rec, errors)
    ids = {n: f"image-{k}" for k, n in enumerate(names)}
    cams = [(n, rec.cameras[n]) for n in names if n in rec.cameras]
    view = parts.scene_data(
        [{"name": n, "camera": c, "size": m.images.size, "image": ids[n],
          "stats": dict(zip(CAMERA_HEADER[1:], stats[n]))} for n, c in cams],
        rec.points, rec.colors)
    out = [f"<p>{len(rec.cameras)} of {len(names)} images registered, {len(rec.points)} points, "
           f"{len(errors)} observations, reprojection error mean {parts.number(_mean(finite))} "
           f"px, median {parts.number(np.median(finite) if finite.size else np.nan)} px"
           + (f" ({len(errors) - finite.size} not finite, left out)" if finite.size < len(errors)
              else "") + ".</p>",
           parts.notes(rec.notes),
           parts.section("3D view", parts.scene_view(view)),
           parts.section("Camera layout (plane of the camera centres' principal axes)",
                         parts.layout_svg(cams, rec.points)),
           parts.section("Cameras", parts.table(
               CAMERA_HEADER + ["intrinsics from"] + [h for h, _ in parts.INTRINSICS_COLUMNS],
               [[n, *stats[n], m.sources[k]] + [f(_K(rec, m, k)) for _, f in parts.INTRINSICS_COLUMNS]
                for k, n in enumerate(names)]))]
    if rec.camera_groups:
        out.append(parts.section("Intrinsics per camera group (start and refined)",
                                 _groups_table(m, rec)))
    columns = [("images with keypoints (grey) and track observations (green)", _thumbnails(m, rec))]
    if depths:
        columns.append(("beside them their depth maps", {n: parts.thumbnail(depth_preview(d)) for n, d in depths.items()}))
    out.append(parts.section("Depth maps beside the images" if depths else "Images",
                             parts.image_grid(names, columns, ids)))
    out.append(parts.section("Pair graph (matched pairs, verified inliers)", parts.pair_matrix(
        names, [tuple(p) for p in m.pairs], {(v.i, v.j): len(v.matches) for v in m.verified})))
    out.append(parts.section("Reprojection errors (px)", parts.histogram(errors, 30)))
    lengths = rec.track_lengths
    out.append(parts.section("Track lengths (images per point)", parts.histogram(
        lengths, np.arange(1.5, lengths.max() + 1.5) if len(lengths) else 10)))
    if truth is not None:
        rot, trans = relative_pose_errors(rec.cameras, truth)
        if rot.size:
            out.append(parts.section(
                "Errors against the ground truth (cameras.json beside the images)",
                parts.table(["", "median (deg)", "max (deg)"],
                            [["relative rotation", *_degrees(rot)],
                             ["relative translation direction", *_degrees(trans)]])))
    out.append(parts.section("Timings", parts.timings_table(timer)))
    parts.write_page(path, f"mvdepth sfm: {m.images.folder}", out)


CAMERA_HEADER = ["image", "registered", "points seen", "mean error (px)"]


def _groups_table(m, rec):
    """Per camera group: its images, model, start focal length (and its source), the refined
    focal length, radial coefficient and principal point with their standard deviations
    ("held": not refined), the distortion as a picture, and a warning where the focal length is
    weakly constrained."""
    rows = []
    for g in rec.camera_groups:
        k = rec.image_names.index(g["images"][0])
        f, (sd_f, sd_k, sd_cx, sd_cy) = g["K"][0, 0], g["std"]
        shown = ", ".join(g["images"][:3]) + (f" and {len(g['images']) - 3} more"
                                              if len(g["images"]) > 3 else "")
        rows.append([shown, g["model"], f"{parts.number(m.Ks[k][0, 0], '.1f')} ({m.sources[k]})",
                     parts.number(f, ".1f"),
                     "held" if np.isnan(sd_f) else parts.number(sd_f, ".2f"),
                     parts.number(g["radial"], ".4f"),
                     "held" if np.isnan(sd_k) else parts.number(sd_k, ".4f"),
                     f"{parts.number(g['K'][0, 2], '.1f')}, {parts.number(g['K'][1, 2], '.1f')}",
                     "held" if np.isnan(sd_cx) else
                     f"{parts.number(sd_cx, '.2f')}, {parts.number(sd_cy, '.2f')}",
                     "weakly constrained: pass --intrinsics" if sd_f > FOCAL_WEAK * f else ""])
    return parts.table(["images", "model", "start f (px, from)", "refined f (px)", "sd f (px)",
                        "k", "sd k", "cx, cy (px)", "sd cx, cy (px)", ""], rows) + "".join(
        parts.distortion_svg(g["images"][0] + (" ..." if len(g["images"]) > 1 else ""),
                             "SIMPLE_RADIAL", (g["K"][0, 0], g["K"][0, 2], g["K"][1, 2],
                                               g["radial"]), *m.images.size)
        for g in rec.camera_groups if g["radial"])


def _per_image(rec, errors):
    counts = np.bincount(rec.obs_image, minlength=len(rec.image_names))
    return {n: ["yes" if n in rec.cameras else "no", int(counts[k]),
                parts.number(_mean(errors[rec.obs_image == k])) if counts[k] else "-"]
            for k, n in enumerate(rec.image_names)}


def _mean(values):
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def _K(rec, m, k):
    name = rec.image_names[k]
    return rec.cameras[name].K if name in rec.cameras else m.Ks[k]


def _thumbnails(m, rec):
    return {n: parts.thumbnail(img, [(m.features[k].keypoints, KEYPOINT_RGB, 1),
                                     (rec.obs_xy[rec.obs_image == k], TRACK_RGB, 1)])
            for k, (n, img) in enumerate(zip(m.images.names, m.images.images))}


def _degrees(a):
    a = np.degrees(a[np.isfinite(a)])
    return (f"{np.median(a):.3f}", f"{a.max():.3f}") if a.size else ("-", "-")
