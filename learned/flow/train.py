"""Train the RAFT-style flow network on synthetic pairs generated on the fly (and, with
`--scene-pairs`, on pairs rendered from `geom.synth` scenes).

    python -m learned.flow.train --out learned/weights/raft_small.pt --size small --steps 100000

writes the weights with their config and the command line that reproduces them (see
`learned.checkpoint`) and prints the loss and the end-point error on held-out synthetic pairs.
A run can be split over several commands with `--time-limit` and `--resume` (`learned.training`).
"""
import argparse
import functools

import numpy as np
import torch

from ..plugins import default_device
from ..training import add_arguments, fit, run
from .data import batches, make_pair
from .loss import sequence_loss
from .metrics import epe
from .raft import RAFT, SIZES
from .scenes import render_pairs, sample


def optimizer(model, steps, lr=4e-4, weight_decay=1e-4):
    """RAFT's schedule: AdamW and a linear one-cycle learning rate (5% warm-up)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, eps=1e-8)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps + 1, pct_start=0.05,
                                                anneal_strategy="linear", cycle_momentum=False)
    return opt, sched


def flow_loss(iters=None, gamma=0.8):
    """`loss(model, (img1, img2, flow))` for `learned.training.fit`: the sequence loss."""
    return lambda model, b: sequence_loss(model(b[0], b[1], iters), b[2], gamma=gamma)


def train(model, data, steps, lr=4e-4, clip=1.0, iters=None, device="cpu", log_every=0, log=print):
    """Optimise `model` for `steps` batches `(img1, img2, flow)` from the iterator `data` with
    `optimizer` and the sequence loss. Returns the list of per-step losses."""
    opt, sched = optimizer(model.to(device), steps, lr)
    return fit(model, data, flow_loss(iters), opt, sched, steps, clip=clip, device=device,
               log_every=log_every, log=log)[0]


@torch.no_grad()
def evaluate(model, pairs, device="cpu"):
    """Mean EPE of `model` on the pairs `(img1, img2, flow)` (as `make_pair` returns them)."""
    model.to(device).eval()
    errors = []
    for a, b, gt in pairs:
        t = [torch.from_numpy(x).permute(2, 0, 1)[None].to(device) for x in (a, b)]
        flow = model(*t)[-1][0].permute(1, 2, 0).cpu().numpy()
        errors.append(epe(flow, gt))
    return float(np.mean(errors))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], prog="python -m learned.flow.train")
    add_arguments(p, steps=100000, lr=4e-4)
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--iters", type=int, default=None, help="update iterations while training")
    p.add_argument("--val-pairs", type=int, default=16, help="held-out synthetic pairs to evaluate")
    p.add_argument("--colour-jitter", action="store_true", help="augment saturation and hue too")
    p.add_argument("--scene-pairs", type=int, default=0,
                   help="pairs rendered once from geom.synth scenes to train on too (learned.flow.scenes)")
    p.add_argument("--scene-fraction", type=float, default=0.5,
                   help="with --scene-pairs: fraction of the training pairs drawn from them")
    p.add_argument("--cache-dir", default=None, help="with --scene-pairs: folder caching the rendered pairs")
    args = p.parse_args(argv)
    if args.height % RAFT.stride or args.width % RAFT.stride:
        p.error(f"--height and --width must be multiples of {RAFT.stride}")
    device = default_device(args.device)
    torch.manual_seed(args.seed)
    model = RAFT.from_size(args.size).to(device)
    opt, sched = optimizer(model, args.steps, args.lr)
    val_seed = args.seed + 1_000_003
    render_size = (args.height * 5 // 4, args.width * 5 // 4)  # room for random crops
    scenes = held_out = None
    if args.scene_pairs:
        scenes = render_pairs(args.scene_pairs, *render_size, args.seed, args.cache_dir)
        held_out = render_pairs(args.val_pairs, *render_size, val_seed, args.cache_dir)

    def validate(m):
        rng = np.random.default_rng(val_seed)
        results = {"epe": evaluate(m, [make_pair(rng, args.height, args.width)
                                       for _ in range(args.val_pairs)], device)}
        if held_out is not None:
            results["scene_epe"] = evaluate(m, [sample(rng, *held_out, args.height, args.width)
                                                for _ in range(args.val_pairs)], device)
        return results

    make_batches = functools.partial(batches, colour=args.colour_jitter, scenes=scenes,
                                     scene_fraction=args.scene_fraction)
    run(args, argv, "learned.flow.train", model, flow_loss(args.iters), opt, sched, make_batches,
        validate, device, clip=1.0)


if __name__ == "__main__":
    main()
