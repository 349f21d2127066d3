"""report.html building blocks: the 3D view's data, subsampling, the layout plane, the pair
matrix, no external URL, and odd values (non-finite, no points) reported, never a crash."""
import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from geom import synth
from pipelines import report_parts as parts
from pipelines.features import Features
from pipelines.images import ImageSet
from pipelines.matching import PairMatches
from pipelines.sfm import report
from pipelines.sfm.pipeline import Matches
from pipelines.sfm.reconstruction import Reconstruction
from pipelines.timing import Timer

RING = synth.orbit_ring(12, 0, 64, 48)  # cameras 30 degrees above a ring, looking inwards


def view_data(page):
    """The 3D view's JSON of a page, its points decoded."""
    text = re.search(r"<script type=application/json id=view3d-data>(.*?)</script>", page, re.S)[1]
    data = json.loads(text.replace("<\\/", "</"))
    pts = data["points"]
    pts["xyz"] = np.frombuffer(base64.b64decode(pts["xyz"]), "<f4").reshape(-1, 3)
    pts["rgb"] = np.frombuffer(base64.b64decode(pts["rgb"]), np.uint8).reshape(-1, 3)
    return data


def external_urls(page):
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)


def _cameras(n=4):
    return [{"name": f"c{k}.png", "camera": c, "size": (64, 48), "image": f"image-{k}",
             "stats": {"points seen": "3"}} for k, c in enumerate(RING.cameras[:n])]


def test_view_data_present_and_parseable():
    P = np.random.default_rng(0).normal(size=(500, 3))
    rgb = np.random.default_rng(1).integers(0, 256, (500, 3), dtype=np.uint8)
    data = view_data(parts.scene_view(parts.scene_data(_cameras(), P, rgb,
                                                       [("body 1", P[:3], (230, 60, 50))])))
    assert data["points"]["total"] == data["points"]["shown"] == 500
    assert np.allclose(data["points"]["xyz"], P, atol=1e-6) and (data["points"]["rgb"] == rgb).all()
    cam = data["cameras"][0]
    assert cam["name"] == "c0.png" and np.allclose(cam["center"], RING.cameras[0].center)
    assert np.array(cam["corners"]).shape == (4, 3) and cam["stats"] == {"points seen": "3"}
    assert data["paths"][0]["name"] == "body 1" and len(data["paths"][0]["xyz"]) == 3


def test_view_shows_a_subset_of_100k_points_and_says_so():
    P = np.random.default_rng(0).normal(size=(100_000, 3))
    html = parts.scene_view(parts.scene_data(_cameras(), P, np.zeros((100_000, 3), np.uint8)))
    data = view_data(html)
    assert data["points"]["total"] == 100_000
    assert data["points"]["shown"] == len(data["points"]["xyz"]) == parts.MAX_VIEW_POINTS
    assert f"{parts.MAX_VIEW_POINTS} of 100000 points (a random subset" in html
    assert len(html) < 2_000_000


def test_layout_plane_of_a_ring_is_the_ring_plane():
    C = np.array([c.center for c in RING.cameras])
    up = -np.mean([c.R[1] for c in RING.cameras], axis=0)
    origin, basis = parts.layout_plane(C, up=up)
    flat = (C - origin) @ basis
    extent = flat.max(0) - flat.min(0)
    assert extent.min() > 0.9 * extent.max()  # a circle, not a line seen edge-on
    assert np.cross(basis[:, 0], basis[:, 1]) @ up > 0  # seen from above
    svg = parts.layout_svg([(f"c{k}", c) for k, c in enumerate(RING.cameras)])
    xy = np.array(re.findall(r"<circle cx='([\d.]+)' cy='([\d.]+)' r='3'", svg), float)
    assert len(xy) == 12 and (xy.max(0) - xy.min(0)).min() > 300  # spread in both directions


def test_pair_matrix():
    svg = parts.pair_matrix(["a", "b", "c"], [(0, 1), (0, 2), (1, 2)], {(0, 1): 40, (1, 2): 7})
    assert "3 of 3 pairs matched, 2 with verified inliers" in svg
    assert svg.count("<title>a - b: 40 verified inliers</title>") == 2  # both triangles
    assert svg.count("<title>a - c: no verified inliers</title>") == 2
    assert svg.count("<rect") == 1 + 2 * 3


