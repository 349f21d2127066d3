"""Scaling of `mvdepth sfm` with the number of images: synthetic full rings from `geom.synth`
(`orbit_ring`, default 50, 100 and 200 views, 640x480) with their exact intrinsics.

Per size: wall time of each pipeline stage (`pipelines.sfm.pipeline.Timer`), its peak resident
memory (the process's RSS high-water mark, Linux VmHWM reset before each stage through
/proc/self/clear_refs: everything the process holds, numpy, OpenCV and numba included), the
image pairs matched by the default pair selection (`pipelines.sfm.pairs`, retrieval above 30
images) against all N (N - 1) / 2 and how many of the ring neighbours (i, i + 1), (i, i + 2)
they include, registered views and relative rotation errors against the
truth (degrees, over all registered pairs). For the sizes in `--all-pairs` the matching stage
(match + verify) is also timed on every pair, on the same features, for the comparison.

Rendered rings are cached in `--cache` (default /tmp/mvdepth_bench_sfm_scaling) and reused.
One run per size (the larger ones take minutes); run it niced on a shared machine:

    nice -n 10 python -m benchmarks.bench_sfm_scaling [--views 50 100 200] [--all-pairs 50 100]
        [--size 640x480] [--cache DIR]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.harness import print_table
from geom import synth
from geom.io import load_cameras_json
from pipelines.sfm import features, pairs
from pipelines.sfm.evaluate import relative_pose_errors
from pipelines.sfm.images import save_intrinsics
from pipelines.sfm.pipeline import Timer, sparse_reconstruction

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


def run_size(folder, all_pairs, progress):
    """One pipeline run on `folder` -> dict of measurements."""
    truth = load_cameras_json(folder / "cameras.json")
    n = len(truth)
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        K_file = Path(tmp) / "K.txt"
        save_intrinsics(K_file, {name: c.K for name, c in truth.items()})
        _, rec = sparse_reconstruction(folder, K_file, progress=progress, timer=timer)
    rot, _ = relative_pose_errors(rec.cameras, truth)
    registered = len(rec.cameras)
    del rec
    # the same features and pairs again, outside the timed run
    names = sorted(truth)
    feats = [features.extract_features(img) for img in _images(folder, names)]
    selected = set(pairs.select_pairs(feats, names))
    neighbours = [(i, (i + d) % n) for i in range(n) for d in (1, 2)]
    out = {"n": n, "timer": timer, "registered": registered,
           "rot": np.degrees(rot) if rot.size else np.array([np.nan]), "pairs": len(selected),
           "recall": np.mean([(min(p), max(p)) in selected for p in neighbours])}
    if all_pairs:
        everything = Timer()
        everything("matching", features.match_and_verify, feats, [truth[m].K for m in names],
                   pairs.exhaustive_pairs(n))
        out["all pairs"] = everything
    return out


def _images(folder, names):
    return [cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB) for name in names]


def _progress(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--all-pairs", type=int, nargs="*", default=[50, 100],
                        help="sizes whose matching is also timed on all pairs")
    parser.add_argument("--size", default="640x480", help="image size WxH")
    parser.add_argument("--verbose", action="store_true", help="print the pipeline's progress")
    parser.add_argument("--cache", default=Path(tempfile.gettempdir()) / CACHE_NAME,
                        help="folder of the rendered rings (reused across runs)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    results = []
    for n in args.views:
        r = run_size(ring_folder(args.cache, n, width, height), n in args.all_pairs,
                     _progress if args.verbose else lambda msg: None)
        results.append(r)
        print(f"{n} views: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["timer"].stages.items()),
              flush=True)
    mb = 2.0 ** -20
    print_table(f"SfM stage wall time (s), synthetic full rings {args.size}, known intrinsics",
                ["views", *STAGES, "total", "registered", "rot med deg", "rot max deg"],
                [[r["n"], *(r["timer"].stages[s] for s in STAGES), sum(r["timer"].stages.values()),
                  f"{r['registered']}/{r['n']}", float(np.median(r["rot"])),
                  float(np.max(r["rot"]))] for r in results])
    print_table("Peak resident memory per stage (MB; RSS high-water mark, VmHWM reset per stage)",
                ["views", *STAGES],
                [[r["n"], *(r["timer"].peak_memory[s] * mb for s in STAGES)] for r in results])
    rows = []
    for r in results:
        sel = r["timer"].stages["matching"]
        row = [r["n"], r["pairs"], float(r["recall"]), sel, sel / r["pairs"],
               r["n"] * (r["n"] - 1) // 2]
        if "all pairs" in r:
            full = r["all pairs"].stages["matching"]
            row += [full, full / sel, r["all pairs"].peak_memory["matching"] * mb]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    print_table("Matching (match + verify): selected pairs against all pairs; recall: ring "
                "neighbours i+1, i+2 among the selected pairs",
                ["views", "selected pairs", "recall", "time s", "s / pair", "all pairs",
                 "all-pairs time s", "all / selected", "all-pairs peak MB"], rows)


if __name__ == "__main__":
    main()
