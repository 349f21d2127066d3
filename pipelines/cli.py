"""The `mvdepth` command line. Each subcommand is a small function over plain arguments; the
heavy modules are imported when their subcommand runs, so `mvdepth --help` stays fast."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="mvdepth",
        description="Multi-view geometry, stereo, structure from motion and depth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_synth(sub)
    _add_sfm(sub)
    _add_two_view(sub)
    _add_multibody(sub)
    _add_stereo(sub)
    _add_flow(sub)
    _add_depth(sub)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, OSError) as err:
        print(f"mvdepth {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mvdepth {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130


def _number(kind, test, expected):
    """An argparse type: `kind` (int or float) values passing `test`, else an error saying
    `expected`."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


SEED = _number(int, lambda v: 0 <= v < 2 ** 31, "an integer from 0 to 2**31 - 1")
NON_NEGATIVE = _number(float, lambda v: 0 <= v < float("inf"), "a finite number >= 0")
POSITIVE = _number(float, lambda v: 0 < v < float("inf"), "a finite number > 0")


def _add_seed(p):
    p.add_argument("--seed", type=SEED, default=0,
                   help="random seed of the sampling; each pair's seed derives from it and the "
                        "pair's image names (default 0)")


def _add_quiet(p):
    p.add_argument("--quiet", action="store_true",
                   help="no progress on stderr (bars on a terminal, plain lines otherwise)")


def _progress(a):
    from geom.progress import Progress
    return Progress(quiet=a.quiet)


def _add_demo(sub):
    p = sub.add_parser("demo", help="two-view geometry on a built-in synthetic sample, with errors "
                                    "against the known truth")
    p.add_argument("--seed", type=SEED, default=1, help="random seed of the sample (default 1)")
    p.add_argument("--noise", type=NON_NEGATIVE, default=0.5,
                   help="pixel noise sigma (default 0.5)")
    p.set_defaults(run=_run_demo)


def _run_demo(a):
    from pipelines import demo
    return demo.run(a.seed, a.noise)


