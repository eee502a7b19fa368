"""What the PyTorch peers share: biascka's model in torchvision terms, the float32 precision switch, and
the device's identity for the results. Imported by torch_train_step.py, torch_cka.py, pytorch_cka_lib.py
and peer_server.py (which runs all of them in one process)."""
import argparse
import json
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torchvision


def resnet18(classes, tapped=False):
    """torchvision's resnet18 with dropout 0.4 before fc, as biascka's model (fc.dropout, fc.fc). `tapped`:
    ReLUs not in place, for forward hooks (a tapped tensor must not change under the hook's feet)."""
    model = torchvision.models.resnet18(num_classes=classes)
    model.fc = nn.Sequential(OrderedDict(dropout=nn.Dropout(0.4), fc=model.fc))
    if tapped:
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = False
    return model


def _attribute(obj, name):
    """obj.name, or None; torch.backends' modules raise AssertionError for unknown names (torch < 2.9)."""
    try:
        return getattr(obj, name)
    except (AttributeError, AssertionError):
        return None


def set_fp32_precision(tf32):
    """TF32 tensor cores for float32 convolutions (cuDNN) and products (cuBLAS), or exact FP32.

    PyTorch >= 2.9 has per-backend `fp32_precision` ("tf32" / "ieee") and deprecates the allow_tf32 flags
    (mixing the two APIs raises there); older versions have only the flags.
    """
    mode = "tf32" if tf32 else "ieee"
    matmul = torch.backends.cuda.matmul
    conv = _attribute(torch.backends.cudnn, "conv")
    if _attribute(matmul, "fp32_precision") is not None and _attribute(conv, "fp32_precision") is not None:
        matmul.fp32_precision = mode
        conv.fp32_precision = mode
        return "fp32_precision=" + mode
    matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return f"allow_tf32={tf32}"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def fresh_memory(device):
    """Frees what earlier measurements in this process cached and restarts the peak counters."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def start(a):
    """What every measurement starts with: the device, cuDNN's benchmark mode and the float32 precision
    (TF32 unless a.no_tf32), the memory earlier measurements cached freed, seed 0. Returns (device,
    the precision setting as applied)."""
    dev = torch.device(a.device)
    precision = "cpu"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        precision = set_fp32_precision(not a.no_tf32)
    fresh_memory(dev)
    torch.manual_seed(0)
    return dev, precision


def device_info(device):
    info = {"torch": torch.__version__, "device": device.type}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cudnn"] = torch.backends.cudnn.version()
        info["peak_device_bytes"] = torch.cuda.max_memory_allocated()
        info["peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
    return info


def timed_best(repeats, once, device):
    """Runs once() `repeats` times after a synchronisation each; the best wall time and the last result."""
    best, result = None, None
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        result = once()
        sync(device)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, result


def cka_parser(doc):
    """The options both CKA peers take (10,000 images at batch 512, as bench_cka_cuda's cka_end_to_end)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs over all images (the best is reported)")
    ap.add_argument("--no-tf32", action="store_true")
    ap.add_argument("--json", action="store_true")
    return ap


def run_cli(parser, measure, text):
    """A peer's command line: one measurement, printed as JSON (--json) and as text(result, args)."""
    a = parser.parse_args()
    res = measure(a)
    if a.json:
        print(json.dumps(res))
    print(text(res, a))
