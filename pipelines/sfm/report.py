"""`report.html`: one self-contained page (inline SVG plots, no external files) about a run."""
import base64
import html

import cv2
import numpy as np

from .evaluate import relative_pose_errors


def write_report(path, imgs, rec, timings, truth=None, previews=None, memory=None):
    """Write the report of `rec` (a `Reconstruction` of `imgs`) to `path`: summary, notes,
    camera layout (top view), reprojection error histogram, track lengths, per-image table,
    stage timings (dict stage -> seconds) with their peak memory (dict stage -> bytes, see
    `pipeline.Timer`), errors against `truth` (dict name -> Camera) and depth previews (dict
    name -> RGB uint8 image, embedded as PNG) when given."""
    errors = rec.reprojection_errors()
    parts = [f"<h1>mvdepth sfm: {html.escape(str(imgs.folder))}</h1>",
             f"<p>{len(rec.cameras)} of {len(rec.image_names)} images registered, "
             f"{len(rec.points)} points, {len(errors)} observations, reprojection error mean "
             f"{errors.mean():.3f} px, median {np.median(errors):.3f} px.</p>"]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in rec.notes]
    parts.append("<h2>Camera layout (top view)</h2>" + _layout_svg(rec))
    parts.append("<h2>Reprojection errors (px)</h2>" + _histogram_svg(errors, 30))
    lengths = rec.track_lengths
    parts.append("<h2>Track lengths (images per point)</h2>"
                 + _histogram_svg(lengths, np.arange(1.5, lengths.max() + 1.5)
                                  if len(lengths) else 10))
    if truth is not None:
        rot, trans = relative_pose_errors(rec.cameras, truth)
        if rot.size:
            parts.append("<h2>Errors against the ground truth (cameras.json beside the images)</h2>"
                         + html_table(["", "median (deg)", "max (deg)"],
                                  [["relative rotation", *_stats(rot)],
                                   ["relative translation direction", *_stats(trans)]]))
    counts = np.bincount(rec.obs_image, minlength=len(rec.image_names))
    rows = [[n, "yes" if n in rec.cameras else "no", int(counts[k]),
             f"{errors[rec.obs_image == k].mean():.3f}" if counts[k] else "-"]
            for k, n in enumerate(rec.image_names)]
    parts.append("<h2>Images</h2>" + html_table(["image", "registered", "points seen",
                                             "mean error (px)"], rows))
    if previews:
        parts.append("<h2>Depth maps</h2>" + "".join(
            f"<figure style='display:inline-block'><img width=240 src='data:image/png;base64,"
            f"{png64(img)}'><figcaption>{html.escape(n)}</figcaption></figure>"
            for n, img in previews.items()))
    memory = memory or {}
    parts.append("<h2>Timings</h2>" + html_table(
        ["stage", "seconds", "peak resident memory (MB)"],
        [[k, f"{v:.2f}", f"{memory[k] / 2 ** 20:.0f}" if k in memory else "-"]
         for k, v in timings.items()]))
    style = ("body{font-family:sans-serif;max-width:900px;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
             ".note{color:#a40}")
    path.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>mvdepth sfm</title>"
                    f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def png64(rgb):
    """(H, W, 3) uint8 RGB image -> base64 PNG text for an inline `data:image/png` source."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _stats(a):
    return (f"{np.degrees(np.median(a)):.3f}", f"{np.degrees(a.max()):.3f}") if a.size else ("-", "-")


def html_table(header, rows):
    """HTML table of `header` (list) and `rows` (lists of cells), every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _histogram_svg(values, bins, width=600, height=200):
    """Histogram of the finite `values`; a note says how many others were left out."""
    finite = np.isfinite(values)
    counts, edges = np.histogram(values[finite], bins=bins)
    top = max(int(counts.max()), 1) if counts.size else 1
    bw = width / max(len(counts), 1)
    bars = "".join(f"<rect x='{k * bw:.1f}' y='{height - 20 - c / top * (height - 30):.1f}' "
                   f"width='{bw * 0.9:.1f}' height='{c / top * (height - 30):.1f}' fill='#48c'>"
                   f"<title>{edges[k]:.3g}-{edges[k + 1]:.3g}: {c}</title></rect>"
                   for k, c in enumerate(counts))
    labels = (f"<text x='0' y='{height - 4}' font-size='11'>{edges[0]:.3g}</text>"
              f"<text x='{width}' y='{height - 4}' font-size='11' text-anchor='end'>"
              f"{edges[-1]:.3g}</text><text x='2' y='12' font-size='11'>max count {top}</text>")
    left_out = int((~finite).sum())
    note = f"<p class=note>{left_out} non-finite values left out</p>" if left_out else ""
    return svg(width, height, bars + labels) + note


def _layout_svg(rec, size=500):
    """Points (grey) and camera centres with viewing directions (red), seen from above: the
    plane orthogonal to the cameras' mean up direction (image -y)."""
    cams = [rec.cameras[n] for n in rec.image_names if n in rec.cameras]
    names = [n for n in rec.image_names if n in rec.cameras]
    C = np.array([c.center for c in cams])
    up = -np.mean([c.R[1] for c in cams], axis=0)
    up /= np.linalg.norm(up)
    a = np.linalg.svd(np.eye(3) - np.outer(up, up))[0][:, :2]  # basis of the ground plane
    pts = rec.points[np.all(np.abs(rec.points - np.median(rec.points, 0)) <=
                            5 * np.median(np.abs(rec.points - np.median(rec.points, 0)), 0) + 1e-9,
                            axis=1)] if len(rec.points) else np.zeros((0, 3))
    p2, c2 = pts @ a, C @ a
    every = np.concatenate([p2, c2])
    lo, hi = every.min(0), every.max(0)
    scale = (size - 40) / max((hi - lo).max(), 1e-12)

    def xy(v):
        return 20 + (v - lo) * scale

    out = [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='0.8' fill='#999'/>"
           for x, y in xy(p2[:: max(1, len(p2) // 3000)])]
    span = (hi - lo).max() * 0.06
    for c, n, cam in zip(c2, names, cams):
        x, y = xy(c)
        d = cam.R[2] @ a
        d = d / max(np.linalg.norm(d), 1e-12) * span * scale
        out.append(f"<line x1='{x:.1f}' y1='{y:.1f}' x2='{x + d[0]:.1f}' y2='{y + d[1]:.1f}' "
                   f"stroke='#c22'/><circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='#c22'>"
                   f"<title>{html.escape(n)}</title></circle>")
    return svg(size, size, "".join(out))


def svg(width, height, body):
    """Inline SVG element of the given size (pixels) around the markup `body`."""
    return f"<svg width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>{body}</svg>"
