#!/usr/bin/env python3
"""`biascka cka` against the CKA libraries researchers use, on the same checkpoint, images, batches and
layers: torch-cka 0.21 (PyPI `torch-cka==0.21`, module `torch_cka`: the paper's tool), ckatorch 1.0.3
(PyPI `ckatorch==1.0.3`) and pytorch-cka 1.1.3 (PyPI `pytorch-cka==1.1.3`, module `cka`). A peer check,
never a dependency of the product: run it in a throwaway virtual environment (README, "CKA libraries").

    .venv-peers/bin/python bench/peers/cka_libraries.py --checkpoint RUN/best.safetensors \
        --subset-of ~/.cache/biascka/fashion-cmnist/cmnist/test --images 384 --batch 64 --threads 2 --repeats 3

What each library computes, read from its source (and what this script measures):
- torch-cka 0.21 (torch_cka/cka.py): forward hooks store `features[name] = out` (by reference; see
  torch_cka_axis.py for what that does to torchvision's in-place ReLUs), per batch K = X X^T in float32 with
  the diagonal zeroed, HSIC1 of Song et al. / Nguyen et al. Eq. 3 as matrix products in float32 (trace(KL) +
  1'K1 1'L1/((n-1)(n-2)) - 2 1'KL1/(n-2), over n(n-3)), each divided by the number of batches and added to
  a float32 [N, M, 3] tensor; CKA = sum HSIC(K,L) / sqrt(sum HSIC(K,K) sum HSIC(L,L)). With no layer list
  it hooks every module (the paper's 68-row axis, `biascka cka --layers torch_cka`). Autograd stays on and
  every pair recomputes both Grams.
- pytorch-cka 1.1.3 (cka/cka.py, cka/hsic.py): hooks store out.detach().flatten(1) (a view: in-place ops
  still reach it, so the model here has ReLUs not in place), per batch the stacked float32 Grams and
  `hsic_cross`, the same HSIC1 from sums (diagonal subtracted rather than zeroed), added to float32 sums;
  CKA clamped to [0, 1], a zero denominator replaced by 1e-6.
- ckatorch 1.0.3 (ckatorch/core.py, hsic.py, cka.py): `cka_batch(x, y)` takes [batches, n, d], casts to
  float64 and returns sum_b HSIC1(K_b, L_b) / sqrt(sum_b HSIC1(K_b, K_b) sum_b HSIC1(L_b, L_b)): Nguyen et
  al.'s minibatch CKA in float64 (equal batches only: they are stacked). Its model-level `CKA` class hands
  each hooked output to cka_batch as it is, so (a) a 4-D conv output fails in torch.bmm and a 2-D fc
  output in transpose(1, 2) (no ResNet18 layer is 3-D), and (b) `cka_epoch[i, j] = cka_batch(x, y)`
  assigns per batch instead of adding: the result is the last batch's CKA alone, and the first axis of a
  3-D output is taken as the batches (tokens as samples). Measured here: the class on the model (the
  error), the class on 3-D views [1, n, d] of the same outputs (equals the last batch alone), and cka_batch
  on the stacked batches (the minibatch CKA, compared with biascka).
- biascka (cka/accumulator.h): per batch the features centred (float64 means), the Gram in float32
  (ssyrk), U-centring in float64, every pair from one float64 product, float64 sums over batches; HSIC1
  with --estimator unbiased (the default), HSIC0 with biased. No clamping: NaN for a zero-variance layer.

Comparisons (every matrix against biascka's, max and mean |difference| over all cells):
- `axis`: torch-cka on torchvision's resnet18 as it comes (in-place ReLUs, every module: 68 rows) against
  `biascka cka --checkpoint --layers torch_cka`.
- `common`: a layer set every library can hook (52 module outputs of a model whose ReLUs are not in place:
  conv1 bn1 relu maxpool, per block conv1 bn1 conv2 bn2 [downsample.0 downsample.1] and the block itself =
  our relu2, avgpool, fc; a hook on bn2 holds our `add`, since torchvision's `out += identity` writes into
  the stored tensor whatever the ReLUs do), each library against (e2e) `biascka cka --checkpoint --layers
  REGEX` (its own forward pass in our engine) and (same activations) `biascka cka --activations` on the
  outputs PyTorch computed, which leaves only the arithmetic; and once more with torch's default dtype
  float64 (the libraries' arithmetic in float64, model and images double) against biascka on those float64
  activations: what remains is the formula.
Inputs: the images of --data (or --images of --subset-of, every k-th file copied into OUT) in biascka's
order (sorted by path), decoded and normalised as its loader does (cmnist/unit: v/255; cifar10c: CIFAR-10
mean/std; no resizing, so not bffhq), batches of --batch in that order (no shuffling). Checked here: the
logits and layer outputs of `biascka forward` on the first batch against torchvision's, and biascka's
end-to-end matrix against biascka on PyTorch's activations (a different image, order or batching would
show as a large difference). Times: wall seconds of each library's call (model and images in memory,
forward passes included; ckatorch's cka_batch takes activations, so without them) and of each `biascka cka`
process (start, PNG decoding, forward passes), the fastest of --repeats runs, the same CPU, --threads
threads for both (torch.set_num_threads; OMP/OpenBLAS threads for biascka).
Writes OUT/result.json and, with --keep FILE, a copy (bench/peers/cka_libraries.json is the kept one).
"""
import argparse
import contextlib
import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
# This folder's torch_cka.py (our peer) would shadow the torch_cka package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

