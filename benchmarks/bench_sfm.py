"""Incremental SfM against pycolmap (SIFT, exhaustive matching, incremental mapping) in the same
process, with the same known intrinsics, on Middlebury templeSparseRing (16 views, ground-truth
cameras) and on a synthetic 16-view ring from `geom.synth` (exact truth).

Reported per method: registered views, median and max relative rotation error and relative
translation direction error over all registered pairs (degrees, `pipelines.evaluate`),
mean reprojection error (pixels), points, CPU time (all threads) and wall time of the whole run
(features to model) as medians over `--repeat` runs (default 1: one run takes seconds), and
mvdepth's wall time per stage. On a shared machine the CPU times tell more than the wall times.
On the synthetic ring also the dense step (`pipelines.sfm.dense.depth_maps`): depth AbsRel against
the rendered depth after one global scale, and the share of pixels with a depth.

    python -m benchmarks.bench_sfm [--repeat N] [--skip-synthetic]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import print_table
from geom import synth
from geom.camera import Camera
from geom.io import load_cameras_json
from pipelines.datasets import dataset_path
from pipelines.datasets.middlebury_mview import load_cameras
from pipelines.evaluate import depth_absrel, relative_pose_errors
from pipelines.intrinsics import save_intrinsics
from pipelines.multibody.evaluate import load_truth
from pipelines.sfm import dense as sfm_dense
from pipelines.sfm.pipeline import sparse_reconstruction
from pipelines.timing import Timer


def run_ours(folder, K_file, stages):
    timer = Timer()
    _, rec = sparse_reconstruction(folder, K_file, progress=lambda msg: None, timer=timer)
    for name, seconds in timer.stages.items():
        stages.setdefault(name, []).append(seconds)
    return rec.cameras, float(rec.reprojection_errors().mean()), len(rec.points)


def run_pycolmap(folder, K, camera_model="PINHOLE"):
    """pycolmap's SfM of `folder` with one camera: PINHOLE K held, or, with K None, the
    `camera_model` self-calibrated (COLMAP's defaults: focal and extra parameters refined from
    its own guess) -> (cameras dict name -> Camera, mean reprojection error, points)."""
    import pycolmap
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.db"
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = camera_model
        if K is not None:  # COLMAP's pixel origin is the corner of the top-left pixel: +0.5
            reader.camera_params = f"{K[0, 0]},{K[1, 1]},{K[0, 2] + 0.5},{K[1, 2] + 0.5}"
        pycolmap.extract_features(db, folder, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, device=pycolmap.Device.cpu)
        pycolmap.match_exhaustive(db, device=pycolmap.Device.cpu)
        opts = pycolmap.IncrementalPipelineOptions()
        if K is not None:
            opts.ba_refine_focal_length = False
            opts.ba_refine_principal_point = False
            opts.ba_refine_extra_params = False
        models = pycolmap.incremental_mapping(db, folder, Path(tmp) / "sparse", opts)
    if not models:
        return {}, float("nan"), 0
    model = max(models.values(), key=lambda m: m.num_reg_images())
    cams = {}
    for image in model.images.values():
        if image.has_pose:
            pose = image.cam_from_world()
            Kc = model.cameras[image.camera_id].calibration_matrix() - np.array(
                [[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])
            cams[image.name] = Camera(Kc, pose.rotation.matrix(), pose.translation)
    return cams, float(model.compute_mean_reprojection_error()), model.num_points3D()


def evaluate(name, folder, truth, repeat, stage_rows):
    K = next(iter(truth.values())).K
    rows, stages = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        K_file = Path(tmp) / "K.txt"
        save_intrinsics(K_file, {n: c.K for n, c in truth.items()})
        methods = {"mvdepth": lambda: run_ours(folder, K_file, stages),
                   "pycolmap": lambda: run_pycolmap(folder, K)}
        times = {}
        for method, fn in methods.items():
            runs, cpu = [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                out = fn()
                runs.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            times[method] = float(np.median(runs))
            cams, err, n_points = out
            rot, trans = relative_pose_errors(cams, truth)
            deg = np.degrees
            rows.append([name, method, f"{len(cams)}/{len(truth)}",
                         deg(np.median(rot)) if rot.size else float("nan"),
                         deg(rot.max()) if rot.size else float("nan"),
                         deg(np.median(trans)) if trans.size else float("nan"),
                         deg(trans.max()) if trans.size else float("nan"),
                         err, n_points, float(np.median(cpu)), times[method]])
    for row in rows:
        row.append(row[-1] / times["pycolmap"])
    stage_rows.append([name] + [float(np.median(v)) for v in stages.values()])
    return rows, list(stages)


def dense_absrel(folder):
    """[views, AbsRel, coverage %, seconds] of `dense.depth_maps` on a synthetic folder (its
    own cameras.json as intrinsics) against the rendered depth."""
    with tempfile.TemporaryDirectory() as tmp:
        K_file = Path(tmp) / "K.txt"
        save_intrinsics(K_file, {n: c.K for n, c in load_cameras_json(folder / "cameras.json").items()})
        imgs, rec = sparse_reconstruction(folder, K_file, progress=lambda msg: None)
    t0 = time.perf_counter()
    depths = sfm_dense.depth_maps(imgs, rec)
    seconds = time.perf_counter() - t0
    truth = load_truth(folder, imgs.names)
    absrel, coverage = depth_absrel(depths, truth, {n: truth.depth[n] > 0 for n in depths})["all"]
    return [len(depths), absrel, 100 * coverage, seconds]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    rows, stage_rows = [], []
    temple = dataset_path("middlebury_mview")
    if temple is None:
        print("middlebury_mview not found (set MVDEPTH_DATA): temple ring skipped")
    else:
        folder = temple / "templeSparseRing"
        new, stages = evaluate("templeSparseRing", folder, load_cameras(folder), args.repeat,
                               stage_rows)
        rows += new
    if not args.skip_synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            folder = synth.write_folder(synth.render(synth.orbit_ring(16, 0, 640, 480)),
                                        Path(tmp) / "ring")
            new, stages = evaluate("synthetic ring 16", folder,
                                   load_cameras_json(folder / "cameras.json"), args.repeat,
                                   stage_rows)
            rows += new
            dense_row = dense_absrel(folder)
    print_table("Incremental SfM with known intrinsics (errors over all registered pairs, degrees)",
                ["data", "method", "registered", "rot med", "rot max", "dir med", "dir max",
                 "reproj px", "points", "cpu s", "time s", "time / pycolmap"], rows)
    if stage_rows:
        print_table("mvdepth wall time per stage (s, medians)", ["data"] + stages, stage_rows)
    if not args.skip_synthetic:
        print_table("Dense step on the synthetic ring (plane sweep per view from its neighbours; "
                    "AbsRel after one global scale, over the pixels with a depth)",
                    ["views", "AbsRel", "pixels with a depth %", "time s"], [dense_row])


if __name__ == "__main__":
    main()
