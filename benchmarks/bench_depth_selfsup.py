"""Self-supervised depth training on real views with known poses (`learned.depth.views`, no pose
network): what fine-tuning the shipped `unet-synth` with the view-synthesis loss does to its
depth on real images with ground truth.

    python -m benchmarks.bench_depth_selfsup [--steps 300] [--seeds 0 1 2]

Stereo (`--mode stereo`, Monodepth2's stereo training) on the rectified pairs of KITTI 2012
000070 and Middlebury tsukuba / teddy (Middlebury's focal length and baseline are unknown: only
their product scales the depth, which the alignments absorb). Two protocols per evaluated
pair: 'test-time' fine-tunes on that pair's two images alone (self-supervised adaptation to a
scene: no label is used), 'other pairs' on the two other pairs only (generalisation).
Sequence (`--mode views`) on the 16 views of templeSparseRing with the cameras of our own SfM
(`pipelines.sfm`, given the true K): no dense ground truth exists there, so the depth is
compared with the SfM's triangulated points at the pixels that observe them.

Metrics as in `bench_depth` (AbsRel lower, delta1 higher is better): median scaling, and scale
and shift in inverse depth; medians over the training seeds. Time: the fine-tuning's wall time.
"""
import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import learned
from geom.io import save_cameras_json
from learned.depth import train
from pipelines.datasets import dataset_path
from pipelines.datasets.middlebury_mview import load_cameras
from pipelines.sfm.pipeline import sparse_reconstruction

from .bench_depth import evaluate, real_pairs
from .harness import print_table

WORKING_SIZE = learned.load_depth("unet-synth", device="cpu").working_size  # training images: about that area


def _size(width, height):
    """Training size (W, H), multiples of 16, of about `WORKING_SIZE`^2 pixels at that aspect."""
    s = WORKING_SIZE / (width * height) ** 0.5
    return max(16, round(width * s / 16) * 16), max(16, round(height * s / 16) * 16)


def stereo_pairs(folder):
    """name -> (list line of the pair written into `folder`, (image, gt depth, max depth)):
    the real rectified pairs of `bench_depth.real_pairs`, written as PNG files."""
    out = {}
    for k, (name, (pair, sample)) in enumerate(real_pairs().items()):
        h, w = pair.left.shape[:2]
        if hasattr(pair, "focal"):  # KITTI: all rectified cameras share K
            P = pair.P["P0"]
            calib = (P[0, 0], P[1, 1], P[0, 2], P[1, 2], pair.baseline)
        else:  # Middlebury: focal length and baseline unknown, only their product scales depth
            calib = (w, w, (w - 1) / 2, (h - 1) / 2, 1.0)
        for side, img in (("l", pair.left), ("r", pair.right)):
            cv2.imwrite(str(Path(folder) / f"{k}{side}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        out[name] = (f"{k}l.png {k}r.png " + " ".join(f"{v:.6f}" for v in calib), sample)
    return out


def fine_tune(out, mode_args, size, steps, seed):
    """Fine-tune unet-synth with `learned.depth.train` (quietly); returns (estimator, seconds)."""
    args = ["--out", str(out), "--init", "unet-synth", "--size", "compact", "--steps", str(steps),
            "--batch-size", "4", "--lr", "2e-4", "--width", str(size[0]), "--height", str(size[1]),
            "--seed", str(seed), "--log-every", "0"] + mode_args
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        train.main(args)
    return learned.load_depth(out, device="cpu"), time.perf_counter() - t0


def scores(est, samples):
    r = evaluate(est, samples)
    return [*r["med"], *r["inv-ss"]]


def stereo_rows(folder, steps, seeds, data):
    pairs = stereo_pairs(folder)
    base = learned.load_depth("unet-synth", device="cpu")
    rows = []
    for name, (line, sample) in pairs.items():
        if not any(d in name for d in data):
            continue
        rows.append([name, "unet-synth (no fine-tuning)", *scores(base, [sample]), 0.0])
        for protocol, listed in (("test-time", [line]), ("other pairs", [v[0] for k, v in pairs.items() if k != name])):
            if not listed:
                continue
            lst = Path(folder) / "pairs.txt"
            lst.write_text("\n".join(listed) + "\n")
            h, w = sample[0].shape[:2]
            runs = [fine_tune(Path(folder) / "tuned.pt", ["--mode", "stereo", "--stereo", str(lst)],
                              _size(w, h), steps, seed) for seed in seeds]
            rows.append([name, f"stereo, {protocol}",
                         *np.median([scores(est, [sample]) for est, _ in runs], axis=0),
                         float(np.median([t for _, t in runs]))])
    return rows


def sparse_depths(rec, names):
    """Per image name of `names`, the depth `(H, W)` of the reconstruction's points at the pixels
    that observe them (0 elsewhere)."""
    out = {}
    for name in names:
        cam = rec.cameras[name]
        sel = rec.obs_image == rec.image_names.index(name)
        X = rec.points[rec.obs_point[sel]]
        z = (X @ cam.R.T + cam.t)[:, 2]
        xy = np.clip(np.round(rec.obs_xy[sel]).astype(int), 0, [cam.width - 1, cam.height - 1])
        depth = np.zeros((cam.height, cam.width), np.float32)
        depth[xy[:, 1], xy[:, 0]] = z
        out[name] = depth
    return out


def temple_rows(folder, steps, seeds):
    ring = dataset_path("middlebury_mview")
    if ring is None:
        return []
    ring = ring / "templeSparseRing"
    K = next(iter(load_cameras(ring).values())).K
    (Path(folder) / "K.txt").write_text("\n".join(" ".join(f"{v:.9g}" for v in row) for row in K) + "\n")
    with contextlib.redirect_stderr(io.StringIO()):
        imgs, rec = sparse_reconstruction(ring, Path(folder) / "K.txt")
    names = sorted(rec.cameras)
    save_cameras_json(Path(folder) / "cameras.json", rec.cameras)
    sparse = sparse_depths(rec, names)
    samples = [(imgs.images[imgs.names.index(n)], sparse[n], None) for n in names]
    base = learned.load_depth("unet-synth", device="cpu")
    size = _size(rec.cameras[names[0]].width, rec.cameras[names[0]].height)
    rows = [[f"temple ({len(names)} views, SfM points)", "unet-synth (no fine-tuning)", *scores(base, samples), 0.0]]
    runs = [fine_tune(Path(folder) / "tuned.pt", ["--mode", "views", "--views", str(Path(folder) / "cameras.json"),
                                                  "--images", str(ring)], size, steps, seed)
            for seed in seeds]
    rows.append([f"temple ({len(names)} views, SfM points)", "views, our SfM poses, test-time",
                 *np.median([scores(est, samples) for est, _ in runs], axis=0),
                 float(np.median([t for _, t in runs]))])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], prog="python -m benchmarks.bench_depth_selfsup")
    p.add_argument("--steps", type=int, default=300, help="fine-tuning steps (batch 4)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data", nargs="+", default=["kitti", "tsukuba", "teddy", "temple"],
                   help="the data sets to run (default all)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = stereo_rows(folder, args.steps, args.seeds, args.data)
        if "temple" in args.data:
            rows += temple_rows(folder, args.steps, args.seeds)
    print_table(f"Self-supervised fine-tuning of unet-synth ({args.steps} steps, median of seeds "
                f"{args.seeds}): AbsRel / delta1 after alignment",
                ["data", "training", "med AbsRel", "med d1", "inv-ss AbsRel", "inv-ss d1", "time s"], rows)


if __name__ == "__main__":
    main()
