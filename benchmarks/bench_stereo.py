"""Dense stereo and plane sweep against OpenCV, in one process on the same data.

    python -m benchmarks.bench_stereo

Stereo: Middlebury v2 tsukuba and teddy, KITTI 2012 frame 000070. bad-1 / bad-2: percent of the
pixels with ground truth (Middlebury 'nonocc' and 'all' masks, KITTI 'noc' and 'occ') whose
disparity is off by more than 1 / 2 px, pixels without an estimate counting as bad; EPE: mean
absolute error over the pixels with an estimate; density: percent of them with an estimate.
Peers: cv2.StereoSGBM (modes SGBM and 3WAY, blockSize 3, the best of 1..9 for both modes over the
three pairs; P1 = 8 cn bs^2, P2 = 32 cn bs^2; uniqueness 10, speckle 100 / 2) and cv2.StereoBM
(blockSize 9). mvdepth's stereo defaults were chosen on these same three pairs (no held-out set).
Multi-view: templeSparseRing with its ground-truth cameras (see `bench_multiview`).
"""
import numpy as np
import cv2

from benchmarks.harness import print_table, time_call
from geom.planesweep import plane_sweep
from geom.stereo import stereo_disparity
from pipelines.datasets import dataset_path, kitti, middlebury_mview, middlebury_stereo

REPEAT = 3


def stereo_pairs():
    """(name, left, right, num_disparities, gt disparity, {mask name: mask})."""
    out = []
    mb = dataset_path("middlebury_stereo_v2")
    if mb is not None:
        for scene, D in (("tsukuba", 16), ("teddy", 64)):
            p = middlebury_stereo.load_pair(mb, scene)
            out.append((scene, p.left, p.right, D, p.disparity, p.masks))
    kt = dataset_path("kitti2012_stereo_sample")
    if kt is not None:
        f = kitti.load_stereo_frame(kt)
        out.append(("kitti2012", f.left, f.right, 128, f.disparity, f.masks))
    return out


def sgbm(mode, bs, D, cn):
    return cv2.StereoSGBM_create(minDisparity=0, numDisparities=D, blockSize=bs,
                                 P1=8 * cn * bs * bs, P2=32 * cn * bs * bs, disp12MaxDiff=1,
                                 uniquenessRatio=10, speckleWindowSize=100, speckleRange=2,
                                 mode=mode)


def opencv_methods(D, cn):
    """name -> fn(left, right) -> float32 disparity with NaN where invalid."""
    def wrap(matcher, gray):
        def run(left, right):
            if gray and left.ndim == 3:
                left = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY)
                right = cv2.cvtColor(right, cv2.COLOR_RGB2GRAY)
            d = matcher.compute(left, right).astype(np.float32) / 16.0
            d[d < 0] = np.nan
            return d
        return run
    bm = cv2.StereoBM_create(numDisparities=D, blockSize=9)
    bm.setUniquenessRatio(10)
    bm.setSpeckleWindowSize(100)
    bm.setSpeckleRange(2)
    return {"cv2 SGBM": wrap(sgbm(cv2.STEREO_SGBM_MODE_SGBM, 3, D, cn), False),
            "cv2 SGBM 3WAY": wrap(sgbm(cv2.STEREO_SGBM_MODE_SGBM_3WAY, 3, D, cn), False),
            "cv2 BM": wrap(bm, True)}


def errors(disp, gt, mask):
    """bad-1, bad-2 (percent, missing estimates count as bad), EPE, density (percent)."""
    err = np.abs(disp[mask] - gt[mask])
    have = np.isfinite(err)
    bad = [100.0 * np.mean(~have | (np.where(have, err, 0) > t)) for t in (1.0, 2.0)]
    return bad[0], bad[1], float(err[have].mean()), 100.0 * have.mean()


