#!/usr/bin/env python
"""PyTorch anchor: one Adam step (lr 1e-3) on 1M f32 parameters with a fixed gradient,
fused and foreach (adapted from the shared torch_optim_data.py).

Prints one JSON line: {"bench": "torch_adam", "env", "args", "results": [{"method", "ms", ...}]}.
"""

from __future__ import annotations

import argparse
import time

import torch

from _bench import emit, env_info, log, positive_reps, summarize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=0, help="0 = torch's default")
    ap.add_argument("--params", type=int, default=1_000_000)
    ap.add_argument("--reps", type=positive_reps, default=21)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--inner", type=int, default=10, help="steps per timed repetition")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = []
    for method in ["fused", "foreach"]:
        p = torch.nn.Parameter(torch.randn(args.params))
        p.grad = torch.randn(args.params)
        opt = torch.optim.Adam([p], lr=1e-3, **{method: True})
        for _ in range(args.warmup):
            opt.step()
        samples = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            for _ in range(args.inner):
                opt.step()
            samples.append(time.perf_counter() - t0)
        stats = summarize(samples, args.inner)
        log(f"adam {method}: {stats['median_s'] * 1e3:.3f} ms")
        results.append({"method": method, "ms": stats["median_s"] * 1e3, **stats})
    emit({"bench": "torch_adam", "env": env_info({"torch": torch.__version__,
          "threads": torch.get_num_threads()}), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
