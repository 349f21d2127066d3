"""Training of the depth U-Net on synthetic data generated on the fly.

    python -m learned.depth.train --out learned/weights/unet_small.pt --size small --steps 50000

`--data planes` draws toy RGB-D samples (`data.make_rgbd`); `--data scenes` renders 3D scenes of
`geom.synth` once (`scenes.render_frames`, cached in `--cache-dir`) and trains on augmented
crops of them; the held-out images are crops of other scenes. `--working-size` is recorded
with the weights: `load_depth` resizes images to the area of a square of that side before
inference, so that the network sees objects at about the scale it was trained on.

`--mode supervised` (RGB-D batches): at every output scale (upsampled to full resolution),
Eigen's scale-invariant log loss plus the multi-scale gradient loss on log differences; with
`--lam` below 1 the loss keeps the absolute scale and the weights are recorded as 'metric'
depth, with `--lam 1` as 'scale'. Self-supervised (`losses.view_synthesis_loss`, known poses
instead of a pose network): `--mode views` trains on toy posed planes (`data.view_batches`,
metric), or with `--views CAMERAS.json --images DIR` on real images with their cameras, e.g.
the poses of `mvdepth sfm` (`views.sequence_groups`); `--mode stereo --stereo LIST` on rectified
stereo pairs (`views.stereo_groups`, Monodepth2's stereo training). Real views are recorded as
'scale' (an SfM reconstruction's scale is arbitrary) unless `--metric`; their final check
is the photometric error of every view (`views.photometric_check`). Start from given weights with
`--init` to fine-tune, e.g. `unet-synth` on a user's own sequence. A run can be split over
several commands with `--time-limit` and `--resume`.

`--bins N` gives the U-Net an adaptive-bins head (`unet.UNet`, AdaBins) at the finest scale;
supervised training then adds `--bins-weight` (default 0.1, the paper's) times the Chamfer
loss between the log bin centres and the log true depths (`losses.bin_centre_loss`).
"""
import argparse
import functools

import numpy as np
import torch
import torch.nn.functional as F

from geom.io import load_cameras_json

from ..plugins import default_device
from ..training import add_arguments, fit, run
from . import scenes, views
from .data import batches, view_batches
from .losses import bin_centre_loss, gradient_loss, scale_invariant_log_loss, view_synthesis_loss
from .metrics import depth_metrics
from .unet import SIZES, UNet


def supervised_loss(preds, depth, mask=None, lam=0.5, grad_weight=0.5, centres=None, bins_weight=0.1):
    """Sum over the multi-scale predictions `preds` (list of `(B, 1, h, w)`, upsampled
    bilinearly to the size of `depth (B, 1, H, W)`) of `SI-log(lam) + grad_weight * gradient`;
    `mask` defaults to `depth > 0`. With the bin `centres (B, n)` of an adaptive-bins network,
    plus `bins_weight` times the Chamfer loss between the log centres and the log depths; at
    `lam` 1 (up to scale) the depths are first divided by their geometric mean per image, which
    anchors the bins, and so the maps, around 1, in the middle of the default bin range (aligned
    to the prediction instead, the term leaves the scale free and the bins drift to an end of
    their range)."""
    mask = depth > 0 if mask is None else mask
    total = depth.new_zeros(())
    for p in preds:
        if p.shape[-2:] != depth.shape[-2:]:
            p = F.interpolate(p, size=depth.shape[-2:], mode="bilinear", align_corners=False)
        total = total + scale_invariant_log_loss(p, depth, mask, lam)
        total = total + grad_weight * gradient_loss(p, depth, mask)
    if centres is not None:
        log_depth = torch.log(depth.clamp_min(1e-6))  # invalid pixels are masked out
        if lam >= 1:
            m = mask.to(depth.dtype)
            n = m.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1)
            log_depth = log_depth - (log_depth * m).sum(dim=(1, 2, 3), keepdim=True) / n
        total = total + bins_weight * bin_centre_loss(torch.log(centres), log_depth, mask)
    return total


def supervised(lam=0.5, grad_weight=0.5, bins_weight=0.1):
    """`loss(model, (images, depths))` for `learned.training.fit`: `supervised_loss` (with the
    bin-centre term when the model has adaptive bins)."""
    def loss(model, b):
        preds, centres = model(b[0], with_centres=True)
        return supervised_loss(preds, b[1], lam=lam, grad_weight=grad_weight, centres=centres,
                               bins_weight=bins_weight)
    return loss


def self_supervised(smooth_weight=1e-3):
    """`loss(model, (target, sources, K, R, t, ...))` for `learned.training.fit`
    (`data.view_batches`): `view_synthesis_loss`."""
    return lambda model, b: view_synthesis_loss(model(b[0]), *b[:5], smooth_weight=smooth_weight)


