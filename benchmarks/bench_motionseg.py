"""Motion segmentation of real point tracks: `pipelines.multibody.segment_tracks` on KT3DMoSeg
(11 KITTI driving clips, tracks appear and vanish) and Hopkins 155 (50 base sequences and their
105 two-motion subsets, every track in every frame).

Per sequence: misclassification (`pipelines.multibody.evaluate.track_misclassification`: best
one-to-one relabelling, tracks labelled -1 wrong, unlabelled truth left out), motions found
against the truth, wall time (numba compiled beforehand). Per dataset: mean and median error,
fraction of sequences with the right number of motions, mean and slowest time. Defaults only;
the few choices made while writing (threshold 1 px as the image pipeline, 8 frame pairs) were
looked at on KT3DMoSeg, so Hopkins 155 is held out.

    python -m benchmarks.bench_motionseg [--data kt3dmoseg hopkins155] [--seed 0] [--list]
"""
import argparse
import time

import numpy as np

from benchmarks.harness import print_table
from pipelines.datasets import dataset_path, hopkins155, kt3dmoseg
from pipelines.multibody import segment_tracks
from pipelines.multibody.evaluate import track_misclassification

DATASETS = {"kt3dmoseg": ("kt3dmoseg_half", kt3dmoseg), "hopkins155": ("hopkins155", hopkins155)}
TARGETS = "targets: KT3DMoSeg mean < 10 %, Hopkins 155 mean < 2 %, motions right >= 80 %, < 1 s"


def run(name, seed, listing):
    """Rows per sequence (printed when `listing`) and the dataset's summary row."""
    folder_name, reader = DATASETS[name]
    folder = dataset_path(folder_name)
    if folder is None:
        print(f"{name}: data not found (set MVDEPTH_DATA or provide ../shared/data); skipped")
        return None
    rows, errors, right, times = [], [], [], []
    for seq in reader.sequences(folder):
        t0 = time.perf_counter()
        labels = segment_tracks(seq.points, seq.visible, seq.K, seed=seed)
        times.append(time.perf_counter() - t0)
        errors.append(track_misclassification(seq.labels, labels))
        found = int(labels.max()) + 1
        right.append(found == seq.n_motions)
        rows.append([seq.name, seq.points.shape[0], seq.points.shape[1], seq.n_motions, found,
                     100 * errors[-1], 100 * np.mean(labels < 0), times[-1]])
    if listing:
        print_table(f"{name}: per sequence (seed {seed})",
                    ["sequence", "frames", "tracks", "motions", "found", "err%", "-1 %", "s"], rows)
    return [name, len(rows), 100 * np.mean(errors), 100 * np.median(errors),
            100 * np.mean(right), np.mean(times), np.max(times)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="print every sequence")
    args = parser.parse_args()
    rng = np.random.default_rng(0)  # numba compilation, outside the timings
    segment_tracks(rng.uniform(0, 100, (3, 40, 2)), np.ones((3, 40), bool))
    summary = [row for name in args.data if (row := run(name, args.seed, args.list))]
    print_table(f"Motion segmentation of point tracks, seed {args.seed} ({TARGETS})",
                ["dataset", "sequences", "mean err%", "median err%", "motions right %",
                 "mean s", "slowest s"], summary)


if __name__ == "__main__":
    main()
