#!/usr/bin/env python3
"""All PyTorch peer measurements in one process (scripts/gpu-check's coprocess): importing torch and
starting CUDA cost seconds that a process per setting would pay again each time.

Reads one JSON request per line on stdin and answers each with one JSON line on stdout, in order:
  {"peer": "train", "batch": 512, "image_size": 28, "tf32": true, "amp": "bf16", "compile": false, ...}
  {"peer": "cka", "image_size": 28, ...}            bench/peers/torch_cka.py's measurement
  {"peer": "pytorch-cka", "image_size": 28, ...}    pytorch-cka 1.1.3 (bench/peers/pytorch_cka_lib.py)
Any other key of the request is that peer's command-line option (`image_size` is --image-size, `tf32:
false` is --no-tf32), defaults otherwise; `device` defaults to cuda; `group` is passed through. The answer is
{"group": ..., "framework": ..., "request": {...}, "result": {...}} or {"group": ..., "request": {...},
"error": "..."}; a failed request does not end the server. The first line out is {"ready": true, "torch": ...} (or "ready": false and the import error,
then it exits). Logs go to stderr.
"""
import gc
import json
import sys
import time
import traceback


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def options(module, request):
    """The peer's argparse defaults, overridden by the request."""
    a = module.parser().parse_args(["--device", request.get("device", "cuda")])
    for key, value in request.items():
        if key == "tf32":
            a.no_tf32 = not value
        elif key not in ("peer", "device", "group", "tag"):
            if not hasattr(a, key):
                raise ValueError(f"unknown option {key!r} for {request['peer']}")
            setattr(a, key, value)
    return a


def main():
    try:
        import torch

        import peer_common  # noqa: F401 (torchvision and the shared helpers load here, once)
        import pytorch_cka_lib
        import torch_cka
        import torch_train_step
    except Exception as e:  # torch missing or broken: say so once and stop
        reply({"ready": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    peers = {"train": torch_train_step, "cka": torch_cka, "pytorch-cka": pytorch_cka_lib}
    ready = {"ready": True, "torch": torch.__version__, "cuda": torch.version.cuda,
             "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    reply(ready)
    print(f"peer_server: {ready}", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = {}
        t0 = time.perf_counter()
        try:
            request = json.loads(line)
            module = peers[request["peer"]]
            result = module.measure(options(module, request))
            reply({"group": request.get("group"), "framework": result.get("framework"), "request": request,
                   "result": result})
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            reply({"group": request.get("group"), "request": request, "error": f"{type(e).__name__}: {e}"})
        gc.collect()
        print(f"peer_server: {request} took {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
