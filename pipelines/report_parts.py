"""Building blocks of the `report.html` pages of `mvdepth sfm` and `mvdepth multibody`.

A page is one self-contained HTML file: inline SVG plots, images as JPEG data URIs and a 3D
view drawn by our own WebGL script (`report_view.js`, inlined), nothing fetched. Every part
takes odd values (non-finite numbers, no points, no cameras) and says what it cannot draw.
"""
import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np

from geom import camera_models

MAX_VIEW_POINTS = 50_000  # the 3D view shows a random subset of larger clouds
THUMB_WIDTH = 320
STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 8px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
         "td{text-align:right}td:first-child{text-align:left}.note{color:#a40}"
         "figure{display:inline-block;margin:4px}figcaption{font-size:12px}"
         ".view{display:flex;gap:8px}#view3d{border:1px solid #ccc;cursor:grab;flex:none}"
         "#view3d-info{font-size:13px;min-width:0}#view3d-info img{width:100%}")
VIEW_SCRIPT = Path(__file__).with_name("report_view.js")


def write_page(path, title, parts):
    """Write the page `title` made of the HTML strings `parts` to `path`."""
    Path(path).write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8><title>"
                          f"{html.escape(title)}</title><style>{STYLE}</style></head><body>"
                          f"<h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>")


def section(title, body):
    return f"<h2>{html.escape(title)}</h2>{body}"


def notes(lines):
    return "".join(f"<p class=note>{html.escape(n)}</p>" for n in lines)


def table(header, rows):
    """HTML table of `header` (list) and `rows` (lists of cells), every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def number(x, fmt=".3f"):
    """`x` formatted, or a dash / 'nan' / 'inf' for what is missing or not finite."""
    if x is None:
        return "-"
    return format(x, fmt) if np.isfinite(x) else str(float(x))


def svg(width, height, body):
    """Inline SVG element of the given size (pixels) around the markup `body`."""
    return f"<svg width='{width}' height='{height}'>{body}</svg>"


def histogram(values, bins, width=600, height=200):
    """SVG histogram of the finite `values` (`bins` as `np.histogram`), saying how many were
    left out as not finite; a sentence instead when none is finite."""
    values = np.asarray(values, np.float64).ravel()
    finite = values[np.isfinite(values)]
    left_out = values.size - finite.size
    note = (f"<p class=note>{left_out} of {values.size} values not finite, left out</p>"
            if left_out else "")
    if not finite.size:
        return note + "<p>no finite values to draw</p>"
    counts, edges = np.histogram(finite, bins=bins)
    top = max(int(counts.max()), 1)
    bw = width / len(counts)
    bars = "".join(f"<rect x='{k * bw:.1f}' y='{height - 20 - c / top * (height - 30):.1f}' "
                   f"width='{bw * 0.9:.1f}' height='{c / top * (height - 30):.1f}' fill='#48c'>"
                   f"<title>{edges[k]:.3g}-{edges[k + 1]:.3g}: {c}</title></rect>"
                   for k, c in enumerate(counts))
    labels = (f"<text x='0' y='{height - 4}' font-size='11'>{edges[0]:.3g}</text>"
              f"<text x='{width}' y='{height - 4}' font-size='11' text-anchor='end'>"
              f"{edges[-1]:.3g}</text><text x='2' y='12' font-size='11'>max count {top}</text>")
    return note + svg(width, height, bars + labels)


def layout_plane(centers, points=(), up=None):
    """(origin (3,), basis (3, 2)): the plane of the two principal axes of the camera centres
    (SVD), of the centres and `points` together when the centres are (nearly) collinear; the
    plane's normal turned towards `up` (seen from above) when given."""
    C = np.asarray(centers, np.float64).reshape(-1, 3)
    X = C if len(C) >= 3 else np.zeros((0, 3))
    s = np.linalg.svd(X - X.mean(0), compute_uv=False) if len(X) else np.zeros(3)
    if len(X) < 3 or s[1] <= 1e-3 * s[0]:
        P = np.asarray(points, np.float64).reshape(-1, 3)
        X = np.concatenate([C, P[np.isfinite(P).all(1)]])
    if not len(X):
        return np.zeros(3), np.eye(3)[:, :2]
    origin = X.mean(0)
    basis = np.linalg.svd(X - origin)[2][:2].T if len(X) > 1 else np.eye(3)[:, :2]
    if basis.shape[1] < 2:  # one point, or all equal
        basis = np.eye(3)[:, :2]
    if up is not None and np.cross(basis[:, 0], basis[:, 1]) @ up < 0:
        basis = basis * [1, -1]
    return origin, basis


