"""Eight-point fundamental matrix: geom.eightpoint against OpenCV's FM_8POINT, same process, same data.

    python -m benchmarks.bench_epipolar [--quick]

Single problem: 1,000 noisy correspondences (sigma = 1 px), time per call from Python
(validation included) and accuracy: the Sampson error of the noise-free true points under the
estimated F, and the distance of the estimated F to the true F (unit norm, sign aligned).
Batch: 10,000 problems of 100 correspondences, one `eight_point_batch` call against a Python
loop over `cv2.findFundamentalMat`. Minimal: the seven-point solver against FM_7POINT.
"""
import sys

import cv2
import numpy as np

from benchmarks.harness import print_table, time_call
from geom.eightpoint import eight_point, eight_point_batch
from geom.epipolar import sampson_distance
from geom.sevenpoint import _seven_point, seven_point
from geom.testing import make_two_view


def f_distance(F, F_true):
    a = F / np.linalg.norm(F)
    b = F_true / np.linalg.norm(F_true)
    return min(np.linalg.norm(a - b), np.linalg.norm(a + b))


def opencv_eight_point(x1, x2):
    F, _ = cv2.findFundamentalMat(x1, x2, cv2.FM_8POINT)
    return F


def single(n_problems):
    """Median accuracy over `n_problems` noisy problems and timing on the first one."""
    methods = {"geom.eight_point": eight_point, "cv2 FM_8POINT": opencv_eight_point}
    errors = {name: ([], []) for name in methods}
    for seed in range(n_problems):
        p = make_two_view(seed, 1000, noise=1.0)
        clean1, clean2 = p.cam1.project(p.X), p.cam2.project(p.X)
        for name, fn in methods.items():
            F = fn(p.x1, p.x2)
            errors[name][0].append(np.median(sampson_distance(F, clean1, clean2)))
            errors[name][1].append(f_distance(F, p.F))
    p = make_two_view(0, 1000, noise=1.0)
    times = {name: time_call(lambda fn=fn: fn(p.x1, p.x2), repeat=9) for name, fn in methods.items()}
    ref = times["cv2 FM_8POINT"]
    print_table(f"eight_point, 1,000 correspondences, noise 1 px"
                f" (errors: medians over {n_problems} problems)",
                ["method", "time/call [us]", "speed-up vs cv2", "Sampson on true pts [px]",
                 "|F - F_true|"],
                [[name, 1e6 * times[name], ref / times[name], float(np.median(errors[name][0])),
                  float(np.median(errors[name][1]))] for name in methods])


def batch(n_problems, n_points=100, n_scenes=50):
    scenes = [make_two_view(s, n_points, noise=1.0) for s in range(n_scenes)]
    x1s = np.stack([scenes[b % n_scenes].x1 for b in range(n_problems)])
    x2s = np.stack([scenes[b % n_scenes].x2 for b in range(n_problems)])

    def loop():
        return [opencv_eight_point(x1s[b], x2s[b]) for b in range(n_problems)]

    ours = time_call(lambda: eight_point_batch(x1s, x2s), repeat=5)
    theirs = time_call(loop, repeat=3)
    Fs, Fcv = eight_point_batch(x1s, x2s), loop()
    diff = max(f_distance(Fs[b], Fcv[b]) for b in range(n_scenes))
    print_table(f"eight_point_batch, {n_problems:,} problems of {n_points} correspondences",
                ["method", "total [ms]", "per problem [us]", "speed-up vs cv2 loop"],
                [["geom.eight_point_batch", 1e3 * ours, 1e6 * ours / n_problems, theirs / ours],
                 ["python loop over cv2", 1e3 * theirs, 1e6 * theirs / n_problems, 1.0]])
    print(f"max |F_batch - F_cv2| (unit norm, sign aligned) over the {n_scenes} distinct problems:"
          f" {diff:.2e} (OpenCV rounds the points to float32)")


def minimal():
    """Seven-point solver: the public function, the kernel RANSAC calls, and OpenCV's FM_7POINT."""
    p = make_two_view(0, 7)
    out = np.empty((3, 3, 3))
    methods = {
        "geom.seven_point": lambda: seven_point(p.x1, p.x2),
        "geom.sevenpoint._seven_point (kernel)": lambda: _seven_point(p.x1, p.x2, out),
        "cv2 FM_7POINT": lambda: cv2.findFundamentalMat(p.x1, p.x2, cv2.FM_7POINT),
    }
    times = {name: time_call(fn, repeat=9) for name, fn in methods.items()}
    ref = times["cv2 FM_7POINT"]
    print_table("seven_point, 7 noise-free correspondences",
                ["method", "time/call [us]", "speed-up vs cv2"],
                [[name, 1e6 * t, ref / t] for name, t in times.items()])


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    single(5 if quick else 20)
    batch(1000 if quick else 10000)
    minimal()