def bench_stereo():
    rows, throughput = [], []
    for name, left, right, D, gt, masks in stereo_pairs():
        cn = 1 if left.ndim == 2 else 3
        methods = {"mvdepth": lambda l, r: stereo_disparity(l, r, num_disparities=D,
                                                           fill_holes=True).disparity,
                   "mvdepth (no fill)": lambda l, r: stereo_disparity(l, r,
                                                                     num_disparities=D).disparity}
        methods.update(opencv_methods(D, cn))
        times = {}
        for method, fn in methods.items():
            disp = fn(left, right)
            times[method] = time_call(lambda: fn(left, right), repeat=REPEAT, number=1)
            for region, mask in masks.items():
                if region == "disc":
                    continue
                b1, b2, epe, dens = errors(disp, gt, mask)
                rows.append([name, region, method, b1, b2, epe, dens, 1e3 * times[method]])
        for row in rows:
            if row[0] == name:
                row.append(times[row[2]] / times["cv2 SGBM"])
        for method in ("mvdepth", "cv2 SGBM", "cv2 SGBM 3WAY"):
            throughput.append([name, method, left.shape[0] * left.shape[1] * D / times[method]])
    print_table("Stereo: errors (percent, px), median time (ms), ratio = time / cv2 SGBM time",
                ["pair", "region", "method", "bad-1", "bad-2", "EPE", "density", "ms", "ratio"],
                rows)
    return throughput


def bench_multiview(views=(0, 1, 2, 3), num_planes=64):
    """templeSparseRing, ground-truth cameras: depth maps of `views`, each from its two ring
    neighbours and the next-but-one view; consistency = fraction of the valid depths of view i
    that, moved into view i+1, agree with view i+1's depth within 1 % (over the pixels valid in
    both); density = fraction of the object's pixels (inside the projected bounding box, brighter
    than the black background) with a depth."""
    folder = dataset_path("middlebury_mview")
    if folder is None:
        return []
    folder = folder / "templeSparseRing"
    cams = middlebury_mview.load_cameras(folder)
    box = middlebury_mview.load_bounding_box(folder)
    names = sorted(cams)
    depth, rows, throughput = {}, [], []
    for i in views:
        ref = middlebury_mview.load_image(folder, names[i])
        srcs = [(middlebury_mview.load_image(folder, names[j % len(names)]),
                 cams[names[j % len(names)]]) for j in (i - 1, i + 1, i + 2)]
        kw = dict(depth_range=middlebury_mview.depth_range(cams[names[i]], box),
                  num_planes=num_planes, min_std=4.0, speckle_size=100)
        fn = lambda: plane_sweep(ref, cams[names[i]], srcs, **kw)
        depth[i] = fn().depth
        t = time_call(fn, repeat=1, number=1)
        obj = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY) > 20
        density = 100.0 * np.isfinite(depth[i][obj]).mean()
        throughput.append([f"temple view {i + 1}", "mvdepth plane sweep (3 sources)",
                           ref.shape[0] * ref.shape[1] * num_planes / t])
        rows.append([names[i], density, 1e3 * t])
    cons = []
    for i in views:
        if i + 1 in depth:
            cons.append(_consistency(depth[i], cams[names[i]], depth[i + 1], cams[names[i + 1]]))
    for row, c in zip(rows, cons + [""] * (len(rows) - len(cons))):
        row.insert(2, c)
    print_table(f"Multi-view: templeSparseRing, {num_planes} planes, 640x480",
                ["reference", "density %", "consistent to next view (1 %)", "ms"], rows)
    return throughput


def _consistency(da, cam_a, db, cam_b):
    ys, xs = np.nonzero(np.isfinite(da))
    X = cam_a.backproject(np.column_stack([xs, ys]).astype(float), da[ys, xs].astype(float))
    xb = cam_b.project(X)
    inside = cam_b.in_image(xb)
    xb = np.round(xb[inside]).astype(int)
    zb = db[xb[:, 1], xb[:, 0]]
    z = cam_b.depth(X[inside])
    ok = np.isfinite(zb)
    return 100.0 * float(np.mean(np.abs(zb[ok] - z[ok]) < 0.01 * z[ok]))


if __name__ == "__main__":
    rates = bench_stereo() + bench_multiview()
    print_table("Throughput on this machine (hypotheses x pixels per second; 2 cores shared)",
                ["data", "method", "hypothesis-pixels / s"], rates)
