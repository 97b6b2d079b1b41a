"""PyTorch baseline for the ResNet-1D-18 benchmark (run with an interpreter that has torch).

A PyTorch twin of keras_ecgpe's `resnet1d18` (stem conv k=7/2 + max-pool, four stages of two
basic blocks with k=3 and 64-128-256-512 channels, 1x1 projection shortcuts, global average
pooling, one logit): the same architecture as the seed study's ResNet-1D-18 (3.85 M
parameters). It is timed the way the seed trains and serves it: eager PyTorch, AdamW,
BCE-with-logits, batch 64 of 12 x 2048 windows; batch-1 latency under `torch.no_grad()`.

torch is NOT a dependency of keras_ecgpe: `bench_resnet1d_training.py --torch-python PY`
runs this file with another interpreter so both frameworks are measured in one run.

Usage: PY benchmarks/pytorch_resnet1d18.py [--steps 8] [--threads 2]   (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.project = None
        if stride != 1 or cin != cout:
            self.project = nn.Sequential(
                nn.Conv1d(cin, cout, 1, stride, bias=False), nn.BatchNorm1d(cout)
            )

    def forward(self, x):
        shortcut = x if self.project is None else self.project(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + shortcut)


class ResNet1D18(nn.Module):
    def __init__(self, leads=12, classes=1):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(leads, 64, 7, 2, 3, bias=False),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.MaxPool1d(3, 2, 1),
        )
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(512, classes)

    def forward(self, x):  # (batch, leads, time): PyTorch's channels-first layout
        return self.head(self.blocks(self.stem(x)).mean(dim=2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--input-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--latency-calls", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet1D18()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.randn(args.batch, 12, args.input_len)
    y = torch.randint(0, 2, (args.batch, 1)).float()
    times = []
    model.train()
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    model.eval()
    single, latencies = x[:1], []
    with torch.no_grad():
        for call in range(5 + args.latency_calls):
            start = time.perf_counter()
            model(single)
            if call >= 5:
                latencies.append(time.perf_counter() - start)
    step = statistics.median(times)
    print(
        json.dumps(
            {
                "lever": "pytorch",
                "framework": f"torch {torch.__version__}",
                "parameters": sum(p.numel() for p in model.parameters()),
                "batch": args.batch,
                "input_len": args.input_len,
                "threads": args.threads,
                "step_s": round(step, 4),
                "samples_per_s": round(args.batch / step, 2),
                "latency_eager_ms": round(1e3 * statistics.median(latencies), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
