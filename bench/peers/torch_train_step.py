#!/usr/bin/python3
"""PyTorch peer of `biascka bench train`: the same ResNet18 training step, for side-by-side timing.

torchvision resnet18 (+ dropout 0.4 before fc, as biascka's model), Adam(lr=1e-3, weight_decay=1e-5),
cross-entropy, random data, the same batch and image size. Prints `images/s: <n>` on its last line.
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads (0: every core, as biascka; Debian's torch alone may pick 1 in a container)")
    ap.add_argument("--eval", action="store_true", help="time the eval forward instead of a train step")
    ap.add_argument("--no-tf32", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads if a.threads > 0 else (len(os.sched_getaffinity(0)) or 1))
    dev = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = not a.no_tf32
        torch.backends.cuda.matmul.allow_tf32 = not a.no_tf32
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=a.classes)
    model.fc = nn.Sequential(nn.Dropout(0.4), model.fc)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, 3, a.image_size, a.image_size, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    def step():
        if a.eval:
            with torch.no_grad():
                model(x)
            return
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.eval() if a.eval else model.train()
    for _ in range(a.warmup):
        step()
    sync()
    if a.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    dt = time.perf_counter() - t0
    ips = a.batch * a.steps / dt
    res = {"framework": "pytorch", "torch": torch.__version__, "device": a.device, "mode": "eval" if a.eval else "train",
           "batch": a.batch, "image_size": a.image_size, "steps": a.steps, "threads": torch.get_num_threads(),
           "seconds": dt, "images_per_s": ips}
    if a.device == "cuda":
        res["peak_device_bytes"] = torch.cuda.max_memory_allocated()
        res["peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
        res["gpu"] = torch.cuda.get_device_name()
        res["cudnn"] = torch.backends.cudnn.version()
    if a.json:
        print(json.dumps(res))
    print(f"images/s: {ips:.1f}")


if __name__ == "__main__":
    main()
