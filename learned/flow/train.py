"""Train the RAFT-style flow network on synthetic pairs generated on the fly.

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
def evaluate(model, seed, n_pairs, height, width, device="cpu"):
    """Mean EPE of `model` on `n_pairs` held-out synthetic pairs drawn with `seed`."""
    model.to(device).eval()
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(n_pairs):
        a, b, gt = make_pair(rng, height, width)
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
    args = p.parse_args(argv)
    if args.height % RAFT.stride or args.width % RAFT.stride:
        p.error(f"--height and --width must be multiples of {RAFT.stride}")
    device = default_device(args.device)
    torch.manual_seed(args.seed)
    model = RAFT.from_size(args.size).to(device)
    opt, sched = optimizer(model, args.steps, args.lr)
    val_seed = args.seed + 1_000_003

    def validate(m):
        return {"epe": evaluate(m, val_seed, args.val_pairs, args.height, args.width, device)}

    run(args, argv, "learned.flow.train", model, flow_loss(args.iters), opt, sched,
        functools.partial(batches, colour=args.colour_jitter), validate, device, clip=1.0)


if __name__ == "__main__":
    main()
