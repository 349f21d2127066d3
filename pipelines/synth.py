"""`mvdepth synth`: write a synthetic image folder with complete ground truth (`geom.synth`)."""
import sys
import time

from geom import synth
from geom.io import check_output

# kind -> (scene generator over (seed, width, height, n_frames), default frame count, help)
KINDS = {
    "stereo": (lambda s, w, h, n: synth.stereo_rig(s, w, h), 2, "rectified stereo pair"),
    "ring": (lambda s, w, h, n: synth.orbit_ring(n, s, w, h), 24,
             "camera orbiting a static object (SfM ring)"),
    "bodies1": (lambda s, w, h, n: synth.moving_bodies(1, n, s, w, h), 5,
                "moving camera, one moving body"),
    "bodies2": (lambda s, w, h, n: synth.moving_bodies(2, n, s, w, h), 5,
                "moving camera, two moving bodies"),
    "bodies3": (lambda s, w, h, n: synth.moving_bodies(3, n, s, w, h), 5,
                "moving camera, three moving bodies"),
    "layers": (lambda s, w, h, n: synth.flying_layers(s, w, h, n_frames=n), 2,
               "FlyingChairs-like moving planar layers"),
    "random": (lambda s, w, h, n: synth.random_scene(s, w, h, n_frames=n), 2,
               "random 3D room with moving objects"),
}


def parse_size(text):
    """'WxH' -> (W, H)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    if w < 8 or h < 8:
        raise ValueError(f"--size: width and height must be at least 8, got {text!r}")
    return w, h


def run(kind, folder, seed=0, frames=None, size="640x480", overwrite=False):
    """Generate a scene of `kind`, render it and write it to `folder`; prints a one-line summary."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    make, default_frames, _ = KINDS[kind]
    n = default_frames if frames is None else frames
    if kind == "stereo" and n != 2:
        raise ValueError(f"--frames: a stereo pair has 2 frames, got {n}")
    width, height = parse_size(size)
    if seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {seed}")
    if n < 1:
        raise ValueError(f"--frames: expected a positive integer, got {n}")
    check_output(folder, overwrite)  # before spending time on rendering
    t0 = time.perf_counter()
    scene = make(seed, width, height, n)
    frames = []
    for f in range(n):
        print(f"\rrendering frame {f + 1}/{n}", end="", file=sys.stderr, flush=True)
        frames.append(synth.render_frame(scene, f))
    print(" - writing ground truth", file=sys.stderr, flush=True)
    path = synth.write_folder(synth.Sequence(scene, frames), folder, overwrite=overwrite)
    print(f"wrote {n} {width}x{height} frames of '{kind}' (seed {seed}) with depth, labels, "
          f"flow and cameras to {path} in {time.perf_counter() - t0:.1f} s")
