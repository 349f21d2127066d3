"""`mvdepth sfm` / `mvdepth two-view`: the stages run in order, timed, written to a folder.

    load_images -> intrinsics -> extract_features -> match_and_verify -> reconstruct
    -> write_sparse (+ report.html)
"""
import sys
import tempfile
import time
from pathlib import Path

from geom import synth
from geom.io import load_cameras_json, output_folder

from . import dense as dense_stage
from . import export, features, images, incremental, report


class Timer:
    """Wall time per named stage, in the order run."""

    def __init__(self):
        self.stages = {}

    def __call__(self, name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0
        return out


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


def sparse_reconstruction(source, intrinsics=None, progress=_progress, timer=None):
    """Images (a folder or a list of files) -> (`ImageSet`, `Reconstruction`), stage timings in
    `timer` (a `Timer`). intrinsics: path of an intrinsics file, or None for the guess."""
    timer = timer or Timer()
    imgs = timer("load images", images.load_images, source)
    notes = []
    if intrinsics is None:
        K = images.default_intrinsics(*imgs.size)
        Ks = [K] * len(imgs.names)
        notes.append(f"no intrinsics given: focal length guessed as {images.GUESS_FOCAL_FACTOR} "
                     f"x max(W, H) = {K[0, 0]:.0f} px; pass --intrinsics for accurate results")
        progress("warning: " + notes[-1])
    else:
        table = images.load_intrinsics(intrinsics, imgs.names)
        Ks = [table[n] for n in imgs.names]
    feats = []
    t0 = time.perf_counter()
    for k, img in enumerate(imgs.images):
        feats.append(features.extract_features(img))
        _count(progress, "features", k + 1, len(imgs.images))
    timer.stages["features"] = time.perf_counter() - t0
    pairs = features.select_pairs(len(imgs.names))
    verified = timer("matching", features.match_and_verify, feats, Ks, pairs,
                     progress=lambda d, n: _count(progress, "matching pairs", d, n))
    progress(f"{len(verified)} of {len(pairs)} pairs verified")
    rec = timer("reconstruction", incremental.reconstruct, imgs.names, feats, Ks, imgs.size,
                verified, progress=progress)
    rec.notes.extend(notes)
    return imgs, rec


def _count(progress, what, done, total):
    if done == total or done % max(1, total // 10) == 0:
        progress(f"{what}: {done}/{total}")


def run(source, output, intrinsics=None, overwrite=False, progress=_progress, dense=False):
    """Reconstruct `source` and write `output` (see `export` and `report`); returns the
    `Reconstruction`. A `cameras.json` beside the images is read as ground truth for the report.
    dense: also plane-sweep depth maps (`depth/<image>.npy` + preview PNG) and `dense.ply`."""
    output = Path(output)
    if output.exists() and not overwrite:  # fail before spending time
        raise FileExistsError(f"{output}: already exists (use --overwrite to replace it)")
    timer = Timer()
    imgs, rec = sparse_reconstruction(source, intrinsics, progress, timer)
    truth_file = imgs.folder / "cameras.json"
    truth = load_cameras_json(truth_file) if truth_file.is_file() else None
    depths = timer("dense", dense_stage.depth_maps, imgs, rec, progress=progress) if dense else {}
    with output_folder(output, overwrite) as tmp:
        timer("write", export.write_sparse, rec, tmp)
        if dense:
            fused = timer("fusion", dense_stage.fuse, imgs, rec, depths)
            export.write_depths(tmp / "depth", depths, dense_stage.depth_preview)
            export.write_ply(tmp / "dense.ply", *fused)
            progress(f"dense: {len(fused[0])} fused points")
        report.write_report(tmp / "report.html", imgs, rec, timer.stages, truth,
                            {n: dense_stage.depth_preview(d) for n, d in depths.items()})
    errors = rec.reprojection_errors()
    progress(f"registered {len(rec.cameras)}/{len(imgs.names)} images, {len(rec.points)} points, "
             f"mean reprojection error {errors.mean():.2f} px")
    print(f"wrote {output} (open {output / 'report.html'})")
    return rec


def run_sample(output, overwrite=False, progress=_progress, dense=False):
    """`mvdepth sfm` without images: render the built-in sample (a 16-view synthetic ring,
    `geom.synth.orbit_ring`, 480x360) into a temporary folder and reconstruct it with its known
    intrinsics; the report compares the cameras with the truth."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: already exists (use --overwrite to replace it)")
    progress("no IMAGES given: rendering the built-in sample (16-view synthetic ring)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = synth.write_folder(synth.render(synth.orbit_ring(16, 0, 480, 360)),
                                    Path(tmp) / "sample_ring")
        truth = load_cameras_json(folder / "cameras.json")
        images.save_intrinsics(Path(tmp) / "K.txt", {n: c.K for n, c in truth.items()})
        return run(folder, output, Path(tmp) / "K.txt", overwrite, progress, dense)