PINNED = {"torch-cka": "0.21", "ckatorch": "1.0.3", "pytorch-cka": "1.1.3"}
PRESETS = {"cmnist": ((0, 0, 0), (1, 1, 1)), "unit": ((0, 0, 0), (1, 1, 1)),
           "cifar10c": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))}
IMAGE_EXT = (".png", ".jpg", ".jpeg")


# ---------------------------------------------------------------- inputs as biascka's loader reads them

def split_files(split):
    """Every image under `split` named {id}_{target}_{bias}, sorted by path bytes (data/disent.cpp)."""
    files = []
    for root, _, names in os.walk(split):
        files += [os.path.join(root, n) for n in names if os.path.splitext(n)[1].lower() in IMAGE_EXT]
    files.sort(key=os.fsencode)
    if not files:
        sys.exit(f"cka_libraries: {split}: no images")
    return files


def preset_of(split):
    """data/normalize.cpp: the last path component that is a preset name, else unit."""
    found = "unit"
    for part in os.path.normpath(os.path.abspath(split)).split(os.sep):
        if part in ("cmnist", "cifar10c", "bffhq"):
            found = part
    if found == "bffhq":
        sys.exit("cka_libraries: bffhq images are resized to 224 by biascka; not replicated here")
    return found


def load_images(files, preset):
    """[N, 3, H, W] float32 through the loader's table: (v / 255.0f - mean) / std, all in float32."""
    mean, std = PRESETS[preset]
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    lut = np.stack([(v - np.float32(mean[c])) / np.float32(std[c]) for c in range(3)])
    imgs = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    if len({i.shape for i in imgs}) != 1:
        sys.exit("cka_libraries: images of different sizes (biascka would resize; not replicated here)")
    u8 = np.stack(imgs).transpose(0, 3, 1, 2)  # N, 3, H, W
    x = np.empty(u8.shape, dtype=np.float32)
    for c in range(3):
        x[:, c] = lut[c][u8[:, c]]
    return torch.from_numpy(x)


def subset_split(source, images, out):
    """`images` files of `source` at an even stride (all classes), copied with their folders under out."""
    files = split_files(source)
    if images > len(files):
        sys.exit(f"cka_libraries: {source} has {len(files)} images, fewer than {images}")
    picked = [files[i * len(files) // images] for i in range(images)]
    dest = os.path.join(out, "split", preset_of(source), "subset")
    shutil.rmtree(dest, ignore_errors=True)
    for f in picked:
        d = os.path.join(dest, os.path.relpath(os.path.dirname(f), source))
        os.makedirs(d, exist_ok=True)
        shutil.copy2(f, d)
    return dest


# ---------------------------------------------------------------- the model and its layers

def load_model(checkpoint):
    """torchvision's resnet18 with biascka's weights (the checkpoint uses torchvision's names)."""
    with safe_open(checkpoint, "pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optim.")}
    if meta.get("stem", "imagenet") != "imagenet" or meta.get("head", "linear") != "linear":
        sys.exit(f"cka_libraries: {checkpoint}: stem {meta.get('stem')}, head {meta.get('head')}: only the "
                 "standard stem and linear head are torchvision's resnet18")
    model = torchvision.models.resnet18(num_classes=int(meta.get("num_classes", 10)))
    model.load_state_dict(state, strict=True)  # every name and shape, or an error
    return model.eval()


def not_in_place(model):
    """A copy whose ReLUs do not write into their input (a hooked tensor keeps its values)."""
    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, torch.nn.ReLU):
            mod.inplace = False
    return m


