"""`mvdepth demo`: two-view geometry on a built-in synthetic sample, checked against its truth.

Stages: generate the sample, estimate F (eight-point), recover the pose from E, triangulate,
rectify. Each line prints the estimate's error against the known truth, so a person can check
that the library works on this machine.
"""
import numpy as np

from geom.camera import Camera
from geom.eightpoint import eight_point
from geom.epipolar import essential_from_fundamental, pose_from_essential, sampson_distance
from geom.rectify import rectify_pair
from geom.rotation import angle_between, angular_distance
from geom.testing import make_two_view
from geom.triangulate import cheirality_parallax_check, midpoint


def run(seed=1, noise=0.5, n_points=500):
    p = make_two_view(seed, n_points, noise=noise)
    print(f"sample: two 640x480 views of {n_points} points, pixel noise {noise} px, seed {seed}")
    rows = []

    F = eight_point(p.x1, p.x2)
    rows.append(("eight-point F",
                 f"median Sampson error {np.median(sampson_distance(F, p.x1, p.x2)):.3f} px "
                 f"(noise-free points: {np.median(sampson_distance(F, *_clean(p))):.3f} px)"))

    E = essential_from_fundamental(F, p.K1, p.K2)
    R, t, front = pose_from_essential(E, p.x1, p.x2, p.K1, p.K2)
    rows.append(("relative pose",
                 f"rotation error {np.degrees(angular_distance(R, p.R)):.3f} deg, translation "
                 f"direction error {np.degrees(angle_between(t, p.t)):.3f} deg, "
                 f"{front.mean():.0%} points in front"))

    # Camera 1 at the origin, camera 2 at the estimated pose with the true baseline length.
    scale = np.linalg.norm(p.t)
    cam1 = Camera(p.K1, np.eye(3), np.zeros(3), 640, 480)
    cam2 = Camera(p.K2, R, scale * t, 640, 480)
    X = midpoint(cam1, cam2, p.x1, p.x2)
    ok = cheirality_parallax_check(cam1, cam2, X).ok
    X_true = p.cam1.to_camera(p.X)
    err = np.linalg.norm(X - X_true, axis=1) / np.linalg.norm(X_true, axis=1)
    rows.append(("mid-point triangulation",
                 f"median 3D error {np.median(err):.2%} of depth, {ok.mean():.0%} points trusted"))

    H1, H2, _, _ = rectify_pair(p.cam1, p.cam2, (640, 480))
    r1, r2 = _apply(H1, p.x1), _apply(H2, p.x2)
    rows.append(("rectification",
                 f"median row difference {np.median(np.abs(r1[:, 1] - r2[:, 1])):.3f} px "
                 f"(noise {noise} px)"))

    width = max(len(r[0]) for r in rows)
    for name, result in rows:
        print(f"  {name:<{width}}  {result}")
    return 0


def _clean(p):
    return p.cam1.project(p.X), p.cam2.project(p.X)


def _apply(H, x):
    h = np.c_[x, np.ones(len(x))] @ H.T
    return h[:, :2] / h[:, 2:]
