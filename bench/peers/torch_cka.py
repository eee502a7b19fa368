#!/usr/bin/env python3
"""PyTorch peer of `biascka cka` / bench_cka_cuda's cka_end_to_end: the same all-pairs minibatch CKA over
ResNet18's 69 layers, done the fastest way the public PyTorch CKA code does it, for side-by-side timing.

torchvision resnet18 (+ dropout 0.4 before fc, as biascka's model), eval mode, no grad, cuDNN benchmark mode.
Forward hooks compute each layer's Gram X X^T (float32, TF32 unless --no-tf32) and its U-centring (or H K H
with --estimator biased) as soon as the layer fires (the hook runs before the block's in-place residual add
can change a tapped tensor); per batch the centred Grams are stacked as rows of G (L x n^2) and one matmul
G G^T gives every pair's HSIC, scaled by 1/(n(n-3)) (or 1/(n-1)^2) and added to float64 sums. CKA from the
sums at the end, as biascka does (minibatch CKA of Nguyen et al. 2021).

The 69 layers in biascka's order: conv1 bn1 relu maxpool, per block conv1 bn1 relu1 conv2 bn2
[downsample.0 downsample.1] add relu2 (the block's ReLU module fires twice; `add` is its second input),
avgpool dropout fc. Inputs: one batch of random images on the GPU reused, 10,000 images at batch 512
(19 x 512 + 272), as cka_end_to_end; both batch shapes are warmed up before the timed runs. Prints one JSON
line with images/s on its last line (--json), or text.
"""
import torch

import peer_common


def center(k, unbiased):
    n = k.shape[0]
    if unbiased:
        k = k.clone()
        k.fill_diagonal_(0)
        r = k.sum(1)
        u = k - (r[:, None] + r[None, :]) / (n - 2) + r.sum() / ((n - 1) * (n - 2))
        u.fill_diagonal_(0)
        return u
    r = k.mean(1)
    return k - r[:, None] - r[None, :] + r.mean()


class CkaHooks:
    """Per batch: each tapped layer's centred Gram, flattened, in forward order."""

    def __init__(self, model, unbiased, channels_last):
        self.unbiased = unbiased
        self.channels_last = channels_last
        self.grams = []
        self.names = []
        self.calls = {}
        self.recording_names = True

        def record(name, out):
            n = out.shape[0]
            if out.dim() == 4 and self.channels_last:
                x = out.permute(0, 2, 3, 1).reshape(n, -1)  # a view of channels-last memory
            else:
                x = out.reshape(n, -1)
            k = x @ x.T
            self.grams.append(center(k, self.unbiased).reshape(-1))
            if self.recording_names:
                self.names.append(name)

        def hook(name):
            return lambda mod, inp, out: record(name, out)

        def block_relu(prefix):
            def pre(mod, inp):
                c = self.calls.get(prefix, 0)
                if c == 1:
                    record(prefix + ".add", inp[0])

            def post(mod, inp, out):
                c = self.calls.get(prefix, 0)
                record(prefix + (".relu1" if c == 0 else ".relu2"), out)
                self.calls[prefix] = c + 1

            return pre, post

        for name in ["conv1", "bn1", "relu", "maxpool"]:
            getattr(model, name).register_forward_hook(hook(name))
        for s in range(1, 5):
            for b in range(2):
                prefix = f"layer{s}.{b}"
                block = getattr(model, f"layer{s}")[b]
                for leaf in ["conv1", "bn1", "conv2", "bn2"]:
                    getattr(block, leaf).register_forward_hook(hook(f"{prefix}.{leaf}"))
                if block.downsample is not None:
                    block.downsample[0].register_forward_hook(hook(prefix + ".downsample.0"))
                    block.downsample[1].register_forward_hook(hook(prefix + ".downsample.1"))
                pre, post = block_relu(prefix)
                block.relu.register_forward_pre_hook(pre)
                block.relu.register_forward_hook(post)
        model.avgpool.register_forward_hook(hook("avgpool"))
        model.fc.dropout.register_forward_hook(hook("dropout"))
        model.fc.fc.register_forward_hook(hook("fc"))

    def start_batch(self):
        self.grams = []
        self.calls = {}


def run(model, hooks, full, tail, images, batch, unbiased):
    """All-pairs minibatch CKA over `images` images; returns the L x L matrix on the host (float64)."""
    sums = None
    done = 0
    hooks.recording_names = not hooks.names
    with torch.no_grad():
        while done < images:
            x = full if images - done >= batch else tail
            hooks.start_batch()
            model(x)
            n = x.shape[0]
            g = torch.stack(hooks.grams)  # L x n^2
            p = (g @ g.T).double() * (1.0 / (n * (n - 3)) if unbiased else 1.0 / ((n - 1) ** 2))
            sums = p if sums is None else sums + p
            done += n
            hooks.recording_names = False
    d = torch.sqrt(torch.diagonal(sums))
    return (sums / (d[:, None] * d[None, :])).cpu()


def measure(a):
    """One setting (argparse-like namespace with the options below); returns the result as a dict."""
    dev, precision = peer_common.start(a)
    channels_last = not a.no_channels_last
    model = peer_common.resnet18(a.classes, tapped=True).to(dev).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    unbiased = a.estimator == "unbiased"
    hooks = None if a.forward_only else CkaHooks(model, unbiased, channels_last)
    full = torch.randn(a.batch, 3, a.image_size, a.image_size, device=dev)
    if channels_last:
        full = full.contiguous(memory_format=torch.channels_last)
    last = a.images % a.batch or a.batch
    tail = full[:last].contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def once(images):
        if hooks is None:
            with torch.no_grad():
                done = 0
                while done < images:
                    x = full if images - done >= a.batch else tail
                    model(x)
                    done += x.shape[0]
            peer_common.sync(dev)
            return None
        m = run(model, hooks, full, tail, images, a.batch, unbiased)
        peer_common.sync(dev)
        return m

    # Warm-up: cuDNN's benchmark search, the allocator and cuBLAS, for both shapes that are timed (a full
    # batch and the short last one).
    once(a.batch + last)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best, matrix = peer_common.timed_best(a.repeats, lambda: once(a.images), dev)
    res = {"framework": "torch_cka.py", "image_size": a.image_size, "batch": a.batch, "images": a.images,
           "estimator": a.estimator, "tf32": not a.no_tf32, "precision": precision,
           "channels_last": channels_last, "forward_only": a.forward_only,
           "layers": len(hooks.names) if hooks else 0, "seconds": best, "images_per_s": a.images / best}
    res.update(peer_common.device_info(dev))
    if matrix is not None:
        res["matrix_trace"] = float(torch.trace(matrix))
        if a.save:
            import numpy as np
            np.save(a.save, matrix.numpy())
    return res


def parser():
    ap = peer_common.cka_parser(__doc__)
    ap.add_argument("--estimator", default="unbiased", choices=["unbiased", "biased"])
    ap.add_argument("--no-channels-last", action="store_true", help="NCHW convolutions (PyTorch's default)")
    ap.add_argument("--forward-only", action="store_true", help="time the forward passes without CKA")
    ap.add_argument("--save", default="", help="write the CKA matrix to this .npy file")
    return ap


if __name__ == "__main__":
    peer_common.run_cli(parser(), measure, lambda res, a: f"{res['layers']} layers, {a.images} images at batch "
                        f"{a.batch}, {a.image_size} px: {res['seconds']:.3f} s, images/s: {res['images_per_s']:.0f}")