def common_layers(model):
    """(module name, biascka layer) of the 52 outputs every library can hook, in forward order."""
    pairs = [(n, n) for n in ("conv1", "bn1", "relu", "maxpool")]
    for s in range(1, 5):
        for b, block in enumerate(getattr(model, f"layer{s}")):
            p = f"layer{s}.{b}"
            pairs += [(f"{p}.{leaf}", f"{p}.{leaf}") for leaf in ("conv1", "bn1", "conv2")]
            # torchvision's `out += identity` is in place even with ReLUs that are not: the tensor a hook
            # stored for bn2 holds the residual sum by the time any library reads it.
            pairs.append((f"{p}.bn2", f"{p}.add"))
            if block.downsample is not None:
                pairs += [(f"{p}.downsample.0", f"{p}.downsample.0"), (f"{p}.downsample.1", f"{p}.downsample.1")]
            pairs.append((p, f"{p}.relu2"))  # a block's output is its final ReLU's
    return pairs + [("avgpool", "avgpool"), ("fc", "fc")]


def activations(model, modules, x, batch):
    """Each module's output over all images (forward in batches of `batch`), stored by reference as the
    libraries' hooks store it (so what they see: bn2 after the in-place residual add)."""
    got = {n: [] for n in modules}
    named = dict(model.named_modules())
    hooks = [named[n].register_forward_hook(lambda m, i, o, n=n: got[n].append(o.detach()))
             for n in modules]
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    for h in hooks:
        h.remove()
    return {n: torch.cat(v) for n, v in got.items()}, logits


def loader(x, batch, labels=True):
    data = torch.utils.data.TensorDataset(x, torch.zeros(len(x))) if labels else torch.utils.data.TensorDataset(x)
    return torch.utils.data.DataLoader(data, batch_size=batch, shuffle=False)


# ---------------------------------------------------------------- biascka

