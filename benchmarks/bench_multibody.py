"""Multi-body pipeline on synthetic 2- and 3-body scenes, against the static-world pipeline.

Scenes: `geom.synth.moving_bodies` (a handful of views, wide baselines: the camera turns
CAMERA_STEP per view; bodies move BODY_SPEED and spin BODY_SPIN per view), exact intrinsics.
Ours (`pipelines.multibody.reconstruct`) with a depth plug-in: 'oracle' (true depth times an
unknown per-image scale, 5 % multiplicative noise) and the shipped network when installed
(`pipelines.multibody.pipeline.DEFAULT_DEPTH`). Measured per scene: bodies found, keypoint
and dense-pixel misclassification (bodies matched to true labels by majority), rotation error
of each body's relative pose per pair (median over pairs; background and moving bodies apart),
relative scale error between bodies `|(s_b / s_0) / true - 1|` (median over scaled motions,
and the fraction of moving-body motions that got a scale), depth AbsRel of the dense maps after
one global scale (median ratio over the true background), over all pixels, the background and
the moving bodies, and the same AbsRel for the static pipeline (pipelines.sfm incremental
reconstruction + plane sweep) on the same images. Then AdelaideRMF fundamental sequences through
the segmentation step (`pipelines.multibody.segmentation.segment`, threshold 3 px as
bench_multimodel's defaults): same error as `geom.multimodel.fit_fundamentals` there.

    python -m benchmarks.bench_multibody [--seeds 3] [--views 4] [--size 480x360] [--depth NAME]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import print_table
from geom import synth
from geom.multimodel import misclassification_error
from pipelines.datasets import dataset_path
from pipelines.datasets.adelaidermf import load_sequence, sequence_names
from pipelines.evaluate import depth_absrel
from pipelines.features import Features
from pipelines.images import load_images
from pipelines.intrinsics import save_intrinsics
from pipelines.matching import PairMatches
from pipelines.multibody import evaluate, pipeline, segmentation
from pipelines.sfm import dense as sfm_dense
from pipelines.sfm.pipeline import sparse_reconstruction

CAMERA_STEP, BODY_SPEED, BODY_SPIN = np.radians(10), 0.3, np.radians(15)


class OracleDepth:
    """Depth plug-in: the true depth of a known image times an unknown per-image scale in
    [0.2, 5], with 5 % multiplicative Gaussian noise per pixel."""

    output, inverse = "scale", False

    def __init__(self, frames, seed=0, noise=0.05):
        rng = np.random.default_rng(seed)
        self.table = {f.image.tobytes(): (f.depth * rng.uniform(0.2, 5.0)
                                          * (1 + noise * rng.standard_normal(f.depth.shape)))
                      .astype(np.float32) for f in frames}

    def __call__(self, img):
        return self.table[np.ascontiguousarray(img).tobytes()]


def _median(values):
    values = [v for v in values if np.isfinite(v)]
    return float(np.median(values)) if values else np.nan


def evaluate_ours(result, truth):
    mapping = evaluate.body_labels(result, truth)
    pix, _ = evaluate.pixel_misclassification(result, truth, mapping)
    errs = evaluate.motion_errors(result, truth, mapping)
    moving = [e for (_, _, b), e in errs.items() if b]
    depths = {result.names[k]: d[0] for k, d in result.dense.items()}
    absrel = depth_absrel(depths, truth, {n: truth.labels[n] == 0 for n in depths})
    return {"bodies": result.segmentation.n_bodies,
            "kp err%": 100 * evaluate.keypoint_misclassification(result, truth, mapping),
            "px err%": 100 * pix,
            "bg rot deg": np.degrees(_median([e[0] for (_, _, b), e in errs.items() if not b])),
            "body rot deg": np.degrees(_median([e[0] for e in moving])),
            "scale err%": 100 * _median([e[1] for e in moving]),
            "scaled%": 100 * np.mean([np.isfinite(e[1]) for e in moving]) if moving else 0.0,
            **_absrel_columns(absrel, truth)}


def _absrel_columns(absrel, truth):
    moving = [absrel[k][0] for k in absrel if k not in ("all", 0)]
    return {"AbsRel all": absrel["all"][0], "AbsRel bg": absrel[0][0],
            "AbsRel bodies": float(np.mean(moving)) if moving else np.nan}


def static_baseline(folder, K_file, truth):
    imgs, rec = sparse_reconstruction(folder, K_file, progress=lambda msg: None)
    depths = sfm_dense.depth_maps(imgs, rec)
    absrel = depth_absrel(depths, truth, {n: truth.labels[n] == 0 for n in depths})
    return _absrel_columns(absrel, truth)


def synthetic(seeds, views, size, depth_names):
    w, h = size
    rows, summary = [], {}
    columns = None
    for n_bodies in (2, 3):
        for seed in seeds:
            scene = synth.moving_bodies(n_bodies, views, seed, w, h, camera_step=CAMERA_STEP,
                                        body_speed=BODY_SPEED, body_spin=BODY_SPIN)
            seq = synth.render(scene)
            with tempfile.TemporaryDirectory() as tmp:
                folder = synth.write_folder(seq, Path(tmp) / "scene")
                names = synth.io.image_names(views)
                save_intrinsics(Path(tmp) / "K.txt", {n: c.K for n, c in zip(names, scene.cameras)})
                truth = evaluate.load_truth(folder, names)
                imgs = load_images(folder)
                for depth in depth_names:
                    est = OracleDepth(seq.frames, seed) if depth == "oracle" else \
                        pipeline.load_depth_plugin(depth)[0]
                    t0 = time.perf_counter()
                    result = pipeline.reconstruct(imgs, [c.K for c in scene.cameras], est, depth,
                                                  progress=lambda msg: None)
                    elapsed = time.perf_counter() - t0
                    m = {**evaluate_ours(result, truth), "s": elapsed}
                    columns = list(m)
                    rows.append([n_bodies, seed, f"ours ({depth})"] + list(m.values()))
                    per_method = summary.setdefault((n_bodies, f"ours ({depth})"), {})
                    for k, v in m.items():
                        per_method.setdefault(k, []).append(v)
                t0 = time.perf_counter()
                b = static_baseline(folder, Path(tmp) / "K.txt", truth)
                b["s"] = time.perf_counter() - t0
                rows.append([n_bodies, seed, "static sfm"] + [b.get(c, "") for c in columns])
                for k, v in b.items():
                    summary.setdefault((n_bodies, "static sfm"), {}).setdefault(k, []).append(v)
    print_table(f"Synthetic moving bodies, {views} views {w}x{h}, camera step "
                f"{np.degrees(CAMERA_STEP):.0f} deg, bodies {BODY_SPEED} units and "
                f"{np.degrees(BODY_SPIN):.0f} deg per view (AbsRel after one global scale; "
                f"'bodies' counts the background)", ["true bodies", "seed", "method"] + columns,
                rows)
    print_table("Medians over seeds", ["true bodies", "method"] + columns,
                [[nb, meth] + [_median(v.get(c, [np.nan])) for c in columns]
                 for (nb, meth), v in summary.items()])


def adelaide():
    folder = dataset_path("adelaidermf")
    if folder is None:
        print("\nadelaidermf data not found: segmentation-step check skipped")
        return
    rows = []
    for name in sequence_names(folder, "fundamental"):
        s = load_sequence(folder, "fundamental", name)
        n = len(s.x1)
        feats = [Features(x, np.zeros((n, 128), np.float32), np.zeros((n, 3), np.uint8))
                 for x in (s.x1, s.x2)]
        idx = np.stack([np.arange(n), np.arange(n)], axis=1)
        seg = segmentation.segment(feats, [PairMatches(0, 1, idx)], threshold=3.0)
        labels = np.zeros(n, np.int64)
        for b, m in seg.pair_bodies[(0, 1)].items():
            labels[m[:, 0]] = b + 1
        rows.append([name, n, s.n_models, seg.n_bodies,
                     100 * misclassification_error(s.labels, labels)])
    rows.append(["MEAN", "", "", "", float(np.mean([r[-1] for r in rows]))])
    print_table("AdelaideRMF fundamental through segmentation.segment (seed 0; compare "
                "bench_multimodel's 'ours')", ["sequence", "N", "K", "bodies found", "err%"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--size", default="480x360")
    parser.add_argument("--depth", action="append", default=None, metavar="NAME",
                        help="depth plug-in to run ours with (repeatable; 'oracle' is the "
                             "scaled truth); default: oracle and the shipped network if installed")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    depth_names = args.depth or ["oracle"]
    if args.depth is None:
        try:
            pipeline.load_depth_plugin(pipeline.DEFAULT_DEPTH)
            depth_names.append(pipeline.DEFAULT_DEPTH)
        except (ValueError, FileNotFoundError, ImportError) as err:
            print(f"depth network {pipeline.DEFAULT_DEPTH!r} not available ({err}): oracle only")
    synthetic(range(args.seeds), args.views, size, depth_names)
    adelaide()


if __name__ == "__main__":
    main()
