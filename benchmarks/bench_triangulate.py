"""Two-view triangulation of 10^6 noisy correspondences: geom.triangulate against OpenCV.

Runs `cv2.triangulatePoints` (+ dehomogenisation), a plain vectorised numpy mid-point for
reference, `geom.triangulate.midpoint` (numba; weighted default, centre, and followed by
`cheirality_parallax_check`) and `geom.triangulate.dlt` on the same data, and prints median
times, speed ratios against OpenCV and the median 3D error against ground truth.

    python -m benchmarks.bench_triangulate [--points 1000000] [--noise 0.5] [--seed 0]
"""
import argparse

import cv2
import numpy as np

from benchmarks.harness import print_table, time_call
from geom.testing import make_two_view
from geom.triangulate import cheirality_parallax_check, dlt, midpoint


def make_problem(seed, n_points, noise, width=640, height=480):
    """The cameras of a `geom.testing.make_two_view` problem (~5 units from the origin, baseline
    0.2-1 x that distance) and `n_points` world points backprojected from camera 1 at random
    pixels and depths, kept where camera 2 sees them in its image (`make_points_in_view` does
    the same but is too slow for 10^6 points); pixel noise sigma `noise`."""
    rng = np.random.default_rng(seed)
    p = make_two_view(rng, 8, width=width, height=height)
    cam1, cam2 = p.cam1, p.cam2
    dist = np.linalg.norm(cam1.center)
    X = np.empty((0, 3))
    while len(X) < n_points:
        m = 2 * n_points
        x = rng.random((m, 2)) * [width, height] - 0.5
        Xc = cam1.backproject(x, dist * rng.uniform(0.5, 1.5, m))
        ok = (cam1.depth(Xc) > 1e-3 * dist) & (cam2.depth(Xc) > 1e-3 * dist)
        ok &= cam2.in_image(cam2.project(Xc))
        X = np.concatenate([X, Xc[ok]])[:n_points]
    x1 = cam1.project(X) + rng.normal(scale=noise, size=(n_points, 2))
    x2 = cam2.project(X) + rng.normal(scale=noise, size=(n_points, 2))
    return cam1, cam2, X, x1, x2


def numpy_midpoint(cam1, cam2, x1, x2):
    """Reference: the mid-point written with whole-array numpy operations (broadcasting rather
    than `(N, 2) @ (2, 3)` products, which BLAS runs slowly for such thin matrices)."""
    M1 = cam1.R.T @ np.linalg.inv(cam1.K)
    M2 = cam2.R.T @ np.linalg.inv(cam2.K)
    d1 = x1[:, :1] * M1[:, 0] + x1[:, 1:] * M1[:, 1] + M1[:, 2]
    d2 = x2[:, :1] * M2[:, 0] + x2[:, 1:] * M2[:, 1] + M2[:, 2]
    c1, c2 = cam1.center, cam2.center
    b = c2 - c1
    a, c, p = (d1 * d1).sum(1), (d2 * d2).sum(1), (d1 * d2).sum(1)
    e, g = (d1 * b).sum(1), (d2 * b).sum(1)
    det = a * c - p * p
    s = (c * e - p * g) / det
    w = (p * e - a * g) / det
    return 0.5 * (c1 + s[:, None] * d1 + c2 + w[:, None] * d2)


def opencv_triangulate(cam1, cam2, x1, x2):
    """cv2.triangulatePoints (DLT per point, SVD) and the dehomogenisation to (N, 3)."""
    h = cv2.triangulatePoints(cam1.P, cam2.P, x1.T, x2.T)
    return (h[:3] / h[3]).T


def midpoint_and_check(cam1, cam2, x1, x2):
    """The plain mid-point followed by its cheirality/parallax flags (the cost of flagging);
    returns the points."""
    X = midpoint(cam1, cam2, x1, x2)
    cheirality_parallax_check(cam1, cam2, X)
    return X


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--noise", type=float, default=0.5, help="pixel noise sigma")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    cam1, cam2, X, x1, x2 = make_problem(args.seed, args.points, args.noise)
    scale = np.linalg.norm(cam1.center)

    methods = [
        ("cv2.triangulatePoints", opencv_triangulate),
        ("numpy mid-point", numpy_midpoint),
        ("geom midpoint (weighted, default)", midpoint),
        ("geom midpoint centre", lambda *a: midpoint(*a, weighted=False)),
        ("geom midpoint + check", midpoint_and_check),
        ("geom dlt", dlt),
    ]
    rows, t_cv = [], None
    for name, fn in methods:
        t = time_call(lambda: fn(cam1, cam2, x1, x2), repeat=args.repeat, number=1)
        err = np.linalg.norm(fn(cam1, cam2, x1, x2) - X, axis=1)
        t_cv = t if t_cv is None else t_cv
        rows.append([name, t * 1e3, t_cv / t, np.median(err) / scale * 1e3, np.median(err)])
    print_table(
        f"Two-view triangulation, {args.points} points, noise {args.noise} px, seed {args.seed} "
        f"(camera distance {scale:.2f}, baseline {np.linalg.norm(cam2.center - cam1.center):.2f})",
        ["method", "time ms (median)", "speed-up vs cv2", "median 3D err (1e-3 x distance)",
         "median 3D err"], rows)


if __name__ == "__main__":
    main()