def _tiny(points, at_camera=()):
    """A `Matches` and `Reconstruction` of four ring views seeing `points` (N, 3), those listed
    in `at_camera` then moved into the first camera's centre (errors not finite there)."""
    cams = RING.cameras[:4]
    names = [f"v{k}.png" for k in range(4)]
    obs = [(p, k, c.project(points[p:p + 1])[0]) for p in range(len(points))
           for k, c in enumerate(cams)]
    xy = np.array([o[2] for o in obs]).reshape(-1, 2)
    feats = [Features(xy[[o[1] == k for o in obs]], np.zeros((0, 128), np.float32),
                      np.zeros((0, 3), np.uint8)) for k in range(4)]
    imgs = ImageSet(Path("/nowhere"), names, [np.full((48, 64, 3), 90, np.uint8)] * 4, [])
    m = Matches(imgs, [c.K for c in cams], ["file", "EXIF", "guess", "guess"], feats,
                [(0, 1), (1, 2)], [PairMatches(0, 1, np.zeros((9, 2), int), np.eye(3), np.ones(3))],
                ["a note"])
    points = points.copy()
    points[list(at_camera)] = cams[0].center
    rec = Reconstruction(names, dict(zip(names, cams)), points, np.full((len(points), 3), 200, np.uint8),
                         np.array([o[0] for o in obs], int), np.array([o[1] for o in obs], int),
                         np.arange(len(obs)), xy)
    return m, rec


@pytest.mark.parametrize("points, bad", [(np.random.default_rng(0).normal(0, 0.3, (20, 3)), (0, 5)),
                                         (np.zeros((0, 3)), ())],
                         ids=["non-finite errors", "no points"])
def test_sfm_report_of_odd_values(tmp_path, points, bad):
    m, rec = _tiny(points, bad)
    errors = rec.reprojection_errors()
    assert (~np.isfinite(errors)).sum() == len(bad)
    timer = Timer()
    with timer.stage("features"):
        pass
    report.write_report(tmp_path / "report.html", m, rec, timer,
                        {n: c for n, c in rec.cameras.items()}, {"v1.png": np.full((48, 64), np.nan)})
    page = (tmp_path / "report.html").read_text()
    assert not external_urls(page)
    data = view_data(page)
    assert data["points"]["shown"] == len(points) and len(data["cameras"]) == 4
    if bad:
        assert f"{len(bad)} of {len(errors)} values not finite, left out" in page
    else:
        assert "no finite values to draw" in page
    for source in ("file", "EXIF", "guess"):
        assert f"<td>{source}</td>" in page


def test_non_finite_points_left_out_of_the_view():
    P = np.array([[0, 0, 0], [np.nan, 0, 0], [1, np.inf, 0], [1, 1, 1.0]])
    data = view_data(parts.scene_view(parts.scene_data(_cameras(), P, np.zeros((4, 3), np.uint8))))
    assert data["points"]["shown"] == 2 and np.isfinite(data["points"]["xyz"]).all()
    assert "no finite values" in parts.histogram([np.nan, np.inf], 10)
    assert "no registered camera" in parts.layout_svg([])


def test_distortion_picture_states_the_largest_displacement():
    f, cx, cy, k = 300.0, 159.5, 119.5, -0.2
    u, v = -cx / f, -cy / f  # the corner pixel, where a radial model moves the most
    r2 = u * u + v * v
    expected = np.sqrt(r2) * f * abs(k) * r2
    figure = parts.distortion_svg("cam", "SIMPLE_RADIAL", (f, cx, cy, k), 320, 240)
    assert f"cam: largest displacement {expected:.1f} px" in figure
    assert figure.count("<polyline") == 2 * 18  # each grid line straight and bent
    none = parts.distortion_svg("cam", "SIMPLE_RADIAL", (f, cx, cy, 0.0), 320, 240)
    assert "largest displacement 0.0 px" in none
