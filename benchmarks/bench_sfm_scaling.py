"""Scaling of `mvdepth sfm` with the number of images: synthetic full rings from `geom.synth`
(`orbit_ring`, default 50, 100 and 200 views, 640x480) with their exact intrinsics.

Per size: wall time of each pipeline stage (`pipelines.timing.Timer`), its peak resident
memory (the process's RSS high-water mark, Linux VmHWM reset before each stage through
/proc/self/clear_refs: everything the process holds, numpy, OpenCV and numba included), the
image pairs matched by the default pair selection (`pipelines.pairs`, retrieval above 30
images) against all N (N - 1) / 2 and how many of the ring neighbours (i, i + 1), (i, i + 2)
they include, registered views and relative rotation errors against the truth (degrees, over
all registered pairs; sizes left out of `--reconstruct` stop after the matching). For the sizes
in `--all-pairs` the matching stage (match + verify) is also timed on all pairs, on the same
features (or on `--all-pairs-sample` random pairs, the time scaled up), for the comparison.

Rendered rings are cached in `--cache` (default /tmp/mvdepth_bench_sfm_scaling) and reused.
One run per size (the larger ones take minutes); run it niced on a shared machine:

    nice -n 10 python -m benchmarks.bench_sfm_scaling [--views 50 100 200]
        [--reconstruct 50 100 200] [--all-pairs 50 100] [--all-pairs-sample 0] [--size 640x480]
        [--cache DIR] [--verbose]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import print_table
from geom import synth
from geom.io import load_cameras_json
from pipelines import matching, pairs
from pipelines.evaluate import relative_pose_errors
from pipelines.intrinsics import save_intrinsics
from pipelines.sfm import pipeline
from pipelines.timing import Timer

CACHE_NAME = "mvdepth_bench_sfm_scaling"
STAGES = ("load images", "features", "pair selection", "matching", "reconstruction")


def ring_folder(cache, n_views, width, height):
    """The rendered ring of `n_views` views (rendered on the first call, then reused)."""
    folder = Path(cache) / f"ring_{n_views}_{width}x{height}"
    if not (folder / "cameras.json").is_file():
        print(f"rendering {n_views} views of {width}x{height} into {folder}", flush=True)
        synth.write_folder(synth.render(synth.orbit_ring(n_views, 0, width, height)), folder,
                           overwrite=True)
    return folder


def run_size(folder, reconstruct, all_pairs_sample, progress):
    """One pipeline run on `folder` (up to the matching when not `reconstruct`), then, when
    `all_pairs_sample` is not None, the matching on all pairs (a random `all_pairs_sample` of
    them when > 0, the time scaled up) -> dict of measurements."""
    truth = load_cameras_json(folder / "cameras.json")
    n = len(truth)
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        K_file = Path(tmp) / "K.txt"
        save_intrinsics(K_file, {name: c.K for name, c in truth.items()})
        m = pipeline.match_images(folder, K_file, progress, timer)
    selected = set(m.pairs)
    neighbours = [(i, (i + d) % n) for i in range(n) for d in (1, 2)]
    out = {"n": n, "timer": timer, "pairs": len(selected),
           "recall": float(np.mean([(min(p), max(p)) in selected for p in neighbours]))}
    if reconstruct:
        rec = pipeline.reconstruct(m, progress, timer)
        rot, _ = relative_pose_errors(rec.cameras, truth)
        out["registered"] = f"{len(rec.cameras)}/{n}"
        out["rot"] = np.degrees(rot) if rot.size else np.array([np.nan])
        del rec
    if all_pairs_sample is not None:
        everything = pairs.exhaustive_pairs(n)
        if 0 < all_pairs_sample < len(everything):
            rng = np.random.default_rng(0)
            sample = [everything[k] for k in np.sort(rng.choice(len(everything),
                                                                all_pairs_sample, False))]
        else:
            sample = everything
        full = Timer()
        with full.stage("matching"):
            matching.verify_pairs(m.features, m.Ks, matching.match_pairs(m.features, sample))
        out["all pairs"] = (full.stages["matching"] * len(everything) / len(sample),
                            full.peak_memory["matching"], len(sample))
    return out


def _timestamped(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--reconstruct", type=int, nargs="*", default=[50, 100, 200],
                        help="sizes run through the reconstruction too (others stop after the "
                             "matching)")
    parser.add_argument("--all-pairs", type=int, nargs="*", default=[50, 100],
                        help="sizes whose matching is also timed on all pairs")
    parser.add_argument("--all-pairs-sample", type=int, default=0,
                        help="time the all-pairs matching on this many random pairs and scale "
                             "up (default 0: every pair)")
    parser.add_argument("--size", default="640x480", help="image size WxH")
    parser.add_argument("--verbose", action="store_true", help="print the pipeline's progress")
    parser.add_argument("--cache", default=Path(tempfile.gettempdir()) / CACHE_NAME,
                        help="folder of the rendered rings (reused across runs)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    for n in args.views:
        r = run_size(ring_folder(args.cache, n, width, height), n in args.reconstruct,
                     args.all_pairs_sample if n in args.all_pairs else None,
                     _timestamped if args.verbose else lambda msg: None)
        results.append(r)
        print(f"{n} views: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["timer"].stages.items()),
              flush=True)
    mb = 2.0 ** -20
    stages = [s for s in STAGES if any(s in r["timer"].stages for r in results)]
    print_table(f"SfM stage wall time (s), synthetic full rings {args.size}, known intrinsics",
                ["views", *stages, "total", "registered", "rot med deg", "rot max deg"],
                [[r["n"], *(r["timer"].stages.get(s, "-") for s in stages),
                  sum(r["timer"].stages.values()), r.get("registered", "-"),
                  float(np.median(r["rot"])) if "rot" in r else "-",
                  float(np.max(r["rot"])) if "rot" in r else "-"] for r in results])
    print_table("Peak resident memory per stage (MB; RSS high-water mark, VmHWM reset per stage)",
                ["views", *stages],
                [[r["n"], *(r["timer"].peak_memory[s] * mb if s in r["timer"].peak_memory
                            else "-" for s in stages)] for r in results])
    rows = []
    for r in results:
        sel = r["timer"].stages["matching"]
        row = [r["n"], r["pairs"], r["recall"], sel, sel / r["pairs"], r["n"] * (r["n"] - 1) // 2]
        if "all pairs" in r:
            full, peak, timed = r["all pairs"]
            row += [full, timed, full / sel, peak * mb]
        else:
            row += ["-", "-", "-", "-"]
        rows.append(row)
    print_table("Matching (match + verify): selected pairs against all pairs (all-pairs time "
                "scaled up from the pairs timed); recall: ring neighbours i+1, i+2 selected",
                ["views", "selected pairs", "recall", "time s", "s / pair", "all pairs",
                 "all-pairs time s", "pairs timed", "all / selected", "all-pairs peak MB"], rows)


if __name__ == "__main__":
    main()
