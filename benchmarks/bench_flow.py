"""Dense optical flow: OpenCV's classical flows and our networks (when their weights exist) on
the real pairs with ground truth, at native size: Middlebury RubberWhale and Dimetrodon (dense
.flo) and the KITTI 2012 pair 000010 (sparse, non-occluded).

    python -m benchmarks.bench_flow [--methods NAME ...] [--weights PATH ...] [--repeat 5]
                                    [--resize 640x480]

EPE (px) and Fl-all (%, KITTI definition) on the pixels with ground truth; with `--resize`, images
and ground truth are first resampled to that size (flow vectors scaled; the issue's targets are
stated at 640x480). Time is the median wall time of one call (a single call for methods slower
than a second); 'x dis-medium' is the time ratio to DIS at its medium preset on the same pair,
in the same process.
"""
import argparse
import time

import cv2
import numpy as np

import learned
from learned.flow.metrics import epe, fl_all
from learned.plugins import NETWORKS, OPENCV_FLOWS, WEIGHTS_DIR
from pipelines.datasets import dataset_path
from pipelines.datasets.flow import kitti_pairs, middlebury_pairs

from .harness import print_table, time_call

REFERENCE = "dis-medium"


def resized(pair, size):
    """A pair `(name, img1, img2, flow, valid)` resampled to `size = (W, H)`."""
    name, img1, img2, flow, valid = pair
    w, h = size
    sx, sy = w / img1.shape[1], h / img1.shape[0]
    interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
    imgs = [cv2.resize(i, size, interpolation=interp) for i in (img1, img2)]
    flow = cv2.resize(flow, size, interpolation=cv2.INTER_NEAREST) * np.float32([sx, sy])
    valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return (name, *imgs, flow, valid)


def pairs(size=None):
    out = []
    for name, reader in (("middlebury_flow", middlebury_pairs), ("kitti2012_flow_sample", kitti_pairs)):
        path = dataset_path(name)
        if path is None:
            print(f"skipping {name}: data not found (set MVDEPTH_DATA)")
            continue
        out += [(f"{name.split('_')[0]}/{p[0]}", *p[1:]) for p in reader(path)]
    return out if size is None else [resized(p, size) for p in out]


def estimators(methods, weights):
    ests = {name: learned.load_flow(name) for name in methods}
    for name, (task, file, _) in NETWORKS.items():
        if task == "flow" and name not in ests and (WEIGHTS_DIR / file).is_file():
            ests[name] = learned.load_flow(name)
    for path in weights:
        ests[str(path)] = learned.load_flow(path)
    return ests


def run(repeat, methods, weights, size=None):
    ests = estimators(methods, weights)
    rows = []
    for pair, img1, img2, gt, valid in pairs(size):
        times = {}
        for name, est in ests.items():
            t0 = time.perf_counter()
            flow = est(img1, img2)
            first = time.perf_counter() - t0
            times[name] = time_call(lambda: est(img1, img2), repeat=repeat, number=1) if first < 1.0 else first
            rows.append([pair, f"{img1.shape[1]}x{img1.shape[0]}", name, epe(flow, gt, valid),
                         100 * fl_all(flow, gt, valid), 1e3 * times[name]])
        for row in rows[-len(ests):]:
            row.append(times[row[2]] / times[REFERENCE])
    print_table(f"Dense optical flow on real pairs ({'native size' if size is None else 'resized'}; "
                "EPE px, Fl-all %, time ms)",
                ["pair", "size", "method", "EPE", "Fl-all %", "time ms", f"x {REFERENCE}"], rows)


def main(argv=None):
    p = argparse.ArgumentParser(description="optical-flow benchmark")
    p.add_argument("--methods", nargs="*", default=list(OPENCV_FLOWS),
                   help="flow plug-in names (default: every OpenCV flow; dual-tvl1 takes minutes on KITTI)")
    p.add_argument("--weights", nargs="*", default=[], help="extra flow weights files to include")
    p.add_argument("--repeat", type=int, default=5, help="timed calls per method (median)")
    p.add_argument("--resize", default=None, help="WxH, e.g. 640x480 (default: native size)")
    args = p.parse_args(argv)
    size = None if args.resize is None else tuple(int(v) for v in args.resize.lower().split("x"))
    if REFERENCE not in args.methods:
        args.methods.append(REFERENCE)
    run(args.repeat, args.methods, args.weights, size)


if __name__ == "__main__":
    main()
