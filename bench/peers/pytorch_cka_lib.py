#!/usr/bin/env python3
"""pytorch-cka 1.1.3 (PyPI: `pip install pytorch-cka`, module `cka`) on biascka's CKA job, for side-by-side
timing: all-pairs minibatch CKA of one ResNet18 with itself, forward passes included.

The library hooks modules (register_forward_hook), so it sees ResNet18's 53 module outputs (biascka's
`--layers modules` view; the block's ReLU fires twice and the library keeps the second), not biascka's 69
layers (which add each block's first ReLU and the residual add). Its per-batch work: each layer's Gram
X X^T, stacked, and the unbiased HSIC of every pair in float32 (hsic_cross), summed over batches; the
model in PyTorch's default NCHW layout with ReLUs not in place (in place, a hooked output would change
before the library reads it), eval mode, inference_mode, cuDNN benchmark on, TF32 as asked. Data:
one batch of random images reused, 10,000 images at batch 512 (19 x 512 + 272) as biascka's
cka_end_to_end, handed to the library's compute_cka as a loader (an iterable of batches with a length); both
batch shapes are warmed up first. Prints one JSON line (--json) or text.
"""
import torch

import peer_common


def module_layers(model):
    """The leaf modules' names in registration order (53 for ResNet18 with fc.dropout, fc.fc)."""
    return [name for name, m in model.named_modules() if name and not list(m.children())]


class Batches:
    """A DataLoader stand-in: compute_cka takes one loader, or a list or tuple of loaders."""

    def __init__(self, xs):
        self.xs = xs

    def __len__(self):
        return len(self.xs)

    def __iter__(self):
        return iter(self.xs)


def measure(a):
    import cka  # pytorch-cka; imported here so that the other peers run without it

    dev, precision = peer_common.start(a)
    model = peer_common.resnet18(a.classes, tapped=True).to(dev).eval()
    layers = module_layers(model)
    full = torch.randn(a.batch, 3, a.image_size, a.image_size, device=dev)
    last = a.images % a.batch or a.batch
    tail = full[:last].contiguous()
    batches = [full] * (a.images // a.batch) + ([tail] if a.images % a.batch else [])

    def once(xs):
        m = cka.compute_cka(model, model, Batches(xs), layers=layers, device=dev, progress=False)[0]
        peer_common.sync(dev)
        return m

    once([full, tail])  # warm-up: cuDNN's benchmark search and both timed shapes
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best, matrix = peer_common.timed_best(a.repeats, lambda: once(batches), dev)
    res = {"framework": "pytorch-cka", "pytorch_cka": getattr(cka, "__version__", "?"),
           "image_size": a.image_size, "batch": a.batch, "images": a.images, "estimator": "unbiased",
           "tf32": not a.no_tf32, "precision": precision, "layers": len(layers), "seconds": best,
           "images_per_s": a.images / best, "matrix_trace": float(torch.trace(matrix.double()))}
    res.update(peer_common.device_info(dev))
    return res


def parser():
    return peer_common.cka_parser(__doc__)


if __name__ == "__main__":
    peer_common.run_cli(parser(), measure, lambda res, a: f"pytorch-cka {res['pytorch_cka']}: {res['layers']} "
                        f"layers, {a.images} images at batch {a.batch}, {a.image_size} px: {res['seconds']:.3f} s, "
                        f"images/s: {res['images_per_s']:.0f}")
