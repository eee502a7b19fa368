#!/usr/bin/env python3
"""Derives the rows of torch-cka 0.21's CKA matrix on torchvision's ResNet18 (the paper's Figure 1 axis) and
what each row really holds, as biascka's layer names. Writes bench/peers/torch_cka_axis.tsv, which
models/torch_cka_axis.cpp must match (tests/test_torch_cka_axis.cpp compares them). A peer tool, never a
dependency of the product: run it in a throwaway virtual environment,

    python3 -m venv .venv-peers && .venv-peers/bin/pip install torch torchvision torch-cka==0.21
    .venv-peers/bin/python bench/peers/torch_cka_axis.py            # rewrites bench/peers/torch_cka_axis.tsv

How torch-cka 0.21 (torch_cka/cka.py) builds its axis, read from its source:
- With no layer list it registers a forward hook on every entry of model.named_modules(): the root module
  (name "") and every container (layer1, layer1.0, layer2.0.downsample) as well as the leaves; 68 modules
  for resnet18. The matrix is N x N with N = len(list(model.modules())).
- The hook does `features[name] = out`: a dict keyed by module name. Its rows are `features.items()` in
  insertion order, i.e. the order in which each module FIRST finished a forward call (a post-order walk:
  layer1.0.bn2 before layer1.0, the root last).
- A module called twice keeps its first position but its last output: BasicBlock's single ReLU module is
  called after bn1 and after the residual add, so the row `layerS.B.relu` sits between bn1 and conv2 but
  holds the block's output (our `layerS.B.relu2`).
- `out` is stored by reference, not copied, and torchvision's ReLUs are in place (inplace=True), as is the
  block's `out += identity`: the tensor a hook stored is overwritten later in the same forward pass. So
  the row `bn1` (stem) holds relu's output, `layerS.B.bn1` holds relu1's output and `layerS.B.bn2` the
  block's output after the add and the final ReLU. No row holds a batch-norm output before its ReLU, and
  none the residual sum before the ReLU.
- A container's output is its last child's: `layerS.B` = the block's final ReLU, `layerS` = its second
  block's output, `layerS.0.downsample` = `downsample.1`, the root "" = `fc` (the logits).
- export()["model1_layers"], the names torch-cka hands back beside the matrix, are in named_modules order
  ("" first, then conv1, bn1, relu, maxpool, layer1, layer1.0, ...), not in the matrix's row order: the
  labels it returns do not label its rows. The file lists both.

Rather than trusting this reading, the script runs torch-cka's own hooks (CKA(...)._insert_hooks through
its constructor) on a random batch and identifies each recorded tensor by comparing it with every layer
output of biascka's naming, recomputed step by step without in-place operations; each row must equal
exactly one of them (biascka's `dropout` is not a candidate: torchvision's resnet18 has no dropout, and in
evaluation mode ours is the identity on avgpool).

Output, tab-separated, one line per row after a header: row index, torch-cka's feature key (the root's key
is the empty string, written `(root)`), the biascka layer that holds the same values, and the name
torch-cka's export() gives at that index.
"""
import argparse
import os
import sys
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
# This folder's torch_cka.py (our peer) would shadow the torch_cka package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import torch  # noqa: E402
import torchvision  # noqa: E402
from torch_cka import CKA  # noqa: E402

ROOT_KEY = "(root)"


def reference_taps(model, x):
    """biascka's layer taps (models/resnet18.h) of torchvision's resnet18, each a fresh tensor."""
    taps = {}

    def tap(name, t):
        taps[name] = t.detach().clone()
        return t

    relu = torch.nn.functional.relu
    h = tap("conv1", model.conv1(x))
    h = tap("bn1", model.bn1(h))
    h = tap("relu", relu(h))
    h = tap("maxpool", model.maxpool(h))
    for s in range(1, 5):
        for b, block in enumerate(getattr(model, f"layer{s}")):
            p = f"layer{s}.{b}."
            y = tap(p + "conv1", block.conv1(h))
            y = tap(p + "bn1", block.bn1(y))
            y = tap(p + "relu1", relu(y))
            y = tap(p + "conv2", block.conv2(y))
            y = tap(p + "bn2", block.bn2(y))
            identity = h
            if block.downsample is not None:
                identity = tap(p + "downsample.0", block.downsample[0](h))
                identity = tap(p + "downsample.1", block.downsample[1](identity))
            y = tap(p + "add", y + identity)
            h = tap(p + "relu2", relu(y))
    h = tap("avgpool", torch.flatten(model.avgpool(h), 1))
    tap("fc", model.fc(h))
    return taps


def identify(t, taps):
    """The one reference tap equal to t (flattened per sample, as CKA sees it)."""
    flat = t.detach().flatten(1)
    same = [n for n, r in taps.items() if r.flatten(1).shape == flat.shape and torch.equal(r.flatten(1), flat)]
    if len(same) != 1:
        sys.exit(f"torch_cka_axis: a recorded tensor matches {same or 'no layer'}, expected exactly one")
    return same[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "torch_cka_axis.tsv"))
    ap.add_argument("--classes", type=int, default=10, help="fc outputs (biascka's default: 10)")
    ap.add_argument("--image-size", type=int, default=64,
                    help="large enough that layer4 is more than 1 x 1 (else it equals avgpool)")
    a = ap.parse_args()

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=a.classes).eval()
    # The reference first, on a model without hooks; then torch-cka's hooks on the same model.
    x = torch.randn(4, 3, a.image_size, a.image_size)
    with torch.no_grad():
        taps = reference_taps(model, x)
    cka = CKA(model, model, model1_name="resnet18", model2_name="resnet18-b")
    cka.model1_features = {}
    cka.model2_features = {}
    model(x)  # with autograd on, as CKA.compare runs it
    # Both hooks of a module fire; model1_features is what compare() turns into the matrix's rows.
    rows = list(cka.model1_features.items())
    labels = cka.model1_info["Layers"]
    n = len(list(model.modules()))
    if len(rows) != n or len(labels) != n:
        sys.exit(f"torch_cka_axis: {len(rows)} rows, {len(labels)} labels, {n} modules")
    lines = [f"# torch-cka {version('torch-cka')}, torch {torch.__version__}, torchvision {torchvision.__version__}: "
             f"resnet18(num_classes={a.classes}), made by bench/peers/torch_cka_axis.py",
             "row\ttorch_cka\tbiascka\texport_label"]
    for i, (key, t) in enumerate(rows):
        label = labels[i] or ROOT_KEY
        lines.append(f"{i}\t{key or ROOT_KEY}\t{identify(t, taps)}\t{label}")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, a.out)
    print(f"{len(rows)} rows -> {a.out}")


if __name__ == "__main__":
    main()
