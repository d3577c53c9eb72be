#!/usr/bin/env python
"""PyTorch anchor: peak resident memory (ru_maxrss) of a process that trains the
784-256-256-10 MLP (ReLU, f32, batch 128, Adam lr 1e-3) for 200 steps on a fixed batch.

Prints one JSON line: {"bench": "torch_memory", "env", "args", "results": [{"peak_mib", ...}]}.
"""

from __future__ import annotations

import argparse
import resource

import torch
import torch.nn as nn
import torch.nn.functional as F

from _bench import emit, env_info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    x = torch.randn(128, 784)
    y = torch.randint(0, 10, (128,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(args.steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit({"bench": "torch_memory", "env": env_info({"torch": torch.__version__}),
          "args": vars(args), "results": [{"peak_mib": peak_mib}]})


if __name__ == "__main__":
    main()
