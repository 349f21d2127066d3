"""Training of the depth U-Net on synthetic data generated on the fly.

    python -m learned.depth.train --out learned/weights/unet_small.pt --size small --steps 50000

`--mode supervised` (RGB-D batches): at every output scale (upsampled to full resolution),
Eigen's scale-invariant log loss plus the multi-scale gradient loss on log differences; with
`--lam` below 1 the loss keeps the absolute scale and the weights are recorded as 'metric'
depth, with `--lam 1` as 'scale'. `--mode views` (self-supervised): the view-synthesis loss with
the known relative poses of the views (`losses.view_synthesis_loss`); metric translations give
'metric' depth.
"""
import argparse
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint
from ..plugins import default_device
from ..synthetic import parallel_batches
from .data import batches, view_batches
from .losses import gradient_loss, scale_invariant_log_loss, view_synthesis_loss
from .metrics import depth_metrics
from .unet import SIZES, UNet


def supervised_loss(preds, depth, mask=None, lam=0.5, grad_weight=0.5):
    """Sum over the multi-scale predictions `preds` (list of `(B, 1, h, w)`, upsampled
    bilinearly to the size of `depth (B, 1, H, W)`) of `SI-log(lam) + grad_weight * gradient`;
    `mask` defaults to `depth > 0`."""
    mask = depth > 0 if mask is None else mask
    total = depth.new_zeros(())
    for p in preds:
        if p.shape[-2:] != depth.shape[-2:]:
            p = F.interpolate(p, size=depth.shape[-2:], mode="bilinear", align_corners=False)
        total = total + scale_invariant_log_loss(p, depth, mask, lam)
        total = total + grad_weight * gradient_loss(p, depth, mask)
    return total


def supervised(lam=0.5, grad_weight=0.5):
    """Loss for `train` on batches `(images, depths)`: `supervised_loss`."""
    return lambda preds, batch: supervised_loss(preds, batch[1], lam=lam, grad_weight=grad_weight)


def self_supervised(smooth_weight=1e-3):
    """Loss for `train` on batches `(target, sources, K, R, t, ...)` (`data.view_batches`):
    `view_synthesis_loss`."""
    return lambda preds, batch: view_synthesis_loss(preds, *batch[:5], smooth_weight=smooth_weight)


def train(model, data, steps, loss=None, lr=1e-3, device="cpu", log_every=0, log=print):
    """Optimise `model` for `steps` batches from the iterator `data` (tuples of tensors whose
    first item is the network input) with Adam and a cosine learning rate, minimising
    `loss(predictions, batch)` (default `supervised()`). Returns the list of per-step losses."""
    loss = supervised() if loss is None else loss
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        batch = tuple(x.to(device) for x in next(data))
        value = loss(model(batch[0]), batch)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        sched.step()
        losses.append(value.item())
        if log_every and (step + 1) % log_every == 0:
            log(f"step {step + 1}/{steps}  loss {np.mean(losses[-log_every:]):.4f}  "
                f"{(time.perf_counter() - t0) / (step + 1):.2f} s/step")
    return losses


@torch.no_grad()
def evaluate(model, data, n_batches, align=None, device="cpu"):
    """Mean `depth_metrics` of `model` over the images of `n_batches` batches from `data`
    (tuples whose first item is the network input and last the true depth `(B, 1, H, W)`)."""
    model.to(device).eval()
    rows = []
    for _ in range(n_batches):
        batch = next(data)
        preds = model(batch[0].to(device))[0][:, 0].cpu().numpy()
        rows += [depth_metrics(p, g, align=align) for p, g in zip(preds, batch[-1][:, 0].numpy())]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], prog="python -m learned.depth.train")
    p.add_argument("--out", required=True, help="weights file to write (e.g. learned/weights/unet_small.pt)")
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--steps", type=int, default=50000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--mode", default="supervised", choices=("supervised", "views"))
    p.add_argument("--lam", type=float, default=0.5, help="lambda of the scale-invariant log loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--workers", type=int, default=0, help="processes generating the data (0: this one)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--val-images", type=int, default=16, help="held-out synthetic images to evaluate")
    args = p.parse_args(argv)
    model = UNet.from_size(args.size)
    if args.height % model.stride or args.width % model.stride:
        p.error(f"--height and --width must be multiples of {model.stride}")
    device = args.device or default_device()
    torch.manual_seed(args.seed)
    source = batches if args.mode == "supervised" else view_batches
    loss = supervised(args.lam) if args.mode == "supervised" else self_supervised()
    output = "metric" if args.mode == "views" or args.lam < 1 else "scale"
    data = parallel_batches(source, args.seed, args.workers, args.batch_size, args.height, args.width)
    losses = train(model, data, args.steps, loss, args.lr, device=device, log_every=args.log_every)
    val = evaluate(model, source(args.seed + 1_000_003, 1, args.height, args.width), args.val_images,
                   align=None if output == "metric" else "median", device=device)
    print("held-out synthetic: " + "  ".join(f"{k} {v:.4f}" for k, v in val.items()))
    command = "python -m learned.depth.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    checkpoint.save(args.out, model, command=command, output=output, inverse=False, steps=args.steps,
                    final_loss=float(np.mean(losses[-100:])), synthetic_metrics=val)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
