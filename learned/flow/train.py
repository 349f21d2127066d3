"""Train the RAFT-style flow network on synthetic pairs generated on the fly.

    python -m learned.flow.train --out learned/weights/raft_small.pt --size small --steps 100000

writes the weights with their config and the command line that produced them (see
`learned.checkpoint`), and prints the loss and the end-point error on held-out synthetic pairs.
"""
import argparse
import shlex
import sys
import time

import numpy as np
import torch

from .. import checkpoint
from ..plugins import default_device
from ..synthetic import parallel_batches
from .data import batches, make_pair
from .loss import sequence_loss
from .metrics import epe
from .raft import RAFT, SIZES


def train(model, data, steps, lr=4e-4, weight_decay=1e-4, gamma=0.8, clip=1.0, iters=None,
          device="cpu", log_every=0, log=print):
    """Optimise `model` for `steps` batches from the iterator `data` (yielding `(img1, img2,
    flow)` tensors) with AdamW, a one-cycle learning rate and the sequence loss.
    Returns the list of per-step losses."""
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, eps=1e-8)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps + 1, pct_start=0.05,
                                                anneal_strategy="linear", cycle_momentum=False)
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        img1, img2, flow = (x.to(device) for x in next(data))
        loss = sequence_loss(model(img1, img2, iters), flow, gamma=gamma)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            log(f"step {step + 1}/{steps}  loss {np.mean(losses[-log_every:]):.4f}  "
                f"{(time.perf_counter() - t0) / (step + 1):.2f} s/step")
    return losses


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
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], prog="python -m learned.flow.train")
    p.add_argument("--out", required=True, help="weights file to write (e.g. learned/weights/raft_small.pt)")
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--height", type=int, default=256, help="crop height (multiple of 8)")
    p.add_argument("--width", type=int, default=320, help="crop width (multiple of 8)")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--iters", type=int, default=None, help="update iterations while training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--workers", type=int, default=0, help="processes generating the data (0: this one)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--val-pairs", type=int, default=16, help="held-out synthetic pairs to evaluate")
    args = p.parse_args(argv)
    if args.height % RAFT.stride or args.width % RAFT.stride:
        p.error(f"--height and --width must be multiples of {RAFT.stride}")
    device = args.device or default_device()
    torch.manual_seed(args.seed)
    model = RAFT.from_size(args.size)
    data = parallel_batches(batches, args.seed, args.workers, args.batch_size, args.height, args.width)
    losses = train(model, data, args.steps, args.lr, iters=args.iters, device=device,
                   log_every=args.log_every)
    val = evaluate(model, args.seed + 1_000_003, args.val_pairs, args.height, args.width, device)
    print(f"held-out synthetic EPE {val:.3f} px")
    command = "python -m learned.flow.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    checkpoint.save(args.out, model, command=command, steps=args.steps,
                    final_loss=float(np.mean(losses[-100:])), synthetic_epe=val)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
