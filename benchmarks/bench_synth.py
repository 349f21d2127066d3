"""Render time per 640x480 frame of each `geom.synth` generator, and the accuracy of SIFT matches
on the rendered images against the ground-truth epipolar geometry of each body.

    python -m benchmarks.bench_synth [--quick]

Columns: median render time of one frame with 4 rotated-grid rays per pixel (the default) and
with 1; the CPU time of a default render summed over all threads (about wall time x cores on a
quiet machine; on a busy one it still shows the work done); median time of the ground-truth
flow + occlusion of one frame pair; SIFT matches (`pipelines.matching`, ratio 0.7) between frames 0 and 1 that fall on
one body in both, and their median Sampson distance to that body's true epipolar geometry.
"""
import argparse
import time

import numpy as np

from geom.rotation import skew
from geom.synth import (flying_layers, moving_bodies, orbit_ring, random_scene, render_frame,
                        stereo_rig)
from geom.synth.render import flow
from pipelines.features import extract_features
from pipelines.matching import match_descriptors

from .harness import print_table, time_call

W, H = 640, 480
KINDS = {
    "stereo": lambda: stereo_rig(0, W, H),
    "ring": lambda: orbit_ring(24, 0, W, H),
    "bodies1": lambda: moving_bodies(1, 2, 0, W, H),
    "bodies2": lambda: moving_bodies(2, 2, 0, W, H),
    "bodies3": lambda: moving_bodies(3, 2, 0, W, H),
    "layers": lambda: flying_layers(0, W, H),
    "random": lambda: random_scene(0, W, H),
}


def sift_epipolar(scene, f0, f1):
    """(matches on a single body, median Sampson distance in px) between frames 0 and 1."""
    a, b = extract_features(f0.image), extract_features(f1.image)
    m = np.asarray(match_descriptors(a.descriptors, b.descriptors, ratio=0.7)).reshape(-1, 2)
    x1, x2 = a.keypoints[m[:, 0]], b.keypoints[m[:, 1]]
    r1, r2 = np.round(x1).astype(int), np.round(x2).astype(int)
    l1, l2 = f0.labels[r1[:, 1], r1[:, 0]], f1.labels[r2[:, 1], r2[:, 0]]
    dist = []
    for label in range(len(scene.bodies) + 1):
        on = (l1 == label) & (l2 == label)
        R, t = scene.relative_pose(label, 0, 1)
        F = np.linalg.inv(scene.cameras[1].K).T @ skew(t) @ R @ np.linalg.inv(scene.cameras[0].K)
        h1, h2 = np.c_[x1[on], np.ones(on.sum())], np.c_[x2[on], np.ones(on.sum())]
        Fx1, Ftx2 = h1 @ F.T, h2 @ F
        e = np.einsum("ni,ni->n", h2, Fx1)
        norm = np.sqrt(Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2)
        dist.append(np.abs(e) / norm)
    dist = np.concatenate(dist)
    return len(dist), float(np.median(dist)) if len(dist) else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    repeat = 3 if parser.parse_args(argv).quick else 7
    rows = []
    for kind, make in KINDS.items():
        scene = make()
        t4 = time_call(lambda: render_frame(scene, 0), repeat=repeat, number=1)
        t1 = time_call(lambda: render_frame(scene, 0, antialias=1), repeat=repeat, number=1)
        cpu = []
        for _ in range(repeat):
            c0 = time.process_time()
            render_frame(scene, 0)
            cpu.append(time.process_time() - c0)
        f0, f1 = render_frame(scene, 0), render_frame(scene, 1)
        tf = time_call(lambda: flow(scene, 0, 1, f0.depth, f0.labels), repeat=repeat, number=1)
        n, med = sift_epipolar(scene, f0, f1)
        rows.append([kind, 1e3 * t4, 1e3 * t1, t4 / t1, 1e3 * float(np.median(cpu)), 1e3 * tf, n,
                     med])
    print_table(f"geom.synth: render {W}x{H} (ms, median of {repeat})",
                ["kind", "render ms (4 rays/px)", "render ms (1 ray/px)", "ratio 4/1",
                 "render CPU ms (4 rays/px)", "flow ms",
                 "SIFT matches", "median Sampson px"], rows)


if __name__ == "__main__":
    main()
