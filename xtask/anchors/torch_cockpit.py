#!/usr/bin/env python
"""Cockpit anchor: what Cockpit's quantities (Schneider et al., NeurIPS 2021, on BackPACK)
add to a PyTorch training step, beside unstuck's instruments (`xtask bench instruments`).

One step = zero_grad + forward + cross-entropy + backward (inside Cockpit's context, with
the per-example losses and a double-backward graph when a quantity asks for one) +
SGD with momentum 0.9, on a fixed pre-generated batch, f64 by default like unstuck's
instrument benchmarks. Each quantity set is the Cockpit counterpart of one instrument:

  plain                no Cockpit at all (the same step in plain PyTorch)
  norms                GradNorm, Distance, UpdateSize                    every step
  noise                NormTest, InnerTest, OrthoTest (per-example grads) every step
  alpha                Alpha                                             every step
  curvature-every-50   HessMaxEV (power iteration), HessTrace (diagonal) every 50 steps
  economy, full        Cockpit's own configurations                      every step

Without cockpit/backpack installed only `plain` runs and the JSON says `"cockpit": false`.

Prints one JSON line: {"bench": "torch_cockpit", "env", "args", "results": [{"config",
"set", "ms_per_step", ...}]}.

Example:
  python torch_cockpit.py --configs mnist --sets plain,economy,full --threads 1
"""

from __future__ import annotations

import argparse
import warnings

import torch
import torch.nn as nn

from _bench import calibrate_inner, csv_list, emit, env_info, log, positive_reps, time_reps

try:
    from backpack import extend
    from cockpit import Cockpit, quantities
    from cockpit.utils import schedules
    from cockpit.utils.configuration import configuration

    HAVE_COCKPIT = True
except ImportError:
    HAVE_COCKPIT = False

CONFIGS = {
    # name: (layer sizes, batch), as unstuck's instrument benchmarks
    "mnist": ([784, 256, 256, 10], 128),
    "digits": ([64, 32, 10], 32),
}
DTYPES = {"f32": torch.float32, "f64": torch.float64}
SETS = ["plain", "norms", "noise", "alpha", "curvature-every-50", "economy", "full"]


def quantity_set(name: str):
    """The Cockpit quantities standing for one unstuck instrument, or a configuration."""
    every = schedules.linear(interval=1)
    if name == "norms":
        return [q(track_schedule=every) for q in (quantities.GradNorm, quantities.Distance,
                                                   quantities.UpdateSize)]
    if name == "noise":
        return [q(track_schedule=every) for q in (quantities.NormTest, quantities.InnerTest,
                                                   quantities.OrthoTest)]
    if name == "alpha":
        return [quantities.Alpha(track_schedule=every)]
    if name == "curvature-every-50":
        fifty = schedules.linear(interval=50)
        return [quantities.HessMaxEV(track_schedule=fifty),
                quantities.HessTrace(track_schedule=fifty)]
    if name in ("economy", "full"):
        return configuration(name)
    raise SystemExit(f"unknown set {name!r}; known: {', '.join(SETS)}")


def mlp(layers, dtype) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(len(layers) - 1):
        mods.append(nn.Linear(layers[i], layers[i + 1]))
        if i < len(layers) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods).to(dtype)


def plain_step(model, x, y, lr, momentum):
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def cockpit_step(model, x, y, lr, momentum, set_name):
    model = extend(model)
    loss_fn = extend(nn.CrossEntropyLoss(reduction="mean"))
    individual = extend(nn.CrossEntropyLoss(reduction="none"))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    cockpit = Cockpit(model.parameters(), quantities=quantity_set(set_name))
    batch = x.shape[0]
    global_step = [0]

    def step():
        s = global_step[0]
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = loss_fn(out, y)
        losses = individual(out, y)
        info = {"batch_size": batch, "individual_losses": losses, "loss": loss, "optimizer": opt}
        with cockpit(s, info=info):
            loss.backward(create_graph=cockpit.create_graph(s))
        opt.step()
        global_step[0] = s + 1
        # Cockpit keeps every tracked value; a timing loop must not grow without bound.
        for q in cockpit.quantities:
            q.output.clear()
        return loss

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=csv_list(), default=list(CONFIGS))
    ap.add_argument("--sets", type=csv_list(), default=SETS[:5])
    ap.add_argument("--dtype", choices=list(DTYPES), default="f64")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads; 0 = default")
    ap.add_argument("--reps", type=positive_reps, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--target-rep-s", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # BackPACK's hooks and Cockpit's double backward warn on every step.
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]
    # Cockpit's power iteration makes its scalars in the default dtype and then compares
    # them with the model's ("Float did not match Double" in f64 otherwise).
    torch.set_default_dtype(dtype)
    sets = [s for s in args.sets if s == "plain" or HAVE_COCKPIT]
    if len(sets) < len(args.sets):
        log("torch_cockpit: cockpit/backpack not importable, timing plain PyTorch only")
    results = []
    for config in args.configs:
        layers, batch = CONFIGS[config]
        for set_name in sets:
            torch.manual_seed(args.seed)
            model = mlp(layers, dtype)
            x = torch.randn(batch, layers[0], dtype=dtype)
            y = torch.randint(0, layers[-1], (batch,))
            if set_name == "plain":
                step = plain_step(model, x, y, args.lr, args.momentum)
            else:
                step = cockpit_step(model, x, y, args.lr, args.momentum, set_name)
            inner = calibrate_inner(step, target_s=args.target_rep_s)
            # The every-50 set must see its measured steps in each repetition's share.
            if set_name == "curvature-every-50":
                inner = max(inner, 50)
            stats = time_reps(step, reps=args.reps, warmup=args.warmup, inner=inner)
            log(f"{config} {set_name}: {stats['median_s'] * 1e3:.3f} ms/step")
            results.append({
                "config": config, "layers": layers, "batch": batch, "set": set_name,
                "dtype": args.dtype, "threads": torch.get_num_threads(),
                "ms_per_step": stats["median_s"] * 1e3, "ms_min": stats["min_s"] * 1e3,
                "ms_iqr": stats["iqr_s"] * 1e3, "reps": stats["reps"], "steps_per_rep": stats["inner"],
            })
    emit({
        "bench": "torch_cockpit",
        "env": env_info({"torch": torch.__version__, "cockpit": HAVE_COCKPIT}),
        "args": vars(args),
        "results": results,
    })


if __name__ == "__main__":
    main()
