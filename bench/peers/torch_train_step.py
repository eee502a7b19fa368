#!/usr/bin/python3
"""PyTorch peer of `biascka bench train`: the same ResNet18 training step, for side-by-side timing.

torchvision resnet18 (+ dropout 0.4 before fc, as biascka's model), Adam(lr=1e-3, weight_decay=1e-5),
cross-entropy, random data, the same batch and image size; eager mode with cudnn.benchmark and TF32
convolutions and products (exact FP32 with --no-tf32), like biascka's defaults. Variants for reference:
--amp bf16 (autocast to bfloat16, PyTorch's mixed precision) and --compile (torch.compile, default mode;
its compilation happens in the warm-up steps and is reported apart). Every timed shape is warmed up first
(one shape here: the batch is fixed). Peak device memory counts the timed steps only, as biascka's does.
Prints `images/s: <n>` on its last line (and one JSON line before it with --json).
"""
import argparse
import os
import time

import torch
import torch.nn as nn

import peer_common


def measure(a):
    """One setting (argparse-like namespace with the options below); returns the result as a dict."""
    if a.threads > 0 or a.device == "cpu":
        torch.set_num_threads(a.threads if a.threads > 0 else (len(os.sched_getaffinity(0)) or 1))
    dev, precision = peer_common.start(a)
    model = peer_common.resnet18(a.classes).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.CrossEntropyLoss()
    run = torch.compile(model) if a.compile else model
    x = torch.randn(a.batch, 3, a.image_size, a.image_size, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    amp = a.amp == "bf16"

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            if a.eval:
                with torch.no_grad():
                    run(x)
                return
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(run(x), y)
        loss.backward()
        opt.step()

    model.eval() if a.eval else model.train()
    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    peer_common.sync(dev)
    warmup_s = time.perf_counter() - t0
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    peer_common.sync(dev)
    dt = time.perf_counter() - t0
    res = {"framework": "pytorch", "mode": "eval" if a.eval else "train", "batch": a.batch,
           "image_size": a.image_size, "steps": a.steps, "warmup": a.warmup, "warmup_seconds": warmup_s,
           "tf32": not a.no_tf32, "precision": precision, "amp": a.amp or "none", "compile": bool(a.compile),
           "threads": torch.get_num_threads(), "seconds": dt, "images_per_s": a.batch * a.steps / dt}
    res.update(peer_common.device_info(dev))
    del run, model, opt
    return res


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (torch.compile compiles here)")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads (0: every core, as biascka; Debian's torch alone may pick 1 in a container)")
    ap.add_argument("--eval", action="store_true", help="time the eval forward instead of a train step")
    ap.add_argument("--no-tf32", action="store_true")
    ap.add_argument("--amp", choices=["bf16"], default=None, help="autocast to bfloat16")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--json", action="store_true")
    return ap


if __name__ == "__main__":
    peer_common.run_cli(parser(), measure, lambda res, a: f"images/s: {res['images_per_s']:.1f}")
