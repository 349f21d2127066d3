"""`mvdepth sfm` / `mvdepth two-view`: the stages run in order, timed, written to a folder.

    load_images -> intrinsics (file > EXIF > guess) and camera groups -> extract_features
    -> select_pairs -> match_pairs -> focal initialisation of guessed groups -> verify_pairs
    (`match_images`) -> reconstruct (self-calibrating) -> write_sparse (+ report.html)
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geom import synth
from geom.io import check_output, load_cameras_json, output_folder
from geom.progress import STDERR, counter

from .. import depthmaps, export, features, flowmatches, images, matching, pairs
from ..intrinsics import resolve_intrinsics, save_intrinsics
from ..timing import Timer
from . import calibration, incremental, report, twoview
from . import dense as dense_stage

DENSE_METHODS = {"planesweep": dense_stage, "stereo": twoview}  # name -> depth_maps, fuse


def sparse_reconstruction(source, intrinsics=None, progress=STDERR, timer=None,
                          pair_method="auto", flow=None, seed=0, *, camera_mode="auto",
                          camera_model="SIMPLE_RADIAL", refine_principal_point=False):
    """Images (a folder or a list of files) -> (`ImageSet`, `Reconstruction`), stage timings in
    `timer` (a `Timer`): `match_images` (`pair_method`, `flow`, `seed`, `camera_mode`,
    `camera_model`, `refine_principal_point`: as there), then `reconstruct`."""
    timer = timer or Timer()
    m = match_images(source, intrinsics, progress, timer, pair_method, flow, seed,
                     camera_mode=camera_mode, camera_model=camera_model,
                     refine_principal_point=refine_principal_point)
    return m.images, reconstruct(m, progress, timer, seed)


def reconstruct(m, progress=STDERR, timer=None, seed=0):
    """`Matches` -> `Reconstruction` (`incremental.reconstruct` with `seed`, timed in `timer`),
    with the notes of `m`."""
    timer = timer or Timer()
    options = incremental.IncrementalOptions(seed=seed, refine=m.refine)
    with timer.stage("reconstruction"):
        rec = incremental.reconstruct(m.images.names, m.features, m.Ks, m.images.size,
                                      m.verified, options, progress, groups=m.groups,
                                      models=m.models)
    for g in rec.camera_groups:
        f, std = g["K"][0, 0], g["std"][0]
        which = g["images"][0] + (f" and {len(g['images']) - 1} more" if len(g["images"]) > 1
                                  else "")
        start = m.sources[m.images.names.index(g["images"][0])]
        if g["refine"][0] and np.isnan(std) and start != "EXIF":
            rec.notes.append(f"warning: the focal length of {which} was not refined (fewer than "
                             f"{options.min_calibration_images} views registered): the "
                             f"geometry rests on its start, {f:.0f} px ({start}); pass "
                             "--intrinsics for accurate results")
        elif std > calibration.FOCAL_WEAK * f:
            rec.notes.append(f"warning: the focal length of {which} is weakly constrained by the "
                             f"views ({f:.0f} +- {std:.0f} px): pass --intrinsics for accurate "
                             "results")
        else:
            continue
        progress(rec.notes[-1])
    rec.notes.extend(m.notes)
    return rec


@dataclass
class Matches:
    """What `match_images` found: the `ImageSet`, per image K (3, 3) (the start of refined
    intrinsics), the source of K ("file", "EXIF", "guess", "pairs": focal length initialised
    from the matches) and `features.Features`, the pairs matched, the verified ones
    (`matching.PairMatches`), notes for the report, the camera group per image (N,), per group
    whether its focal length, radial coefficient, cx and cy are refined (G, 4) and its COLMAP model
    name (None: one held PINHOLE camera per image)."""

    images: images.ImageSet
    Ks: list
    sources: list
    features: list
    pairs: list
    verified: list
    notes: list
    groups: np.ndarray = None
    refine: np.ndarray = None
    models: list = None


def match_images(source, intrinsics=None, progress=STDERR, timer=None, pair_method="auto",
                 flow=None, seed=0, *, camera_mode="auto", camera_model="SIMPLE_RADIAL",
                 refine_principal_point=False):
    """The stages before the reconstruction: load the images (a folder or a list of files),
    their intrinsics (`intrinsics`: an intrinsics file, or None for EXIF focal lengths or the
    guess, `intrinsics.resolve_intrinsics`), features, pair selection (`pair_method`, one of
    `pairs.METHODS`) and verified matches -> `Matches`; stage timings in `timer`. flow: a flow
    plug-in (`learned.load_flow`) whose dense matches augment the SIFT matches of each selected
    pair (`flowmatches.add_flow_matches`), or None. seed: of the pairs' RANSAC, per pair by its
    image names (`seeds.derive_seed`). camera_mode: how images share a camera
    (`calibration.camera_groups`); camera_model: the model refined where the intrinsics are
    not from a file, one of `calibration.CAMERA_MODELS` (file intrinsics are held);
    refine_principal_point: also refine those groups' principal points (else held at the image
    centre; `calibration.refine_flags`). A group
    whose focal length is a guess starts from `calibration.initial_focal` where its pairs
    determine one. Raises ValueError naming the folder when no pair verifies."""
    pairs.check_method(pair_method)  # fail before reading any image
    if camera_model not in calibration.CAMERA_MODELS:
        raise ValueError(f"camera model: expected one of {', '.join(calibration.CAMERA_MODELS)}"
                         f", got {camera_model!r}")
    if camera_mode not in calibration.CAMERA_MODES:
        raise ValueError(f"camera mode: expected one of {', '.join(calibration.CAMERA_MODES)}, "
                         f"got {camera_mode!r}")
    timer = timer or Timer()
    with timer.stage("load images"):
        imgs = images.load_images(source)
    images.require_size(imgs, features.MIN_IMAGE_SIDE, "feature matching")
    Ks, sources, notes = resolve_intrinsics(imgs, intrinsics)
    groups = calibration.camera_groups(imgs.paths, imgs.size, camera_mode)
    if intrinsics is not None:  # as given, each image its own
        groups = np.arange(len(imgs.names), dtype=np.int64)
    G = int(groups.max()) + 1
    held = [sources[np.flatnonzero(groups == g)[0]] == "file" for g in range(G)]
    refine = np.array([calibration.refine_flags(None if h else camera_model,
                                                refine_principal_point) for h in held])
    models = ["PINHOLE" if h else camera_model for h in held]
    for note in notes:
        progress(note)
    with timer.stage("features"):
        feats = features.extract_all(imgs.images, counter(progress, "features"))
    with timer.stage("pair selection"):
        selected = pairs.select_pairs(feats, imgs.names, pair_method)
    with timer.stage("matching"):
        candidates = matching.match_pairs(feats, selected,
                                          progress=counter(progress, "matching pairs"))
    if flow is not None:
        with timer.stage("flow"):
            feats, candidates = flowmatches.add_flow_matches(
                feats, imgs.images, candidates, flow, progress=counter(progress, "flow pairs"))
    guessed = [g for g in range(G) if all(sources[k] == "guess" for k in np.flatnonzero(groups == g))]
    if guessed:
        with timer.stage("focal initialisation"):
            _initial_focals(imgs, feats, candidates, groups, guessed, Ks, sources, notes,
                            progress, seed)
    with timer.stage("matching"):
        verified = matching.verify_pairs(feats, Ks, candidates,
                                         progress=counter(progress, "verifying pairs"),
                                         names=imgs.names, seed=seed)
    n = len(imgs.names)
    if not verified:
        cause = matching.lack_of_motion(feats, candidates)
        raise ValueError(f"{imgs.folder}: no pair of its {n} images shares enough verified "
                         f"matches ({len(selected)} pairs tried)" + (f": {cause}" if cause else ""))
    notes.append(f"pairs ({pairs.resolve_method(pair_method, n)}): {len(selected)} of "
                 f"{n * (n - 1) // 2} matched, {len(verified)} verified")
    progress(notes[-1])
    return Matches(imgs, Ks, sources, feats, selected, verified, notes, groups, refine, models)


def _initial_focals(imgs, feats, candidates, groups, guessed, Ks, sources, notes, progress,
                    seed):
    """Replace the guessed K of each group of `guessed` by one with `calibration.initial_focal`
    where its pairs determine it (Ks, sources, notes updated in place)."""
    w, h = imgs.size
    for g in guessed:
        members = set(np.flatnonzero(groups == g).tolist())
        own = [pm for pm in candidates if pm.i in members and pm.j in members]
        f, _, _ = calibration.initial_focal(feats, own, imgs.size, seed, imgs.names)
        if f is None:
            notes.append(f"focal length of {len(members)} images not determined by their pairs "
                         "(e.g. optical axes through one point): bundle adjustment refines the "
                         "guess where "
                         f"{incremental.IncrementalOptions.min_calibration_images} or more "
                         "views register")
        else:
            for k in members:
                Ks[k] = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0, 0, 1.0]])
                sources[k] = "pairs"
            notes.append(f"focal length of {len(members)} images initialised from their "
                         f"fundamental matrices: {f:.0f} px ({f / max(w, h):.2f} max(W, H))")
        progress(notes[-1])


def run(source, output, intrinsics=None, overwrite=False, progress=STDERR, dense=False,
        pair_method="auto", dense_method="planesweep", flow=None, seed=0, *,
        camera_mode="auto", camera_model="SIMPLE_RADIAL", refine_principal_point=False):
    """Reconstruct `source` and write `output` (see `export` and `report`); returns the
    `Reconstruction`. A `cameras.json` beside the images is read as ground truth for the report.
    dense: also depth maps (`depth/<image>.npy` + preview PNG) and `dense.ply`, by
    `dense_method`: "planesweep" (`dense`, every image) or "stereo" (`twoview`: rectified stereo
    of two images, depth of the first). pair_method: as for `sparse_reconstruction`. flow: a
    flow plug-in name or weights file (`learned.load_flow`) whose dense matches augment the SIFT
    matches, or None (SIFT only). seed: of the random sampling (see `match_images`).
    camera_mode, camera_model, refine_principal_point: self-calibration, as for
    `match_images`."""
    if dense_method not in DENSE_METHODS:
        raise ValueError(f"dense_method: expected one of {sorted(DENSE_METHODS)}, "
                         f"got {dense_method!r}")
    method = DENSE_METHODS[dense_method]
    output = Path(output)
    inputs = images.input_paths(source, intrinsics, flow)
    check_output(output, overwrite, inputs)
    flow_plugin = None
    if flow is not None:  # an unknown name fails before any image is read
        import learned
        flow_plugin = learned.load_flow(flow)
    timer = Timer()
    m = match_images(source, intrinsics, progress, timer, pair_method, flow_plugin, seed,
                     camera_mode=camera_mode, camera_model=camera_model,
                     refine_principal_point=refine_principal_point)
    imgs, rec = m.images, reconstruct(m, progress, timer, seed)
    truth_file = imgs.folder / "cameras.json"
    truth = load_cameras_json(truth_file) if truth_file.is_file() else None
    depths = {}
    if dense:
        with timer.stage("dense"):
            depths = method.depth_maps(imgs, rec, progress=progress)
    with output_folder(output, overwrite, inputs) as tmp:
        with timer.stage("write"):
            written = export.write_sparse(rec, tmp)
        if written == "binary":
            rec.notes.append("image names with spaces: the COLMAP model in sparse/ is binary "
                             "(COLMAP's text format cannot hold them)")
            progress(rec.notes[-1])
        if dense:
            with timer.stage("fusion"):
                fused = method.fuse(imgs, rec, depths)
            depthmaps.write_depths(tmp / "depth", depths)
            export.write_ply(tmp / "dense.ply", *fused)
            progress(f"dense: {len(fused[0])} fused points")
        report.write_report(tmp / "report.html", m, rec, timer, truth, depths)
    errors = rec.reprojection_errors()
    progress(f"registered {len(rec.cameras)}/{len(imgs.names)} images, {len(rec.points)} points, "
             f"mean reprojection error {errors.mean():.2f} px")
    print(f"wrote {output} (open {output / 'report.html'})")
    return rec


def run_sample(output, overwrite=False, progress=STDERR, dense=False, pair_method="auto",
               flow=None, seed=0):
    """`mvdepth sfm` without images: render the built-in sample (a 16-view synthetic ring,
    `geom.synth.orbit_ring`, 480x360) into a temporary folder and reconstruct it with its known
    intrinsics; the report compares the cameras with the truth."""
    output = Path(output)
    check_output(output, overwrite)
    progress("no IMAGES given: rendering the built-in sample (16-view synthetic ring)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = synth.write_folder(synth.render(synth.orbit_ring(16, 0, 480, 360)),
                                    Path(tmp) / "sample_ring")
        truth = load_cameras_json(folder / "cameras.json")
        save_intrinsics(Path(tmp) / "K.txt", {n: c.K for n, c in truth.items()})
        return run(folder, output, Path(tmp) / "K.txt", overwrite, progress, dense=dense,
                   pair_method=pair_method, flow=flow, seed=seed)
