"""The `mvdepth` command line. Each subcommand is a small function over plain arguments."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="mvdepth",
        description="Multi-view geometry, stereo, structure from motion and depth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_synth(sub)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"mvdepth {args.command}: error: {err}", file=sys.stderr)
        return 2


def _add_demo(sub):
    p = sub.add_parser("demo", help="two-view geometry on a built-in synthetic sample, with errors "
                                    "against the known truth")
    p.add_argument("--seed", type=int, default=1, help="random seed of the sample (default 1)")
    p.add_argument("--noise", type=float, default=0.5, help="pixel noise sigma (default 0.5)")
    p.set_defaults(run=lambda a: __import__("pipelines.demo", fromlist=["run"]).run(a.seed, a.noise))


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
    p.set_defaults(run=lambda a: __import__("pipelines.synth", fromlist=["run"]).run(
        a.kind, a.output, a.seed, a.frames, a.size, a.overwrite))


if __name__ == "__main__":
    sys.exit(main())