def optimizer(model, steps, lr=1e-3):
    """Adam with a cosine learning rate over `steps`."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))


def train(model, data, steps, loss=None, lr=1e-3, device="cpu", log_every=0, log=print):
    """Optimise `model` for `steps` batches from the iterator `data` with `optimizer`,
    minimising `loss(model, batch)` (default `supervised()`). Returns the per-step losses."""
    opt, sched = optimizer(model.to(device), steps, lr)
    return fit(model, data, supervised() if loss is None else loss, opt, sched, steps, device=device,
               log_every=log_every, log=log)[0]


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
    add_arguments(p, steps=50000, lr=1e-3)
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--mode", default="supervised", choices=("supervised", "views", "stereo"))
    p.add_argument("--lam", type=float, default=0.5, help="lambda of the scale-invariant log loss")
    p.add_argument("--val-images", type=int, default=16, help="held-out synthetic images to evaluate")
    p.add_argument("--data", default="planes", choices=("planes", "scenes"),
                   help="supervised data: toy planes or rendered geom.synth scenes")
    p.add_argument("--n-scenes", type=int, default=600, help="--data scenes: scenes rendered (2 views each)")
    p.add_argument("--cache-dir", default=None, help="--data scenes: folder caching the rendered frames")
    p.add_argument("--views", default=None, metavar="CAMERAS.json",
                   help="--mode views: cameras of real images (e.g. from mvdepth sfm) instead of toy planes")
    p.add_argument("--images", default=None, metavar="DIR", help="with --views: the folder of the images")
    p.add_argument("--sources", type=int, default=2, help="with --views: source views per target")
    p.add_argument("--stereo", default=None, metavar="LIST",
                   help="--mode stereo: list file of rectified pairs 'LEFT RIGHT fx fy cx cy baseline'")
    p.add_argument("--metric", action="store_true",
                   help="with --views / --stereo: the poses are metric, so is the depth")
    p.add_argument("--working-size", type=int, default=None,
                   help="images are resized to the area of a square of this side for inference")
    p.add_argument("--bins", type=int, default=0, help="adaptive bins of the finest head (0: plain head)")
    p.add_argument("--bins-weight", type=float, default=0.1, help="weight of the bin-centre (Chamfer) loss")
    args = p.parse_args(argv)
    device = default_device(args.device)
    torch.manual_seed(args.seed)
    try:
        model = UNet.from_size(args.size, bins=args.bins).to(device)
    except ValueError as err:
        p.error(str(err))
    if args.height % model.stride or args.width % model.stride:
        p.error(f"--height and --width must be multiples of {model.stride}")
    if (args.views is not None) != (args.images is not None) or (args.views and args.mode != "views"):
        p.error("--views and --images go together, with --mode views")
    if (args.stereo is not None) != (args.mode == "stereo"):
        p.error("--mode stereo needs --stereo LIST, and --stereo needs --mode stereo")
    if args.mode != "supervised" and args.data != "planes":
        p.error("--data scenes is for --mode supervised")
    opt, sched = optimizer(model, args.steps, args.lr)
    output = "metric" if args.lam < 1 else "scale"
    if args.mode == "supervised":
        loss = supervised(args.lam, bins_weight=args.bins_weight)
        source = held_out_source = batches
        if args.data == "scenes":
            source = functools.partial(scenes.batches, n_scenes=args.n_scenes, cache_dir=args.cache_dir)
            held_out_source = functools.partial(scenes.batches, n_scenes=max(args.val_images // 2, 1),
                                                cache_dir=args.cache_dir)
    else:
        loss = self_supervised()
        source = held_out_source = view_batches
        output = "metric"
    groups = None
    try:
        if args.views is not None:
            groups = views.sequence_groups(load_cameras_json(args.views), args.images, args.sources)
        elif args.stereo is not None:
            groups = views.stereo_groups(args.stereo)
    except (ValueError, OSError) as err:
        p.error(str(err))
    if groups is not None:
        source = functools.partial(views.batches, groups=groups)
        output = "metric" if args.metric else "scale"

    def calibrate(m):
        batch = next(views.batches(args.seed + 7, 8, args.height, args.width, groups=groups))
        factor = views.calibrate_scale(m.to(device), [x.to(device) for x in batch])
        print(f"output scale calibrated to the poses: x{factor:.4g}", flush=True)

    def validate(m):
        if groups is not None:
            return views.photometric_check(m, groups, args.height, args.width, device)
        held_out = held_out_source(args.seed + 1_000_003, 1, args.height, args.width)
        return evaluate(m, held_out, args.val_images, None if output == "metric" else "median", device)

    run(args, argv, "learned.depth.train", model, loss, opt, sched, source, validate, device,
        prepare=None if groups is None else calibrate, output=output, inverse=False,
        working_size=args.working_size)


if __name__ == "__main__":
    main()
