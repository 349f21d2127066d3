"""The `mvdepth` command line. Each subcommand is a small function over plain arguments."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="mvdepth",
        description="Multi-view geometry, stereo, structure from motion and depth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
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


if __name__ == "__main__":
    sys.exit(main())
