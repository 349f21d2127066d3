"""The optimisation loop shared by the training scripts, resumable across processes.

A run of `steps` optimiser steps may be split over several commands (a GPU session's commands
are time-limited): with a `state` file, `fit` saves the model, optimiser, scheduler and step
there every `save_every` steps and when it stops early at `time_limit`, and a later `fit` with
the same file continues from that step.
"""
import functools
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from geom.progress import Progress, counter

from . import checkpoint
from .plugins import NETWORKS, WEIGHTS_DIR
from .synthetic import parallel_batches


def load_state(path, model, optimizer, scheduler):
    """Restore a state written by `fit`; returns the step to continue from (0 without a file)."""
    path = Path(path)
    if not path.is_file():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return int(state["step"])


def _save_state(path, step, model, optimizer, scheduler):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, tmp)
    tmp.replace(path)  # never leave a half-written state behind


def fit(model, data, loss, optimizer, scheduler, steps, start=0, clip=None, device="cpu",
        state=None, save_every=0, time_limit=None, log_every=0, log=print, progress=None):
    """Run optimiser steps `start .. steps-1`: each takes a batch (tuple of tensors) from the
    iterator `data`, minimises `loss(model, batch)` (clipping the gradient norm to `clip`), and
    steps `scheduler` once. Stops early once `time_limit` seconds have passed.

    With `state` (a path), saves there every `save_every` steps and when it stops. progress:
    optional callable(step, steps) after each step (`geom.progress.counter`).
    Returns (per-step losses of this call, the step reached)."""
    model.to(device).train()
    losses, t0, step = [], time.perf_counter(), start
    while step < steps:
        batch = tuple(x.to(device) for x in next(data))
        value = loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
        losses.append(value.item())
        step += 1
        if progress is not None:
            progress(step, steps)
        elapsed = time.perf_counter() - t0
        if log_every and step % log_every == 0:
            log(f"step {step}/{steps}  loss {np.mean(losses[-log_every:]):.4f}  "
                f"{elapsed / len(losses):.2f} s/step")
        out_of_time = time_limit is not None and elapsed > time_limit
        if state is not None and (step == steps or out_of_time or (save_every and step % save_every == 0)):
            _save_state(state, step, model, optimizer, scheduler)
        if out_of_time:
            log(f"stopped at step {step}/{steps} (time limit {time_limit:.0f} s)")
            break
    return losses, step


def add_arguments(parser, steps, lr, height=256, width=320):
    """The command-line options every training script shares."""
    p = parser
    p.add_argument("--out", required=True, help="weights file to write (learned/weights/<name>.pt)")
    p.add_argument("--steps", type=int, default=steps, help="optimiser steps of the whole run")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--height", type=int, default=height, help="training image height")
    p.add_argument("--width", type=int, default=width, help="training image width")
    p.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--workers", type=int, default=0, help="processes generating the data (0: this one)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=1000, help="steps between saves of the run state")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds after which to save the state and stop (continue with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in OUT.state")
    p.add_argument("--quiet", action="store_true",
                   help="no progress of the steps on stderr (the loss lines stay)")
    p.add_argument("--init", default=None,
                   help="weights to start from, a file (learned.checkpoint) or a shipped network's "
                        "name (e.g. unet-synth): a further training stage or a fine-tuning")


def _reproducing_command(prog, argv):
    """The command line without the options that only split a run into several processes or
    silence its progress."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--resume", "--quiet") or a.startswith("--time-limit="):
            continue
        elif a == "--time-limit":
            skip = True
        else:
            out.append(a)
    return f"python -m {prog} " + shlex.join(out)


def run(args, argv, prog, model, loss, optimizer, scheduler, make_batches, evaluate, device,
        clip=None, prepare=None, **meta):
    """What a training script does once it has built its pieces: resume from `OUT.state` when
    asked, `fit` on `make_batches(seed, batch_size, height, width, start=, stride=)`, and write
    the weights (`checkpoint.save`, with `meta`, the reproducing command, the steps done and,
    when the run is complete, `evaluation` = `evaluate(model)`, a dict of the script's check:
    held-out synthetic metrics, or the photometric error of real views). With `--init`, the
    `meta` values left None are the initial weights' (e.g. their working size).
    `prepare(model)`, when given, runs once before the first step of a new run (after `--init`,
    not on `--resume`), e.g. to calibrate the model's output scale. Returns the step reached."""
    state = Path(f"{args.out}.state")
    if state.exists() and not args.resume:
        raise SystemExit(f"{state} exists: pass --resume to continue that run, or delete it")
    if args.init:  # before the state: a resumed run continues from its own weights
        name = args.init
        initial, init_meta = checkpoint.load(WEIGHTS_DIR / NETWORKS[name][1] if name in NETWORKS else name)
        if (initial.arch, initial.config) != (model.arch, model.config):
            raise SystemExit(f"{args.init}: a {initial.arch} {initial.config}, not the {model.arch} "
                             f"{model.config} being trained")
        model.load_state_dict(initial.state_dict())
        meta = {k: init_meta.get(k) if v is None else v for k, v in meta.items()}  # e.g. working_size
        meta["init_command"] = init_meta.get("command")
    start = load_state(state, model, optimizer, scheduler) if args.resume else 0
    log = functools.partial(print, flush=True)
    if torch.device(device).type == "cuda":  # fixed input sizes; TF32 matrix products (as convolutions)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    if start:
        log(f"resuming at step {start} from {state}")
    elif prepare is not None:
        prepare(model)
    data = parallel_batches(make_batches, args.seed, args.workers, args.batch_size, args.height,
                            args.width, start=start)
    losses, step = fit(model, data, loss, optimizer, scheduler, args.steps, start, clip, device,
                       state, args.save_every, args.time_limit, args.log_every, log,
                       counter(Progress(quiet=args.quiet), "training steps"))
    command = _reproducing_command(prog, sys.argv[1:] if argv is None else argv)
    done = step >= args.steps
    results = evaluate(model) if done else {}
    if done:
        log("evaluation: " + "  ".join(f"{k} {v:.4f}" for k, v in results.items()))
    checkpoint.save(args.out, model, command=command, steps=step, complete=done, evaluation=results,
                    final_loss=float(np.mean(losses[-100:])) if losses else None, **meta)
    log(f"wrote {args.out}" + ("" if done else f" (step {step} of {args.steps}; continue with: "
                                                f"{command} --resume)"))
    if done:
        state.unlink(missing_ok=True)
    return step