def layout_svg(cameras, points=(), paths=(), size=500):
    """Top view in the plane of `layout_plane`: grey `points` (N, 3), camera centres with their
    viewing directions (red; `cameras`: list of (name, `Camera`)) and `paths` (list of (name,
    (K, 3) positions, RGB)), each a polyline of dots."""
    if not cameras:
        return "<p>no registered camera: nothing to draw</p>"
    C = np.array([c.center for _, c in cameras])
    up = -np.mean([c.R[1] for _, c in cameras], axis=0)
    P = robust_subset(points)
    origin, basis = layout_plane(C, P, up)
    every = np.concatenate([C, P] + [p for _, p, _ in paths]) - origin
    flat = every @ basis
    lo, hi = flat.min(0), flat.max(0)
    scale = (size - 40) / max((hi - lo).max(), 1e-12)

    def xy(X):  # y grows downwards on screen
        v = (np.asarray(X, np.float64).reshape(-1, 3) - origin) @ basis
        return np.stack([20 + (v[:, 0] - lo[0]) * scale, size - 20 - (v[:, 1] - lo[1]) * scale], 1)

    out = [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='0.8' fill='#999'/>"
           for x, y in xy(P[:: max(1, len(P) // 3000)])]
    span = (hi - lo).max() * 0.06
    for (name, cam), (x, y) in zip(cameras, xy(C)):
        d = xy(cam.center + cam.R[2] * span)[0]
        out.append(f"<line x1='{x:.1f}' y1='{y:.1f}' x2='{d[0]:.1f}' y2='{d[1]:.1f}' "
                   f"stroke='#c22'/><circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='#c22'>"
                   f"<title>{html.escape(name)}</title></circle>")
    for name, p, rgb in paths:
        colour = "rgb({},{},{})".format(*map(int, rgb))
        pts = xy(p)
        out.append(f"<polyline fill='none' stroke='{colour}' points='"
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "'/>")
        out += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'><title>"
                f"{html.escape(name)}, position {k}</title></circle>" for k, (x, y) in enumerate(pts)]
    return svg(size, size, "".join(out))


def distortion_svg(title, model, params, width, height, size=200, lines=9):
    """A figure of the image's grid as the lens bends it: straight lines of the undistorted
    pinhole image (grey) and where `model` with `params` (`geom.camera_models`) puts them
    (blue), captioned `title` and the largest displacement in pixels."""
    K = camera_models.calibration_matrix(model, params)
    t = np.linspace(0.0, 1.0, 33)
    polylines = [np.c_[t * (width - 1), np.full_like(t, v * (height - 1))]
                 for v in np.linspace(0, 1, lines)]
    polylines += [np.c_[np.full_like(t, u * (width - 1)), t * (height - 1)]
                  for u in np.linspace(0, 1, lines)]
    scale = size / max(width, height)
    out, largest = [], 0.0
    for straight in polylines:
        rays = np.c_[straight, np.ones(len(straight))] @ np.linalg.inv(K).T
        bent = camera_models.project(model, params, rays)
        largest = max(largest, float(np.nanmax(np.hypot(*(bent - straight).T))))
        for line, colour in ((straight, "#bbb"), (bent, "#2060c0")):
            pts = " ".join(f"{x * scale:.1f},{y * scale:.1f}" for x, y in line if np.isfinite(x))
            out.append(f"<polyline points='{pts}' fill='none' stroke='{colour}'/>")
    body = svg(round(width * scale), round(height * scale), "".join(out))
    return (f"<figure>{body}<figcaption>{html.escape(title)}: largest displacement "
            f"{largest:.1f} px</figcaption></figure>")


def robust_subset(points):
    """The finite points (N, 3) within 5 median absolute deviations of the median per axis."""
    P = np.asarray(points, np.float64).reshape(-1, 3)
    P = P[np.isfinite(P).all(1)]
    if not len(P):
        return P
    dev = np.abs(P - np.median(P, 0))
    return P[np.all(dev <= 5 * np.median(dev, 0) + 1e-9, axis=1)]


def jpeg_uri(rgb, quality=80):
    """(H, W, 3) uint8 RGB -> `data:image/jpeg;base64,...`."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def thumbnail(rgb, dots=(), width=THUMB_WIDTH):
    """`rgb` shrunk to `width` pixels wide with `dots` drawn on it: list of (pixels (N, 2) in
    the full image, RGB colour, radius) -> JPEG data URI."""
    f = min(1.0, width / rgb.shape[1])
    small = cv2.resize(rgb, (round(rgb.shape[1] * f), round(rgb.shape[0] * f)),
                       interpolation=cv2.INTER_AREA)
    for xy, colour, radius in dots:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        for x, y in np.round(xy[np.isfinite(xy).all(1)] * f).astype(int):
            cv2.circle(small, (int(x), int(y)), radius, tuple(int(c) for c in colour), -1)
    return jpeg_uri(small)


def image_grid(names, columns, ids=None, width=240):
    """One figure per image holding its pictures side by side: `columns` is a list of
    (what, dict name -> data URI), named in the caption; ids: dict name -> id of the first
    picture's element (the 3D view shows it for a clicked camera)."""
    figures = []
    for n in names:
        pics = []
        for k, (_, uris) in enumerate(columns):
            ident = f" id='{ids[n]}'" if ids and k == 0 else ""
            pics.append(f"<img{ident} width={width} alt='{html.escape(n)}' src='{uris[n]}'>"
                        if n in uris else "")
        figures.append(f"<figure>{''.join(pics)}<figcaption>{html.escape(n)}</figcaption></figure>")
    return f"<p>{html.escape('; '.join(w for w, _ in columns))}</p>{''.join(figures)}"


def pair_matrix(names, tried, counts, what="verified inliers", cell=None):
    """SVG matrix of image pairs: `tried` the pairs (i, j) matched, `counts` dict (i, j) ->
    number of `what` (darker: more; pale red: tried, none)."""
    n = len(names)
    cell = cell or max(3, min(18, 480 // max(n, 1)))
    top = max(counts.values(), default=1)
    out = [f"<rect width='{n * cell}' height='{n * cell}' fill='#f6f6f6'/>"]
    for i, j in sorted(set(tried) | set(counts)):
        c = counts.get((i, j), 0)
        shade = f"hsl(215,70%,{85 - 55 * np.log1p(c) / np.log1p(top):.0f}%)" if c else "#f3c4c4"
        title = f"{names[i]} - {names[j]}: " + (f"{c} {what}" if c else f"no {what}")
        for a, b in ((i, j), (j, i)):
            out.append(f"<rect x='{b * cell}' y='{a * cell}' width='{cell}' height='{cell}' "
                       f"fill='{shade}'><title>{html.escape(title)}</title></rect>")
    legend = (f"<p>{len(tried)} of {n * (n - 1) // 2} pairs matched, {len(counts)} with {what} "
              f"(row and column: image index; blue: {what}, darkest {top}; red: matched, none; "
              f"hover a cell for its images)</p>")
    return legend + svg(n * cell, n * cell, "".join(out))


INTRINSICS_COLUMNS = [  # (heading, function of K) of the intrinsics table; add model columns here
    ("fx (px)", lambda K: number(K[0, 0], ".1f")), ("fy (px)", lambda K: number(K[1, 1], ".1f")),
    ("cx (px)", lambda K: number(K[0, 2], ".1f")), ("cy (px)", lambda K: number(K[1, 2], ".1f")),
    ("skew", lambda K: number(K[0, 1], ".3g"))]


def intrinsics_table(names, Ks, sources):
    """Per image where its intrinsics came from (file / EXIF / guess) and their values."""
    return table(["image", "source"] + [h for h, _ in INTRINSICS_COLUMNS],
                 [[n, s] + [f(np.asarray(K)) for _, f in INTRINSICS_COLUMNS]
                  for n, K, s in zip(names, Ks, sources)])


def timings_table(timer):
    """Seconds, of which numba compilation, and peak resident memory per stage of a `Timer`."""
    return table(["stage", "seconds", "of which compilation (s)", "peak resident memory (MB)"],
                 [[k, f"{v:.2f}", f"{timer.compilation.get(k, 0.0):.2f}",
                   f"{timer.peak_memory[k] / 2 ** 20:.0f}" if k in timer.peak_memory else "-"]
                  for k, v in timer.stages.items()])


def _b64(array):
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def scene_data(cameras, points, colors, paths=(), seed=0):
    """The 3D view's data (a JSON-ready dict). cameras: list of dict with name, camera (a
    `Camera`), size (W, H), image (id of its image element on the page) and stats (dict label
    -> text); points (N, 3) with colours (N, 3) uint8, a random `MAX_VIEW_POINTS` of them when
    more (non-finite ones left out); paths: list of (name, (K, 3), RGB)."""
    P = np.asarray(points, np.float64).reshape(-1, 3)
    rgb = np.asarray(colors, np.uint8).reshape(-1, 3)
    keep = np.flatnonzero(np.isfinite(P).all(1))
    if len(keep) > MAX_VIEW_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(keep, MAX_VIEW_POINTS, replace=False))
    cams = [c for c in cameras if np.isfinite(c["camera"].center).all()]
    C = np.array([c["camera"].center for c in cams]).reshape(-1, 3)
    anchor = robust_subset(P[keep]) if len(keep) else C
    target = np.median(anchor, 0) if len(anchor) else np.zeros(3)
    extent = float(np.median(np.linalg.norm(np.concatenate([anchor, C]) - target, axis=1))) \
        if len(anchor) + len(C) else 1.0
    extent = extent if np.isfinite(extent) and extent > 0 else 1.0
    up = -np.mean([c["camera"].R[1] for c in cams], 0) if cams else np.array([0, -1.0, 0])
    basis = layout_plane(C, anchor, up)[1]  # orbit about the normal of the layout's plane
    up = np.cross(basis[:, 0], basis[:, 1])
    views = []
    for c in cams:
        cam, (w, h) = c["camera"], c["size"]
        corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [w - 0.5, h - 0.5, 1],
                            [-0.5, h - 0.5, 1]]) @ np.linalg.inv(cam.K).T
        corners = cam.center + (corners * (0.15 * extent / corners[:, 2:].max())) @ cam.R
        views.append({"name": c["name"], "image": c["image"], "stats": c["stats"],
                      "center": _round(cam.center), "corners": _round(corners)})
    return {"points": {"total": len(P), "shown": len(keep), "xyz": _b64(P[keep].astype("<f4")),
                       "rgb": _b64(rgb[keep])},
            "cameras": views, "target": _round(target), "extent": extent,
            "up": _round(up / max(np.linalg.norm(up), 1e-12)),
            "paths": [{"name": n, "rgb": [int(v) for v in c], "xyz": _round(p)}
                      for n, p, c in paths if len(p) and np.isfinite(p).all()]}


def _round(a):
    return np.round(np.asarray(a, np.float64), 6).tolist()


def scene_view(data):
    """The 3D view of `scene_data` output: canvas, camera panel, data and script, inline."""
    pts = data["points"]
    shown = (f"all {pts['total']} points" if pts["shown"] == pts["total"] else
             f"{pts['shown']} of {pts['total']} points (a random subset, for display)")
    text = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    return (f"<p>{shown}, {len(data['cameras'])} cameras. Drag: orbit; shift-drag: pan; wheel: "
            f"zoom; click a camera for its image and numbers.</p><div class=view>"
            f"<canvas id=view3d width=640 height=480></canvas><div id=view3d-info>"
            f"no camera selected</div></div><script type=application/json id=view3d-data>"
            f"{text}</script><script>{VIEW_SCRIPT.read_text()}</script>")
