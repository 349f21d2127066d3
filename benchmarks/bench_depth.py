"""Monocular depth: our shipped network against trivial priors, on held-out synthetic scenes and
on the real frames with ground truth.

    python -m benchmarks.bench_depth [--methods NAME ...] [--synthetic-scenes 12] [--repeat 3]

Data: `--synthetic-scenes` scenes of `geom.synth` (the training generators in turn, seeds never
used in training, 2 views each) rendered at 320 x 240 with exact depth; the KITTI 2012 frame
000070 (RGB left image, LiDAR depth `f b / disparity`, capped at 80 m as in Eigen's protocol);
Middlebury tsukuba and teddy (ground truth disparity, i.e. inverse depth up to scale).

Methods: depth plug-ins by name (`learned.load_depth`: 'unet-synth', 'depth-anything:<id>', an
.onnx or .pt file) and two priors that look at no pixel: 'constant' (the same depth
everywhere) and 'row' (inverse depth growing linearly from the top row to the bottom one: a
ground plane seen by a level camera). A method whose map is inverse depth is inverted for the
depth alignments.

Errors after per-image alignment of the prediction to the ground truth: median scaling (`med`),
least-squares scale and shift in depth (`ss`), and scale and shift in inverse depth (`inv-ss`,
the MiDaS protocol). Middlebury's depth is known up to scale only (`1 / disparity`): all three
alignments absorb that. AbsRel (lower is better) and delta1 = fraction within a factor 1.25
(higher is better), averaged over the images of each set. Time: median of `--repeat` calls on a
640 x 480 image.
"""
import argparse

import cv2
import numpy as np

import learned
from geom.synth.render import render
from learned.depth.metrics import depth_metrics
from learned.depth.scenes import GENERATORS
from pipelines.datasets import dataset_path
from pipelines.datasets.kitti import load_stereo_frame
from pipelines.datasets.middlebury_stereo import SCENES, load_pair

from .harness import print_table, time_call

HELD_OUT_SEED = 999  # render_frames uses seeds 0 (training) and 1_000_003 (validation)
ALIGNMENTS = (("med", "median"), ("ss", "scale-shift"), ("inv-ss", "inverse-scale-shift"))


class Prior:
    """A depth 'estimator' that ignores the image: 'constant' or 'row' (see the docstring)."""

    def __init__(self, name):
        self.name, self.output, self.inverse = name, "affine", True

    def __call__(self, img):
        h, w = img.shape[:2]
        if self.name == "constant":
            return np.ones((h, w), np.float32)
        return np.repeat((0.1 + np.arange(h, dtype=np.float32) / max(h - 1, 1))[:, None], w, axis=1)


def estimator(name):
    return Prior(name) if name in ("constant", "row") else learned.load_depth(name, device="cpu")


def synthetic_frames(n_scenes, width=320, height=240):
    """`(image, depth)` pairs of held-out geom.synth scenes (all generators of the training data)."""
    makers = list(GENERATORS.values())
    out = []
    for i in range(n_scenes):
        for frame in render(makers[i % len(makers)](HELD_OUT_SEED * 1_000_000 + i, width, height)).frames:
            out.append((frame.image, np.where(np.isfinite(frame.depth), frame.depth, 0).astype(np.float32)))
    return out


def real_pairs():
    """name -> (stereo pair: a KITTI frame or a Middlebury `StereoPair`, `(left image RGB uint8,
    gt depth (0 = unknown), max_depth)`) of the real rectified pairs; missing data left out.
    KITTI: LiDAR depth `f b / disparity` up to 80 m; Middlebury: `1 / disparity` (up to scale)."""
    out = {}
    kitti = dataset_path("kitti2012_stereo_sample")
    if kitti is not None:
        f = load_stereo_frame(kitti, color=True)
        depth = np.where(f.masks["occ"], f.focal * f.baseline / np.where(f.masks["occ"], f.disparity, 1), 0)
        depth[depth > 80] = 0
        out["kitti 000070"] = (f, (f.left, depth.astype(np.float32), 80.0))
    mb = dataset_path("middlebury_stereo_v2")
    if mb is not None:
        for scene in SCENES:
            p = load_pair(mb, scene)
            depth = np.where(p.masks["all"], 1.0 / np.where(p.masks["all"], p.disparity, 1), 0)
            out[f"middlebury {scene}"] = (p, (p.left, depth.astype(np.float32), None))
    return out


def real_sets():
    """name -> list of `(image RGB uint8, gt depth (0 = unknown), max_depth)`; missing data left out."""
    return {name: [sample] for name, (_, sample) in real_pairs().items()}


def evaluate(est, samples):
    """Mean AbsRel and delta1 per alignment over `samples` = [(image, gt depth, max_depth)]."""
    rows = {key: [] for key, _ in ALIGNMENTS}
    for img, gt, max_depth in samples:
        pred = est(img).astype(np.float64)
        inv = pred if est.inverse else 1.0 / np.maximum(pred, 1e-12)
        depth = 1.0 / np.maximum(inv, 1e-12) if est.inverse else pred
        for key, align in ALIGNMENTS:
            m = depth_metrics(inv if align == "inverse-scale-shift" else depth, gt, align=align,
                              max_depth=max_depth)
            rows[key].append((m["abs_rel"], m["delta1"]))
    return {key: np.mean(v, axis=0) for key, v in rows.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], prog="python -m benchmarks.bench_depth")
    p.add_argument("--methods", nargs="+", default=["unet-synth", "constant", "row"])
    p.add_argument("--synthetic-scenes", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    ests = {name: estimator(name) for name in args.methods}
    sets = {f"synthetic ({args.synthetic_scenes} scenes x 2)": [
        (img, gt, None) for img, gt in synthetic_frames(args.synthetic_scenes)]}
    sets.update(real_sets())
    rows = []
    for set_name, samples in sets.items():
        for name, est in ests.items():
            r = evaluate(est, samples)
            rows.append([set_name, name] + [v for key, _ in ALIGNMENTS for v in r[key]])
    header = ["data", "method"] + [f"{w} {key}" for key, _ in ALIGNMENTS for w in ("AbsRel", "d1")]
    print_table("Monocular depth: AbsRel (lower better) and delta1 (higher better) after alignment",
                header, rows)
    img = cv2.resize(next(iter(sets.values()))[0][0], (640, 480), interpolation=cv2.INTER_LINEAR)
    times = [[name, est.output + (" inverse" if est.inverse else ""), time_call(lambda e=est: e(img),
                                                                                repeat=args.repeat, number=1)]
             for name, est in ests.items()]
    print_table("Time of one 640 x 480 image (s, median)", ["method", "output", "time"], times)


if __name__ == "__main__":
    main()