def _add_synth(sub):
    from pipelines.synth import KINDS
    p = sub.add_parser("synth", help="render a synthetic image folder with ground truth (depth, "
                                     "labels, flow, cameras)")
    p.add_argument("kind", metavar="KIND", choices=list(KINDS),
                   help="; ".join(f"{k}: {v[2]}" for k, v in KINDS.items()))
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--frames", type=int, default=None, help="number of frames (default per kind)")
    p.add_argument("--size", default="640x480", help="image size WxH (default 640x480)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(run=_run_synth)


def _run_synth(a):
    from pipelines import synth
    synth.run(a.kind, a.output, a.seed, a.frames, a.size, a.overwrite)


def _add_sfm(sub):
    p = sub.add_parser("sfm", help="structure from motion: cameras, sparse points and a report "
                                   "from an image folder")
    p.add_argument("images", metavar="IMAGES", nargs="?", default=None,
                   help="folder of JPEG/PNG images (one size); omitted: the built-in sample, a "
                        "synthetic ring rendered on the spot")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--intrinsics", default=None,
                   help="K.txt: one 3x3 matrix, or lines 'name k11 ... k33' (default: the "
                        "EXIF focal length of each image, else a guess f = 1.2 max(W, H), "
                        "flagged in the report)")
    p.add_argument("--camera-mode", default="auto", choices=("auto", "single", "per-image"),
                   help="which images share one camera's intrinsics in bundle adjustment: auto "
                        "(default: by EXIF make, model and focal length; images without EXIF "
                        "share one), single, per-image")
    p.add_argument("--camera-model", default="SIMPLE_RADIAL",
                   choices=("SIMPLE_RADIAL", "SIMPLE_PINHOLE"),
                   help="camera model refined when --intrinsics is not given: SIMPLE_RADIAL "
                        "(default, as COLMAP: focal length and one radial coefficient) or "
                        "SIMPLE_PINHOLE (focal length); the principal point stays centred "
                        "unless --refine-principal-point")
    p.add_argument("--refine-principal-point", action="store_true",
                   help="also refine the principal point of each camera group (without "
                        "--intrinsics; default: held at the image centre, where an off-centre "
                        "one biases the focal length and k)")
    p.add_argument("--pairs", default="auto",  # = pipelines.pairs.METHODS, not imported
                   choices=("auto", "exhaustive", "retrieval", "sequential"),
                   help="image pairs to match: exhaustive (all), retrieval (each image with its "
                        "10 most similar by a global descriptor, plus sequential ones when the "
                        "names are numbered), sequential (each with its 3 successors by name "
                        "number); auto (default): exhaustive up to 30 images, retrieval above")
    p.add_argument("--dense", action="store_true",
                   help="also plane-sweep depth maps per image (depth/) fused into dense.ply")
    p.add_argument("--flow", default=None, metavar="NAME",
                   help="also dense matches of each selected pair from this flow plug-in (e.g. "
                        "dis-medium), sampled on a grid and checked forward-backward (default: "
                        "SIFT matches only)")
    _add_seed(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_quiet(p)
    p.set_defaults(run=_run_sfm)


def _run_sfm(a):
    from pipelines.sfm import pipeline
    if a.images is None:
        if a.intrinsics is not None:
            raise ValueError("--intrinsics: only with IMAGES (the sample has its own)")
        pipeline.run_sample(a.output, a.overwrite, _progress(a), dense=a.dense,
                            pair_method=a.pairs, flow=a.flow, seed=a.seed)
    else:
        pipeline.run(a.images, a.output, a.intrinsics, a.overwrite, _progress(a), dense=a.dense,
                     pair_method=a.pairs, flow=a.flow, seed=a.seed, camera_mode=a.camera_mode,
                     camera_model=a.camera_model,
                     refine_principal_point=a.refine_principal_point)


def _add_two_view(sub):
    p = sub.add_parser("two-view", help="relative pose and sparse points of two images")
    p.add_argument("image1", metavar="IMG1")
    p.add_argument("image2", metavar="IMG2")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--intrinsics", default=None, help="as for `mvdepth sfm`")
    p.add_argument("--dense", action="store_true",
                   help="also a depth map of IMG1 by rectified stereo (depth/) and dense.ply")
    _add_seed(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_quiet(p)
    p.set_defaults(run=_run_two_view)


def _run_two_view(a):
    from pipelines.sfm import pipeline
    pipeline.run([a.image1, a.image2], a.output, a.intrinsics, a.overwrite, _progress(a),
                 dense=a.dense, dense_method="stereo", seed=a.seed)


def _add_multibody(sub):
    p = sub.add_parser("multibody", help="moving rigid bodies from a few views: segmentation, "
                                         "per-body poses in one scale, depth and labels per pixel")
    p.add_argument("images", metavar="IMAGES", help="folder of JPEG/PNG images (one size)")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--intrinsics", default=None, help="as for `mvdepth sfm`")
    p.add_argument("--depth", default=None, metavar="NAME",
                   help="monocular depth plug-in (name or weights file) that fixes the bodies' "
                        "relative scales; 'none' for none (bodies left unscaled, flagged); "
                        "default 'unet-synth' when its weights are installed, else none (flagged)")
    p.add_argument("--flow", default=None, metavar="NAME",
                   help="also dense matches from this flow plug-in (e.g. dis-medium), sampled on "
                        "a grid and checked forward-backward (default: SIFT matches only)")
    _add_seed(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_quiet(p)
    p.set_defaults(run=_run_multibody)


def _run_multibody(a):
    from pipelines.multibody import pipeline
    pipeline.run(a.images, a.output, a.intrinsics, a.depth, a.overwrite, _progress(a),
                 flow=a.flow, seed=a.seed)


def _add_stereo(sub):
    p = sub.add_parser("stereo", help="disparity (and depth) of a rectified stereo pair")
    p.add_argument("left", metavar="LEFT")
    p.add_argument("right", metavar="RIGHT")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--num-disparities", type=int, default=64,
                   help="candidate disparities from --min-disparity up (default 64)")
    p.add_argument("--min-disparity", type=int, default=0, help="default 0")
    p.add_argument("--focal", type=POSITIVE, default=None,
                   help="focal length in pixels (for depth)")
    p.add_argument("--baseline", type=POSITIVE, default=None, help="baseline (for depth)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(run=_run_stereo)


def _run_stereo(a):
    from pipelines import stereo
    stereo.run(a.left, a.right, a.output, a.num_disparities, a.min_disparity, a.focal,
               a.baseline, a.overwrite)


def _add_flow(sub):
    p = sub.add_parser("flow", help="optical flow from IMG1 to IMG2 by a flow plug-in")
    p.add_argument("image1", metavar="IMG1")
    p.add_argument("image2", metavar="IMG2")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--method", default="dis-medium", metavar="NAME",
                   help="flow plug-in: name (e.g. dis-fast, farneback, raft-small) or weights "
                        "file (default dis-medium)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(run=_run_flow)


def _run_flow(a):
    from pipelines import plugins_cli
    plugins_cli.run_flow(a.image1, a.image2, a.output, a.method, a.overwrite)


def _add_depth(sub):
    p = sub.add_parser("depth", help="monocular depth of each image by a depth plug-in")
    p.add_argument("images", metavar="IMAGES", nargs="+", help="image files (JPEG/PNG)")
    p.add_argument("-o", "--output", required=True, help="output folder (must not exist)")
    p.add_argument("--model", default="unet-synth", metavar="NAME",
                   help="depth plug-in: name (e.g. unet-synth, depth-anything:<id>) or weights "
                        "file (default unet-synth)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_quiet(p)
    p.set_defaults(run=_run_depth)


def _run_depth(a):
    from pipelines import plugins_cli
    plugins_cli.run_depth(a.images, a.output, a.model, a.overwrite, _progress(a))


if __name__ == "__main__":
    sys.exit(main())