def biascka(exe, args, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    r = subprocess.run([exe] + args, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"cka_libraries: biascka {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return dt


def biascka_cka(exe, out, args, threads, order=None):
    """`biascka cka ... --out out`: (matrix, its layer names, wall seconds); `order`: the rows and columns
    put in this order of names (an activation file's tensors come in the file's order)."""
    log("biascka cka " + " ".join(args)[:120])
    dt = biascka(exe, ["cka", "--quiet", "--bootstrap", "0", "--out", out] + args, threads)
    with open(os.path.join(out, "cka.json")) as f:
        layers = json.load(f)["layers"]
    m = np.load(os.path.join(out, "cka.npy"))
    if order is not None:
        if sorted(layers) != sorted(order):
            sys.exit(f"cka_libraries: {out}: layers {layers} are not {order}")
        idx = [layers.index(n) for n in order]
        m, layers = m[np.ix_(idx, idx)], list(order)
    return m, layers, dt


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save_activations(path, acts, names, rows=None):
    """biascka's activation file: one tensor per layer, `act.<our name>`, samples first."""
    t = {f"act.{ours}": (a if rows is None else a[rows]).contiguous() for (mod, ours), a in zip(names, acts)}
    save_file(t, path)


# ---------------------------------------------------------------- the libraries

@contextlib.contextmanager
def quiet():
    """The libraries' progress bars and warnings (identical model names, unshuffled loaders) kept off."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def run_torch_cka(model, x, batch, layers):
    """torch-cka 0.21: (matrix, row names as its feature keys, seconds). `layers` None: every module."""
    from torch_cka import CKA
    log(f"torch-cka on {f'{len(layers)} modules' if layers else 'every module'}, {next(model.parameters()).dtype}")
    with quiet():
        t0 = time.perf_counter()
        c = CKA(model, model, model1_name="a", model2_name="b", model1_layers=layers, model2_layers=layers)
        c.compare(loader(x, batch))
        dt = time.perf_counter() - t0
    # Its rows are the feature dict's insertion order (the order modules first finish a forward call).
    return c.hsic_matrix.double().numpy(), list(c.model1_features.keys()), dt


def run_pytorch_cka(model, x, batch, layers):
    """pytorch-cka 1.1.3: (matrix in `layers` order, seconds)."""
    import cka
    log(f"pytorch-cka on {len(layers)} modules, {next(model.parameters()).dtype}")
    with quiet():
        t0 = time.perf_counter()
        m = cka.compute_cka(model, model, loader(x, batch), layers=layers, device="cpu", progress=False)[0]
        dt = time.perf_counter() - t0
    return m.double().numpy(), dt


def run_ckatorch_batch(acts, batch):
    """ckatorch 1.0.3's cka_batch on every pair of layers, each layer's batches stacked [B, n, d]
    (equal batches only); the upper triangle computed, mirrored. (matrix, seconds)."""
    from ckatorch import cka_batch
    log(f"ckatorch cka_batch on {len(acts)} layers")
    n = acts[0].shape[0]
    if n % batch:
        return None, None
    stacked = [a.reshape(n // batch, batch, -1) for a in acts]
    m = np.ones((len(acts), len(acts)))
    t0 = time.perf_counter()
    for i in range(len(acts)):
        for j in range(i + 1, len(acts)):
            m[i, j] = m[j, i] = float(cka_batch(stacked[i], stacked[j]))
    return m, time.perf_counter() - t0


def run_ckatorch_class(model, x, batch, modules):
    """ckatorch's CKA class as documented (on the model's modules): the error it raises, or None."""
    from ckatorch import CKA
    try:
        with quiet():
            CKA(model, model, layers=modules)(loader(x, batch, labels=False), epochs=1)
    except Exception as e:  # noqa: BLE001 (what the library raises is the result)
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"
    return None


def run_ckatorch_class_3d(model, x, batch, modules):
    """ckatorch's CKA class on 3-D views [1, n, d] of the same outputs (identity probes called from hooks,
    the model's outputs unchanged): the one shape its class accepts. Returns its matrix."""
    from ckatorch import CKA
    m = copy.deepcopy(model)
    m.probes = torch.nn.ModuleDict({k.replace(".", "_"): torch.nn.Identity() for k in modules})
    named = dict(m.named_modules())
    for k in modules:
        probe = m.probes[k.replace(".", "_")]
        def feed(mod, inp, out, probe=probe):
            probe(out.flatten(1).unsqueeze(0))  # fires the probe's hooks; the module's output stays

        named[k].register_forward_hook(feed)
    with quiet():
        out = CKA(m, m, layers=["probes." + k.replace(".", "_") for k in modules])(
            loader(x, batch, labels=False), epochs=1)
    return out.double().numpy()


# ---------------------------------------------------------------- comparison

# Tolerances for "equal" (README, "CKA libraries"): a library summing in float32 against our float64 sums,
# and any float64 computation against ours (whose Grams are float32 products of centred features).
TOL_FLOAT32 = 1e-3
TOL_FLOAT64 = 1e-6


def diff(a, b, names=None, tol=None, expected=None):
    """max and mean |a - b| and the cell of the max; with `tol`, whether they are equal within it; with
    `expected`, why they are not meant to be."""
    d = np.abs(a - b)
    i, j = np.unravel_index(np.nanargmax(d), d.shape)
    r = {"max_abs": float(np.nanmax(d)), "mean_abs": float(np.nanmean(d)),
         "at": [names[i], names[j]] if names else [int(i), int(j)]}
    if tol is not None:
        r.update(tolerance=tol, equal=bool(r["max_abs"] <= tol))
    if expected:
        r["expected_difference"] = expected
    return r


def cancellation(acts, batch):
    """Per layer on the first batch: ||K0||_F / ||U(K)||_F, K0 the Gram with its diagonal zeroed and U the
    U-centring. The float32 HSIC1 of the libraries sums terms of K0's size whose result has U(K)'s: their
    rounding error grows by about the square of this ratio. Returns (largest ratio, its layer)."""
    worst = (0.0, None)
    for name, a in acts.items():
        xb = a[:batch].reshape(batch, -1).double()
        k = xb @ xb.T
        k.fill_diagonal_(0)
        n = k.shape[0]
        r = k.sum(0) / (n - 2)
        u = k - r[:, None] - r[None, :] + k.sum() / ((n - 1) * (n - 2))
        u.fill_diagonal_(0)
        ratio = float(k.norm() / u.norm().clamp_min(1e-300))
        worst = max(worst, (ratio, name))
    return worst


def forward_check(exe, ckpt, model, x, pairs, out, threads):
    """`biascka forward` on the first batch against torchvision: logits and each common layer's output
    (max |difference| relative to the layer's largest |value|)."""
    inp = os.path.join(out, "batch0.npy")
    np.save(inp, x.numpy())
    dump = os.path.join(out, "forward.safetensors")
    biascka(exe, ["forward", "--checkpoint", ckpt, "--input", inp, "--out", dump], threads)
    acts, logits = activations(not_in_place(model), [m for m, _ in pairs], x, len(x))
    res = {}
    with safe_open(dump, "pt") as f:
        ours = f.get_tensor("logits")
        res["logits_max_abs"] = float((ours - logits).abs().max())
        rel = {}
        for (mod, name) in pairs:
            o = f.get_tensor("act." + name).reshape(len(x), -1)
            t = acts[mod].reshape(len(x), -1)
            rel[name] = float((o - t).abs().max() / t.abs().max().clamp_min(1e-30))
    res["layer_max_rel"] = max(rel.values())
    res["layer_max_rel_at"] = max(rel, key=rel.get)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="a biascka checkpoint (best.safetensors)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="split folder (DisEnt layout), used as it is")
    src.add_argument("--subset-of", help="split folder: --images of its files (every k-th) copied into OUT")
    ap.add_argument("--images", type=int, default=384)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timed runs of each timed step (the fastest is reported)")
    ap.add_argument("--biascka", default="build/bin/biascka")
    ap.add_argument("--out", default="cka-libraries-out")
    ap.add_argument("--keep", default="", help="also write the result JSON here (e.g. bench/peers/cka_libraries.json)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    os.makedirs(a.out, exist_ok=True)
    split = a.data or subset_split(a.subset_of, a.images, a.out)
    files = split_files(split)
    x = load_images(files, preset_of(split))
    model = load_model(a.checkpoint)
    tapped = not_in_place(model)
    pairs = common_layers(model)
    modules, ours = [m for m, _ in pairs], [o for _, o in pairs]
    regex = "(" + "|".join(re.escape(o) for o in ours) + ")"
    res = {"versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                        "torchvision": torchvision.__version__,
                        **{p: version(p) for p in PINNED}},
           "settings": {"biascka": a.biascka, "checkpoint": a.checkpoint, "split": split, "images": len(x),
                        "repeats": a.repeats,
                        "image_shape": list(x.shape[1:]), "batch": a.batch, "threads": a.threads,
                        "cpu": "CPU, torch.set_num_threads and OMP/OPENBLAS_NUM_THREADS = threads",
                        "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
           "checks": {}, "comparisons": {}, "seconds": {}, "notes": {}}
    for p, v in PINNED.items():
        if res["versions"][p] != v:
            print(f"warning: {p} {res['versions'][p]} installed, the check was written for {v}", file=sys.stderr)
    exe = a.biascka

    # Inputs and weights: biascka's forward on the first batch against torchvision's.
    log("biascka forward on the first batch")
    res["checks"]["forward_batch0"] = forward_check(exe, a.checkpoint, model, x[:a.batch], pairs, a.out, a.threads)
    ck = ["--checkpoint", a.checkpoint, "--data", split, "--batch", str(a.batch)]
    cmp = res["comparisons"]
    last32 = "float32 sums in the library (its float64 run agrees)"

    # The paper's axis: torch-cka on torchvision's model as it comes (in-place ReLUs, every module), in
    # float32 (timed) and with float64 arithmetic, against `biascka cka --layers torch_cka`.
    axis_b, axis_names, res["seconds"]["biascka cka --layers torch_cka"] = best_of(a.repeats, lambda: biascka_cka(
        exe, os.path.join(a.out, "biascka-axis"), ck + ["--layers", "torch_cka"], a.threads))
    t_axis, keys, res["seconds"]["torch-cka, every module"] = best_of(
        a.repeats, lambda: run_torch_cka(copy.deepcopy(model), x, a.batch, None))
    keys = [k or "(root)" for k in keys]
    if keys != axis_names:
        sys.exit(f"cka_libraries: torch-cka's rows {keys} are not biascka's axis {axis_names}")
    with default_dtype(torch.float64):
        t_axis64, _, _ = run_torch_cka(copy.deepcopy(model).double(), x.double(), a.batch, None)
    cmp["axis: torch-cka"] = {
        "layers": len(keys), "distinct_rows": int(np.unique(axis_b.round(12), axis=0).shape[0]),
        "float32 vs e2e": diff(t_axis, axis_b, keys, TOL_FLOAT32, last32),
        "float64 vs e2e": diff(t_axis64, axis_b, keys, TOL_FLOAT64)}

    # The common set through biascka: end to end (its loader and engine; both estimators), and on the
    # activations PyTorch computed (float32; float64 with the model in double; the last batch alone).
    # (Our order puts a block's downsample before its add; the hooks' order is the other way round.)
    common_b, _, res["seconds"]["biascka cka --layers REGEX"] = best_of(a.repeats, lambda: biascka_cka(
        exe, os.path.join(a.out, "biascka-common"), ck + ["--layers", regex], a.threads, ours))
    biased_b, _, _ = biascka_cka(exe, os.path.join(a.out, "biascka-common-biased"),
                                 ck + ["--layers", regex, "--estimator", "biased"], a.threads, ours)
    acts32, _, res["seconds"]["PyTorch forward alone (52 hooks)"] = best_of(
        a.repeats, lambda: timed(lambda: activations(tapped, modules, x, a.batch)))
    res["checks"]["cancellation_ratio"] = cancellation(acts32, a.batch)
    acts32 = [acts32[m] for m in modules]
    same_b, res["seconds"]["biascka cka --activations, 52 layers (forward not included)"] = biascka_on(
        exe, a, "acts32", acts32, pairs, ours, repeats=a.repeats)
    last_b, _ = biascka_on(exe, a, "acts32-last-batch", acts32, pairs, ours,
                        slice(len(x) - (len(x) % a.batch or a.batch), len(x)))
    with default_dtype(torch.float64):
        tapped64, x64 = copy.deepcopy(tapped).double(), x.double()
        acts64, _ = activations(tapped64, modules, x64, a.batch)
        same64_b, _ = biascka_on(exe, a, "acts64", [acts64[m] for m in modules], pairs, ours)
        t64, _, _ = run_torch_cka(copy.deepcopy(tapped64), x64, a.batch, modules)
        p64, _ = run_pytorch_cka(copy.deepcopy(tapped64), x64, a.batch, modules)
        del acts64
    res["checks"]["biascka e2e vs biascka on PyTorch's activations"] = diff(common_b, same_b, ours, TOL_FLOAT64)
    res["checks"]["biascka on float32 vs float64 activations"] = diff(same_b, same64_b, ours, TOL_FLOAT64)
    res["checks"]["biascka unbiased vs biased"] = diff(common_b, biased_b, ours)

    # Each library in float32 (timed) on the common set.
    t_common, tkeys, res["seconds"]["torch-cka, 52 modules"] = best_of(
        a.repeats, lambda: run_torch_cka(copy.deepcopy(tapped), x, a.batch, modules))
    if tkeys != modules:
        sys.exit(f"cka_libraries: torch-cka's rows {tkeys} are not {modules}")
    p_common, res["seconds"]["pytorch-cka, 52 modules"] = best_of(
        a.repeats, lambda: run_pytorch_cka(copy.deepcopy(tapped), x, a.batch, modules))
    acts_double = [t.double() for t in acts32]  # ckatorch casts to float64 first; done once, outside the time
    c_common, res["seconds"]["ckatorch cka_batch, 52 layers (forward not included)"] = best_of(
        a.repeats, lambda: run_ckatorch_batch(acts_double, a.batch))
    res["notes"]["ckatorch CKA class on the model"] = run_ckatorch_class(copy.deepcopy(tapped), x, a.batch, modules)
    c_class3d = run_ckatorch_class_3d(tapped, x, a.batch, modules)
    biased = "biased HSIC0 (ours) vs unbiased HSIC1 (the library's)"
    for lib, m, m64 in (("torch-cka", t_common, t64), ("pytorch-cka", p_common, p64)):
        cmp["common: " + lib] = {"layers": len(modules),
                                 "float32 vs e2e": diff(m, common_b, ours, TOL_FLOAT32, last32),
                                 "float32 vs same activations": diff(m, same_b, ours, TOL_FLOAT32, last32),
                                 "float64 vs same activations": diff(m64, same64_b, ours, TOL_FLOAT64),
                                 "float32 vs e2e --estimator biased": diff(m, biased_b, ours, expected=biased)}
    if c_common is not None:
        cmp["common: ckatorch cka_batch"] = {"layers": len(modules),
                                             "float64 vs e2e": diff(c_common, common_b, ours, TOL_FLOAT64),
                                             "float64 vs same activations": diff(c_common, same_b, ours, TOL_FLOAT64),
                                             "float64 vs e2e --estimator biased":
                                                 diff(c_common, biased_b, ours, expected=biased)}
    # (float64 arithmetic, kept in a float32 matrix: 6e-8 at most from that.)
    cmp["common: ckatorch CKA class, 3-D views"] = {
        "layers": len(modules),
        "vs e2e": diff(c_class3d, common_b, ours, expected="the class keeps the last batch's CKA alone"),
        "vs the last batch alone": diff(c_class3d, last_b, ours, TOL_FLOAT64)}
    res["notes"]["cells below 0 in biascka's matrix (pytorch-cka clamps them)"] = int((same_b < 0).sum())
    res["notes"]["distinct rows on the axis"] = (
        "torch-cka's 68 rows hold 43 distinct layers (torch_cka_axis.tsv); with 1 x 1 maps in layer4 (28 px "
        "images) avgpool equals layer4's output, one fewer")

    res["settings"]["load_average_at_end"] = os.getloadavg()[0]
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    if a.keep:
        shutil.copyfile(os.path.join(a.out, "result.json"), a.keep)
    print_table(res)


def timed(fn):
    t0 = time.perf_counter()
    return (*fn(), time.perf_counter() - t0)


def best_of(repeats, fn):
    """fn() `repeats` times; its result (seconds last) with the smallest seconds of all runs (the machine
    is shared: the fastest run is the one least disturbed)."""
    best = None
    for _ in range(max(1, repeats)):
        r = fn()
        if r[-1] is None:  # not run (ckatorch's cka_batch with unequal batches)
            return r
        best = r if best is None or r[-1] < best[-1] else best
    return best


@contextlib.contextmanager
def default_dtype(dtype):
    """torch's default dtype for the block: the libraries' own buffers (torch.zeros, torch.ones) follow it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def biascka_on(exe, a, name, acts, pairs, ours, rows=None, repeats=1):
    """`biascka cka --activations` on these activations (all rows, or `rows`), in the order of `ours`:
    (matrix, the fastest process's seconds of `repeats`)."""
    path = os.path.join(a.out, name + ".safetensors")
    save_activations(path, acts, pairs, rows)
    m, _, dt = best_of(repeats, lambda: biascka_cka(exe, os.path.join(a.out, "biascka-" + name),
                                                    ["--activations", path, "--batch", str(a.batch)], a.threads, ours))
    return m, dt


def print_table(res):
    s = res["settings"]
    print(f"\n{s['images']} images {s['image_shape']}, batch {s['batch']}, {s['threads']} threads of {s['cores']} "
          "cores "
          f"(load average {s['load_average_at_start']:.1f} at start, {s['load_average_at_end']:.1f} at end); "
          + ", ".join(f"{k} {v}" for k, v in res["versions"].items()))
    fc = res["checks"]["forward_batch0"]
    print(f"biascka forward vs torchvision, batch 0: logits max |diff| {fc['logits_max_abs']:.1e}, layer outputs max "
          f"|diff|/max|value| {fc['layer_max_rel']:.1e} ({fc['layer_max_rel_at']})")
    ratio, layer = res["checks"]["cancellation_ratio"]
    print(f"largest ||K0|| / ||U(K)|| on batch 0: {ratio:.0f} ({layer})")
    rows = [(k, v) for k, v in res["checks"].items() if isinstance(v, dict) and "max_abs" in v]
    rows += [(f"{name}: {k}", v) for name, c in res["comparisons"].items() for k, v in c.items()
             if isinstance(v, dict)]
    print(f"\n{'matrix against biascka':62} {'max |diff|':>10} {'mean |diff|':>11}  verdict")
    for k, v in rows:
        verdict = (("equal" if v["equal"] else "NOT equal") + f" (tol {v['tolerance']:.0e})") if "equal" in v \
            else v.get("expected_difference", "")
        print(f"{k:62} {v['max_abs']:10.2e} {v['mean_abs']:11.2e}  {verdict}")
    print("\nwall seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res["seconds"].items() if v is not None))
    for k, v in res["notes"].items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
