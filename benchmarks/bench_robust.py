"""Robust estimation against OpenCV and PoseLib, in the same process on the same data.

    python -m benchmarks.bench_robust [--problems 20] [--points 2000]

1. Relative pose: synthetic calibrated pairs (`geom.testing.make_two_view`), 0.5 px noise,
   30/50/70 % outliers: median rotation and translation-direction errors (degrees), failure
   rate (either error > 5 degrees) and median time per problem, for `estimate_relative_pose`,
   `cv2.findEssentialMat` (USAC_MAGSAC and RANSAC, then `cv2.recoverPose`) and
   `poselib.estimate_relative_pose`. All get a 1 px threshold and confidence 0.999. OpenCV's
   two-camera overload caps RANSAC at 1000 iterations (not settable), so ours runs with that
   cap too, and with its default cap of 10000.
2. Fundamental matrix on the real CMP kusvod2 pairs (all tentative matches in, Sampson error
   of the estimate on the hand-marked true matches out), ours vs cv2 USAC_MAGSAC; skipped
   when the data or its reader (`pipelines.datasets.cmp`) is missing.
3. Absolute pose: synthetic 3D-2D matches, 500 points, 1 px noise, 50 % outliers: rotation
   error, camera-centre error and time, ours vs `cv2.solvePnPRansac` (P3P + refinement) and
   `poselib.estimate_absolute_pose`.
"""
import argparse
import time

import cv2
import numpy as np
import poselib

from benchmarks.harness import print_table, time_call
from geom.robust import estimate_absolute_pose, estimate_fundamental, estimate_relative_pose
from geom.rotation import angle_between, angular_distance
from geom.testing import make_camera_ring, make_points_in_view, make_two_view
from pipelines.datasets import cmp, dataset_path

THRESHOLD = 1.0
CONFIDENCE = 0.999
F_SEEDS = range(6)
FAIL_DEG = 5.0


def _normalised(x, K):
    return cv2.undistortPoints(x.reshape(-1, 1, 2), K, None).reshape(-1, 2)


def ours_relative(max_iterations):
    def run(p):
        r = estimate_relative_pose(p.x1, p.x2, p.K1, p.K2, threshold=THRESHOLD,
                                   confidence=CONFIDENCE, max_iterations=max_iterations)
        return (r.R, r.t) if r.success else (None, None)
    return run


def opencv_relative(method):
    def run(p):
        E, mask = cv2.findEssentialMat(p.x1, p.x2, p.K1, None, p.K2, None, method=method,
                                       prob=CONFIDENCE, threshold=THRESHOLD)
        if E is None or E.shape != (3, 3):
            return None, None
        _, R, t, _ = cv2.recoverPose(E, _normalised(p.x1, p.K1), _normalised(p.x2, p.K2),
                                     np.eye(3), mask=mask)
        return R, t.ravel()
    return run


def _poselib_camera(K, width=640, height=480):
    return {"model": "PINHOLE", "width": width, "height": height,
            "params": [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]}


def poselib_relative(p):
    pose, _ = poselib.estimate_relative_pose(
        p.x1, p.x2, _poselib_camera(p.K1), _poselib_camera(p.K2),
        {"max_epipolar_error": THRESHOLD, "success_prob": CONFIDENCE}, {})
    return pose.R, pose.t


def relative_pose_table(n_problems, n_points):
    methods = {"ours, max 1000 it": ours_relative(1000),
               "ours, max 10000 it (default)": ours_relative(10000),
               "cv2 USAC_MAGSAC": opencv_relative(cv2.USAC_MAGSAC),
               "cv2 RANSAC": opencv_relative(cv2.RANSAC),
               "poselib": poselib_relative}
    rows = []
    for ratio in (0.3, 0.5, 0.7):
        problems = [make_two_view(1000 + i, n_points, noise=0.5, outlier_ratio=ratio)
                    for i in range(n_problems)]
        ref_time = None
        for name, fn in methods.items():
            rot, tra, times = [], [], []
            for p in problems:
                times.append(time_call(lambda: fn(p), repeat=1, number=1))
                R, t = fn(p)
                if R is None:
                    rot.append(180.0)
                    tra.append(180.0)
                    continue
                rot.append(np.degrees(angular_distance(R, p.R)))
                tra.append(np.degrees(angle_between(t, p.t)))
            rot, tra = np.array(rot), np.array(tra)
            med_t = float(np.median(times))
            ref_time = ref_time or med_t
            fail = np.mean((rot > FAIL_DEG) | (tra > FAIL_DEG))
            rows.append([f"{int(ratio * 100)}%", name, float(np.median(rot)), float(np.median(tra)),
                         f"{100 * fail:.0f}%", 1000 * med_t, med_t / ref_time])
    print_table(f"Relative pose, {n_points} matches, 0.5 px noise, {n_problems} problems per ratio "
                "(errors in degrees; time ratio relative to ours)",
                ["outliers", "method", "med rot err", "med t err", "fail >5deg", "ms/problem",
                 "time / ours"], rows)


