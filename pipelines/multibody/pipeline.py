"""`mvdepth multibody`: the stages run in order, timed, written to a folder.

    load_images -> intrinsics (file > EXIF > guess) -> features -> match_pairs (every pair)
    -> segment (+ synchronise) -> background cameras (static pipeline on the background's
    matches) -> body_motions -> monocular depths -> reconcile_scales -> dense_depths
    -> write_output (+ report.html)
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geom.epipolar import fundamental_from_cameras
from geom.io import check_output, output_folder
from geom.progress import STDERR, counter
from pipelines import features, flowmatches, images, matching, pairs
from pipelines.depthmaps import monocular_depths
from pipelines.intrinsics import resolve_intrinsics
from pipelines.sfm import incremental
from pipelines.timing import Timer

from . import dense, evaluate, motion, output, segmentation

DEFAULT_DEPTH = "unet-synth"


@dataclass
class MultiBodyResult:
    """A multi-body reconstruction of images `names`.

    features: per image SIFT `Features` (with the flow matches' points when used); cameras: dict
    image name -> the background `Camera` of the registered images; background: the static
    pipeline's `Reconstruction` of the background; segmentation: `Segmentation`; motions: dict
    (i, j, body) -> `BodyMotion`; dense: dict view -> (depth, labels, bodies swept);
    depth_plugin: the depth plug-in's name or None; notes: degradations and remarks.
    """

    names: list
    features: list
    cameras: dict
    background: object
    segmentation: object
    motions: dict
    dense: dict
    depth_plugin: str | None
    notes: list = field(default_factory=list)

    def body_scaled(self, body):
        """True when every motion of `body` has a scale."""
        mos = [m for (_, _, b), m in self.motions.items() if b == body]
        return bool(mos) and all(np.isfinite(m.scale) for m in mos)


def load_depth_plugin(name):
    """(estimator or None, note). name: a plug-in name or weights path (errors propagate: the
    user asked for it), 'none' (no depth), or None for `DEFAULT_DEPTH` when it loads, else no
    depth with a note saying so."""
    import learned
    if name is not None and name.lower() == "none":
        return None, "no depth plug-in (--depth none): bodies other than the background unscaled"
    try:
        est = learned.load_depth(DEFAULT_DEPTH if name is None else name)
    except (ValueError, FileNotFoundError, ImportError) as err:
        if name is not None:
            raise
        return None, (f"default depth plug-in {DEFAULT_DEPTH!r} unavailable ({err}): bodies other "
                      f"than the background unscaled; pass --depth NAME")
    if est.output == "affine":
        raise ValueError(f"--depth {name or DEFAULT_DEPTH}: its output is up to scale and shift; "
                         f"the scale reconciliation needs depth up to scale")
    return est, ""


def reconstruct(imgs, Ks, depth_estimator=None, depth_name=None, threshold=1.0, seed=0,
                num_planes=64, flow=None, progress=STDERR, timer=None):
    """Run stages 1-5 on an `ImageSet` with per-image intrinsics Ks -> `MultiBodyResult`.
    depth_estimator: a depth plug-in (see `learned.plugins`) or None (bodies left unscaled);
    flow: a flow plug-in whose dense matches augment the SIFT matches, or None."""
    timer = timer or Timer()
    with timer.stage("features"):
        feats = features.extract_all(imgs.images, counter(progress, "features"))
    with timer.stage("matching"):
        matches = matching.match_pairs(feats, pairs.exhaustive_pairs(len(feats)),
                                       progress=counter(progress, "matching pairs"))
    if flow is not None:
        with timer.stage("flow"):
            feats, matches = flowmatches.add_flow_matches(
                feats, imgs.images, matches, flow, progress=counter(progress, "flow pairs"))
    progress("matches per pair: "
             + ", ".join(f"{pm.i}-{pm.j}: {len(pm.matches)}" for pm in matches))
    with timer.stage("segmentation"):
        seg = segmentation.segment(feats, matches, threshold, seed=seed)
    progress(f"pairwise segmentation: {seg.n_bodies} bodies")
    with timer.stage("cameras"):
        rec = _background_cameras(imgs, feats, Ks, seg, threshold, seed, progress)
    names, cameras = imgs.names, rec.cameras
    if len(cameras) < 2:
        raise ValueError("the background's matches do not register two views")
    with timer.stage("segmentation"):
        seg = segmentation.absorb_background(
            seg, feats, {(i, j): fundamental_from_cameras(cameras[names[i]], cameras[names[j]])
                         for (i, j) in seg.pair_bodies
                         if names[i] in cameras and names[j] in cameras},
            threshold)
    progress(f"segmentation: {seg.n_bodies} bodies, matches per body {seg.support.tolist()}")
    with timer.stage("motions"):
        motions, notes = motion.body_motions(feats, Ks, seg, names, cameras, threshold, seed)
    depths = None
    if depth_estimator is not None:
        with timer.stage("monocular depth"):
            depths = monocular_depths(depth_estimator, imgs.images,
                                      counter(progress, "monocular depth"))
    with timer.stage("scales"):
        motion.reconcile_scales(motions, feats, depths)
    result = MultiBodyResult(names, feats, cameras, rec, seg, motions, {}, depth_name,
                             seg.notes + rec.notes + notes)
    for b in range(1, seg.n_bodies):
        unscaled = sorted({m.note for (_, _, bb), m in motions.items() if bb == b and m.note})
        if not any(bb == b for (_, _, bb) in motions):
            result.notes.append(f"body {b}: no pose in any pair (seen in one view only, or too "
                                f"few matches): left out of the dense maps")
        elif unscaled:
            result.notes.append(f"body {b}: left unscaled ({'; '.join(unscaled)}): left out of "
                                f"the dense maps")
    for n in result.notes:
        progress("note: " + n)
    with timer.stage("dense"):
        result.dense = dense.dense_depths(imgs.images, names, cameras, motions, seg.n_bodies,
                                          rec.points, num_planes, [f.keypoints for f in feats],
                                          seg.keypoint_bodies, progress=progress)
    return result


def _background_cameras(imgs, feats, Ks, seg, threshold, seed, progress):
    """The static pipeline (`incremental.reconstruct`) on the background's verified matches."""
    verified = []
    for k, ((i, j), bodies) in enumerate(sorted(seg.pair_bodies.items())):
        if 0 in bodies:
            v = matching.verify_pair(feats, Ks, matching.PairMatches(i, j, bodies[0]), threshold,
                                     seed=seed + k)
            if v is not None:
                verified.append(v)
    if not verified:
        raise ValueError("no pair of views has a verified background motion")
    return incremental.reconstruct(imgs.names, feats, Ks, imgs.size, verified,
                                   incremental.IncrementalOptions(seed=seed), progress)


def run(source, out, intrinsics=None, depth=None, overwrite=False, progress=STDERR,
        threshold=1.0, seed=0, flow=None):
    """Reconstruct the images `source` (a folder or a list of files) and write `out` (see
    `output.write_output`); returns the `MultiBodyResult`. depth: see `load_depth_plugin`. The
    synthetic writer's ground truth beside the images (cameras.json, labels/, depth/,
    bodies.json) is compared with in the report. flow: a flow plug-in name (`learned.load_flow`)
    whose dense matches augment the SIFT matches, or None (default: SIFT only)."""
    out = Path(out)
    inputs = images.input_paths(source, intrinsics, depth, flow)
    check_output(out, overwrite, inputs)
    timer = Timer()
    with timer.stage("load images"):
        imgs = images.load_images(source)
    images.require_size(imgs, features.MIN_IMAGE_SIDE, "feature matching")
    Ks, sources, notes = resolve_intrinsics(imgs, intrinsics)
    estimator, note = load_depth_plugin(depth)
    notes += ["warning: " + note] if note else []
    for n in notes:
        progress(n)
    flow_plugin = None
    if flow is not None:
        import learned
        flow_plugin = learned.load_flow(flow)
    depth_name = None if estimator is None else (depth or DEFAULT_DEPTH)
    result = reconstruct(imgs, Ks, estimator, depth_name, threshold, seed, flow=flow_plugin,
                         progress=progress, timer=timer)
    result.notes[:0] = notes
    truth = evaluate.load_truth(imgs.folder, imgs.names)
    with output_folder(out, overwrite, inputs) as tmp:
        with timer.stage("write"):
            output.write_output(tmp, imgs, result, timer, truth, sources)
    print(f"wrote {out} (open {out / 'report.html'})")
    return result
