"""Self-calibrating SfM (no intrinsics given) against pycolmap, same images, same process:
Middlebury templeSparseRing (16 views, 640x480, no EXIF) and Strecha fountain-P11 (11 views,
downscaled by `--fountain-scale`, default 0.5: 1536x1024, for time; its truth scaled alike).

pycolmap: SIFT, exhaustive matching, incremental mapping, one SIMPLE_RADIAL camera for all
images (no prior focal: COLMAP's own 1.2 max(W, H)), focal and k refined (its defaults).
mvdepth: `sparse_reconstruction` without `--intrinsics` (camera mode auto, SIMPLE_RADIAL),
principal point held at the image centre; "mvdepth +pp": the same with it refined
(`refine_principal_point`).

Reported per method: views registered, median relative rotation error over all registered
pairs (degrees), camera-centre error after the similarity that best aligns the centres to the
truth (median, in units of the truth), focal error vs the truth (median over images, %),
principal point error (median over images, pixels), wall time, and mvdepth / pycolmap.

    python -m benchmarks.bench_selfcal [--fountain-scale S] [--skip-fountain] [--skip-temple]
"""
import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_sfm import run_pycolmap
from benchmarks.harness import print_table
from geom.camera import Camera
from pipelines.datasets import dataset_path
from pipelines.datasets.middlebury_mview import load_cameras
from pipelines.evaluate import relative_pose_errors
from pipelines.sfm.pipeline import sparse_reconstruction


def fountain(scale, folder):
    """fountain-P11 images written into `folder` at `scale` and its true cameras (K scaled in
    the house pixel convention) -> dict name -> Camera."""
    root = dataset_path("strecha_fountain_P11")
    if root is None:
        return None
    base = root / "Benchmarking_Camera_Calibration_2008" / "fountain-P11"
    folder.mkdir()
    truth = {}
    for path in sorted((base / "images").glob("*.jpg")):
        img = cv2.imread(str(path))
        h, w = img.shape[:2]
        size = (round(w * scale), round(h * scale))
        cv2.imwrite(str(folder / path.name), cv2.resize(img, size, interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows = [line.split() for line in
                (base / "gt_dense_cameras" / f"{path.name}.camera").read_text().splitlines()]
        K = np.array(rows[0:3], float)
        R_cw, C = np.array(rows[4:7], float), np.array(rows[7], float)  # camera-to-world
        u, _, vt = np.linalg.svd(R_cw)  # stored to 1e-6: orthonormalised
        R_cw = u @ vt
        S = np.diag([scale, scale, 1.0])
        K = S @ K
        K[:2, 2] += 0.5 * scale - 0.5  # pixel centres: x' = (x + 0.5) s - 0.5
        truth[path.name] = Camera(K, R_cw.T, -R_cw.T @ C)
    return truth


def centre_error(cams, truth):
    """Median camera-centre error after the least-squares similarity (Umeyama) mapping the
    reconstructed centres onto the true ones, in the truth's units."""
    names = sorted(n for n in cams if n in truth)
    A = np.array([cams[n].center for n in names])
    B = np.array([truth[n].center for n in names])
    a, b = A - A.mean(0), B - B.mean(0)
    U, S, Vt = np.linalg.svd(b.T @ a)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    s = np.trace(np.diag(S) @ D) / (a * a).sum()
    return float(np.median(np.linalg.norm(s * a @ R.T - b, axis=1)))


def run_ours(folder, refine_principal_point=False):
    _, rec = sparse_reconstruction(folder, progress=lambda msg: None,
                                   refine_principal_point=refine_principal_point)
    return rec.cameras


def run_colmap(folder):
    cams, _, _ = run_pycolmap(folder, None, camera_model="SIMPLE_RADIAL")
    return cams


def evaluate(name, folder, truth):
    rows = []
    for method, fn in (("mvdepth", run_ours), ("pycolmap", run_colmap),
                       ("mvdepth +pp", lambda f: run_ours(f, refine_principal_point=True))):
        t0 = time.perf_counter()
        cams = fn(folder)
        seconds = time.perf_counter() - t0
        rot, _ = relative_pose_errors(cams, truth)
        seen = [n for n in cams if n in truth]
        focal = [100 * abs(cams[n].K[0, 0] / truth[n].K[0, 0] - 1) for n in seen]
        principal = [np.hypot(*(cams[n].K[:2, 2] - truth[n].K[:2, 2])) for n in seen]
        rows.append([name, method, f"{len(cams)}/{len(truth)}",
                     float(np.degrees(np.median(rot))) if rot.size else np.nan,
                     centre_error(cams, truth) if len(cams) >= 3 else np.nan,
                     float(np.median(focal)) if focal else np.nan,
                     float(np.median(principal)) if principal else np.nan, seconds])
    ours, theirs, _ = rows
    rows.append([name, "mvdepth / pycolmap", "", *(a / b if b else np.nan
                                                for a, b in zip(ours[3:], theirs[3:]))])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fountain-scale", type=float, default=0.5)
    parser.add_argument("--skip-fountain", action="store_true")
    parser.add_argument("--skip-temple", action="store_true")
    args = parser.parse_args()
    rows = []
    temple = dataset_path("middlebury_mview")
    if temple is not None and not args.skip_temple:
        folder = temple / "templeSparseRing"
        rows += evaluate("templeSparseRing", folder, load_cameras(folder))
    if not args.skip_fountain:
        with tempfile.TemporaryDirectory() as tmp:
            truth = fountain(args.fountain_scale, Path(tmp) / "fountain")
            if truth is not None:
                rows += evaluate(f"fountain-P11 x{args.fountain_scale:g}", Path(tmp) / "fountain",
                                 truth)
    print_table("Self-calibrating SfM without intrinsics (rotation: median over registered pairs; "
                "centres: median after a similarity, truth units; focal: median |f / f_true - 1|; "
                "principal point: median distance to the truth)",
                ["data", "method", "registered", "rot med deg", "centre err", "focal err %",
                 "pp err px", "time s"], rows)


if __name__ == "__main__":
    main()