def _sampson(F, x1, x2):
    h1, h2 = np.c_[x1, np.ones(len(x1))], np.c_[x2, np.ones(len(x2))]
    Fx1, Ftx2 = h1 @ F.T, h2 @ F
    num = np.abs(np.einsum("ni,ni->n", h2, Fx1))
    return num / np.sqrt(Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2)


def _error(F, pair):
    """Median Sampson error (px) of F on the pair's hand-marked true matches (inf: no F)."""
    return np.inf if F is None else float(np.median(_sampson(F, pair.true_x1, pair.true_x2)))


def fundamental_table():
    folder = dataset_path("cmp_kusvod2_fundamental")
    if folder is None:
        print("\nCMP kusvod2: skipped (data not found)")
        return
    rows = []
    summary = {"ours": [], "cv2 USAC_MAGSAC": []}
    for name in cmp.scenes(folder):
        pair = cmp.load_pair(folder, name, "fundamental")

        def ours(seed=0):
            r = estimate_fundamental(pair.x1, pair.x2, threshold=THRESHOLD, confidence=CONFIDENCE,
                                     seed=seed)
            return r.model if r.success else None

        def opencv():
            F, _ = cv2.findFundamentalMat(pair.x1, pair.x2, cv2.USAC_MAGSAC, THRESHOLD, CONFIDENCE)
            return F if F is not None and F.shape == (3, 3) else None

        row = [name, len(pair.x1)]
        for key, fn in zip(summary, (ours, opencv)):
            t = time_call(fn, repeat=3, number=1)
            # ours: the median over F_SEEDS sampling seeds (one seed's error varies by ~15 %)
            errs = [_error(F, pair) for F in ([ours(s) for s in F_SEEDS] if fn is ours
                                              else [fn()])]
            err = float(np.median(errs))
            summary[key].append(err)
            row += [err, 1000 * t]
        rows.append(row)
    rows.append(["MEDIAN", "", float(np.median(summary["ours"])), "",
                 float(np.median(summary["cv2 USAC_MAGSAC"])), ""])
    print_table("F on CMP kusvod2 (all tentative matches in; median Sampson error in px on the "
                f"hand-marked true matches; ours: median over seeds {list(F_SEEDS)})",
                ["scene", "matches", "ours err", "ours ms", "cv2 MAGSAC err", "cv2 ms"], rows)


def absolute_pose_table(n_problems, n_points=500, outlier_ratio=0.5, noise=1.0):
    rows = []
    results = {"ours": [], "cv2 solvePnPRansac (P3P)": [], "poselib": []}
    for i in range(n_problems):
        rng = np.random.default_rng(2000 + i)
        cam = make_camera_ring(rng, 1)[0]
        X = make_points_in_view(rng, [cam], n_points)
        x = cam.project(X) + rng.normal(scale=noise, size=(n_points, 2))
        out = rng.random(n_points) < outlier_ratio
        x[out] = rng.random((out.sum(), 2)) * [640, 480]
        K = cam.K

        def ours():
            r = estimate_absolute_pose(X, x, K, threshold=2 * noise, confidence=CONFIDENCE)
            return (r.R, r.t) if r.success else (None, None)

        def opencv():
            ok, rvec, tvec, _ = cv2.solvePnPRansac(X, x, K, None, reprojectionError=2 * noise,
                                                   confidence=CONFIDENCE, iterationsCount=10000,
                                                   flags=cv2.SOLVEPNP_P3P)
            return (cv2.Rodrigues(rvec)[0], tvec.ravel()) if ok else (None, None)

        def pl():
            pose, _ = poselib.estimate_absolute_pose(
                x, X, _poselib_camera(K), {"max_reproj_error": 2 * noise,
                                           "success_prob": CONFIDENCE}, {})
            return pose.R, pose.t

        for name, fn in zip(results, (ours, opencv, pl)):
            t = time_call(fn, repeat=1, number=1)
            R, tt = fn()
            if R is None:
                results[name].append((180.0, np.inf, t))
                continue
            results[name].append((np.degrees(angular_distance(R, cam.R)),
                                  np.linalg.norm(-R.T @ tt - cam.center), t))
    ref = None
    for name, res in results.items():
        res = np.array(res)
        med_t = float(np.median(res[:, 2]))
        ref = ref or med_t
        rows.append([name, float(np.median(res[:, 0])), float(np.median(res[:, 1])),
                     f"{100 * np.mean(res[:, 0] > FAIL_DEG):.0f}%", 1000 * med_t, med_t / ref])
    print_table(f"Absolute pose, {n_points} matches, {noise} px noise, "
                f"{int(outlier_ratio * 100)}% outliers, {n_problems} problems (camera ~5 from the "
                "scene)", ["method", "med rot err (deg)", "med centre err", "fail >5deg",
                           "ms/problem", "time / ours"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--points", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    relative_pose_table(args.problems, args.points)
    fundamental_table()
    absolute_pose_table(args.problems)
    print(f"\n(total {time.perf_counter() - t0:.0f} s; cv2 {cv2.__version__}, "
          f"{cv2.getNumThreads()} cv2 threads)")


if __name__ == "__main__":
    main()
