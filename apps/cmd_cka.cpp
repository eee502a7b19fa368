// `biascka cka`: layer-by-layer CKA matrices (the paper's Figure 1) from checkpoints or stored activations.
#include "apps/cmd_cka.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/common.h"
#include "cka/activations.h"
#include "cka/output.h"
#include "cka/probes.h"
#include "data/disent.h"
#include "data/loader.h"
#include "data/subset.h"
#include "engine/device.h"
#include "engine/error.h"
#include "models/resnet18_checkpoint.h"
#include "models/torch_cka_axis.h"
#include "workflows/cka_model.h"
#include "workflows/cka_subsets.h"
#include "workflows/option_limits.h"
#include "workflows/progress.h"
#include "workflows/run_lock.h"
#include "workflows/split_loader.h"

namespace biascka::app {

void add_cka_command(CLI::App& root) {
  struct Opts {
    std::string checkpoint, checkpoint_b, data, activations, activations_b, out, layers = "all";
    std::string estimator = "unbiased", kernel = "linear", device = "cpu", subset = "all", probes;
    std::string axis_labels = "torch_cka";
    int64_t bootstrap = 1000;
    uint64_t bootstrap_seed = 0;
    int64_t batch = 512, epochs = 1, max_samples = 0, gram_memory_mib = 1024;
    double rbf_threshold = 1.0;
    bool full = false, quiet = false, no_tf32 = false, subset_diff = false;
    uint64_t seed = 0;
    workflows::ImageOptions image;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = root.add_subcommand(
      "cka",
      "Centered kernel alignment between every pair of layers (the paper's Figure 1), as Nguyen et al.'s "
      "minibatch\n"
      "CKA: per batch, each layer's Gram is centred (U-centring for the unbiased HSIC1, HKH for the biased "
      "HSIC0)\n"
      "and one product of the stacked Grams gives every pair's HSIC; sums over batches give CKA.\n"
      "From models: streams --data once (or --epochs-over-data times, shuffled) through --checkpoint (and\n"
      "--checkpoint-b for an A x B matrix) in evaluation mode. From activations: --activations "
      "FILE.safetensors,\n"
      "every tensor one layer with samples on its first axis (as `biascka forward` writes), read --batch "
      "rows at a time.\n"
      "Writes DIR/cka.json (layers, layers_b, matrix, estimator, batch, samples, settings; NaN as null),\n"
      "DIR/cka.csv, DIR/cka.npy (float64) and DIR/cka.png (heatmap, origin bottom-left; up to 4000\n"
      "layers per axis). A layer with zero variance gets NaN and a warning; NaN or infinite activations are "
      "an error.\n"
      "--bootstrap R (default 1000, 0: off): 95% percentile intervals of every cell by resampling the "
      "batches\n"
      "(as independent draws) R times from --bootstrap-seed: cka.json ci_low/ci_high, DIR/cka_ci.npy [2, "
      "rows,\n"
      "cols]; cka.png fades cells whose interval is wider than 0.1. Not with --full (one batch).\n"
      "--probes target,bias (one model): CKA of every layer with the one-hot target and bias labels from "
      "the\n"
      "same pass (activations: int64 [N] tensors label.target, label.bias in the file): cka.json probes,\n"
      "DIR/probes.csv, DIR/probes.png.\n"
      "One process per DIR (DIR/.lock).\n"
      "--subset aligned|conflicting: only the samples whose file name has target == bias (!=). "
      "--subset-diff:\n"
      "both, each in its own pass, into DIR/aligned/ and DIR/conflicting/, and their difference (aligned -\n"
      "conflicting) as DIR/cka_diff.json, cka_diff.npy and cka_diff.png (diverging colours centred on 0).\n"
      "--device cuda: forward passes and (linear kernel) Grams and HSIC products on the GPU: fused\n"
      "Gram + centring kernels, one product of all centred Grams per batch, float64 sums; activations\n"
      "stay on the GPU and the next batch's forward pass overlaps this batch's CKA. TF32 unless --no-tf32.\n"
      "Examples: biascka cka --checkpoint runs/cmnist-sce-0/best.safetensors --data ROOT/cmnist/test --out "
      "cka/sce\n"
      "          biascka cka --activations acts.safetensors --batch 256 --out cka/acts\n"
      "          biascka cka --device cuda --checkpoint best.safetensors --data ROOT/cifar10c/test --out "
      "cka/gpu");
  auto* ckpt = cmd->add_option("--checkpoint", o->checkpoint, "model A weights (safetensors)");
  cmd->add_option("--checkpoint-b", o->checkpoint_b, "model B weights: the A x B cross-model matrix")
      ->needs(ckpt);
  cmd->add_option("--data", o->data, "split folder (DisEnt layout), e.g. ROOT/cmnist/test")->needs(ckpt);
  auto* acts =
      cmd->add_option("--activations", o->activations, "activations file A (safetensors)")->excludes(ckpt);
  cmd->add_option("--activations-b", o->activations_b, "activations file B (same samples)")->needs(acts);
  cmd->add_option("--out", o->out, "output folder for cka.json, cka.csv, cka.npy, cka.png")->required();
  cmd->add_option("--batch", o->batch, "samples per CKA minibatch (>= 4 unbiased, >= 2 biased)")
      ->capture_default_str();
  cmd->add_flag("--full", o->full,
                "full-data CKA: all samples in one batch (holds every layer's activations)");
  cmd->add_option("--epochs-over-data", o->epochs, "passes over the split (shuffled when > 1)")
      ->capture_default_str();
  cmd->add_option("--estimator", o->estimator, "unbiased (HSIC1) | biased (HSIC0)")->capture_default_str();
  cmd->add_option("--kernel", o->kernel, "linear | rbf")->capture_default_str();
  cmd->add_option("--rbf-threshold", o->rbf_threshold, "RBF bandwidth as a fraction of the median distance")
      ->capture_default_str();
  cmd->add_option("--layers", o->layers,
                  "models: all | modules | torch_cka (torch-cka 0.21's 68 rows, as the paper's Figure 1) | "
                  "REGEX over the layer names; activations: REGEX over tensor names")
      ->capture_default_str();
  auto* axis_labels = cmd->add_option("--axis-labels", o->axis_labels,
                                      "with --layers torch_cka, the rows' names: torch_cka | ours (the layer "
                                      "each row really is) | both")
                          ->capture_default_str()
                          ->needs(ckpt);
  cmd->add_option("--device", o->device,
                  "cpu | cuda | cuda:N: the models' forward and, for the linear kernel, the Grams and HSIC")
      ->capture_default_str();
  cmd->add_flag("--no-tf32", o->no_tf32, "exact FP32 convolutions, Grams and products on the GPU (no TF32)");
  cmd->add_option("--seed", o->seed, "shuffle seed for --epochs-over-data > 1")->capture_default_str();
  cmd->add_option("--max-samples", o->max_samples, "a seeded subset of this many images (0: all)")
      ->capture_default_str();
  auto* subset = cmd->add_option("--subset", o->subset,
                                 "all | aligned (target == bias) | conflicting (target != bias) samples")
                     ->capture_default_str()
                     ->needs(ckpt);
  cmd->add_flag("--subset-diff", o->subset_diff,
                "aligned and conflicting in turn, and CKA(aligned) - CKA(conflicting) (see above)")
      ->needs(ckpt)
      ->excludes(subset);
  add_image_options(cmd, &o->image);
  cmd->add_option("--gram-memory", o->gram_memory_mib,
                  "MiB of centred Grams held at once; beyond it layers are processed in groups (same result)")
      ->capture_default_str();
  cmd->add_option("--bootstrap", o->bootstrap, "bootstrap replicates for the 95% intervals (0: none)")
      ->capture_default_str();
  cmd->add_option("--bootstrap-seed", o->bootstrap_seed, "seed of the bootstrap's resampling")
      ->capture_default_str();
  cmd->add_option("--probes", o->probes,
                  "label probes: target, bias or target,bias (one model, linear kernel)");
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->callback([o, axis_labels] {
    BIASCKA_CHECK(!o->checkpoint.empty() || !o->activations.empty(),
                  "cka: give --checkpoint (with --data) or --activations");
    usage_check([&] {
      workflows::check_image_options(o->image.image_size, o->image.workers);
      workflows::check_range("--batch", o->batch, 1, workflows::kMaxBatch);
      workflows::check_range("--epochs-over-data", o->epochs, 1, 1000000);
      workflows::check_batch_memory("", o->batch, o->image.image_size);
      workflows::parse_device("--device", o->device);
      data::parse_subset(o->subset);
      workflows::check_range("--bootstrap", o->bootstrap, 0, 1000000);
      cka::parse_probes(o->probes);
      BIASCKA_CHECK(axis_labels->count() == 0 || o->layers == "torch_cka",
                    "--axis-labels: only with --layers torch_cka");
      torch_cka_axis_labels({}, o->axis_labels);  // a valid mode
    });
    // One writer per output folder; temporaries of a killed earlier run there go.
    const workflows::RunLock lock(o->out, "cka");
    workflows::remove_stale_temporaries(o->out, false);
    cka::CkaOptions co;
    co.estimator = cka::parse_estimator(o->estimator);
    co.kernel = {cka::parse_kernel(o->kernel), o->rbf_threshold};
    BIASCKA_CHECK(o->rbf_threshold > 0, "cka: --rbf-threshold must be positive, got ", o->rbf_threshold);
    BIASCKA_CHECK(o->gram_memory_mib > 0, "cka: --gram-memory must be positive");
    co.gram_memory = static_cast<size_t>(o->gram_memory_mib) << 20;
    const Device dev = Device::parse(o->device);
    require_device(dev);
    co.device = dev;
    co.bootstrap = o->full ? 0 : o->bootstrap;  // one batch: nothing to resample
    co.bootstrap_seed = o->bootstrap_seed;
    const std::vector<std::string> probes = cka::parse_probes(o->probes);
    set_math_mode(dev, o->no_tf32 ? MathMode::Exact : MathMode::Tf32);
    BIASCKA_CHECK(o->full || o->batch >= cka::min_batch(co.estimator), "cka: --batch ", o->batch, ": the ",
                  cka::estimator_name(co.estimator), " estimator needs at least ",
                  cka::min_batch(co.estimator), " samples per batch");
    const auto mode = o->quiet ? workflows::ProgressMode::Quiet : workflows::ProgressMode::Auto;

    cka::CkaReport r;
    if (!o->activations.empty()) {
      cka::ActivationsRequest req;
      req.path_a = o->activations;
      req.path_b = o->activations_b;
      req.select = o->layers == "all" ? "" : o->layers;
      req.batch = o->batch;
      req.full = o->full;
      req.options = co;
      req.probes = probes;
      {  // what the computation cannot give, said before it starts
        const SafetensorsReader fa(req.path_a);
        const size_t lb =
            req.path_b.empty()
                ? 0
                : cka::activation_layers(SafetensorsReader(req.path_b), req.select).tensors.size();
        const cka::ActivationLayers la = cka::activation_layers(fa, req.select);
        for (const std::string& n : cka::plan_notes(req.path_a, la.samples, req.full ? la.samples : req.batch,
                                                    req.full, co.estimator, la.tensors.size(), lb))
          workflows::warn(n);
      }
      r = cka::cka_from_activations(req);
    } else {
      BIASCKA_CHECK(!o->data.empty(), "cka: --checkpoint needs --data SPLIT_DIR");
      ResNet18 a = load_resnet18(o->checkpoint, dev);
      std::optional<ResNet18> b;
      if (!o->checkpoint_b.empty()) b.emplace(load_resnet18(o->checkpoint_b, dev));
      const auto order = o->epochs > 1 ? workflows::SplitOrder::Shuffled : workflows::SplitOrder::Fixed;
      const data::Split split = data::scan_split(o->data);
      auto cka_on = [&](data::Subset subset) {
        data::Loader loader(
            data::select_subset(split, subset),
            workflows::split_loader_options(o->data, o->image, o->batch, o->max_samples, order, o->seed));
        workflows::CkaModelOptions wo;
        wo.layers = o->layers;
        wo.axis_labels = o->axis_labels;
        wo.epochs_over_data = o->epochs;
        wo.full = o->full;
        wo.cka = co;
        wo.probes = probes;
        wo.progress = mode;
        cka::CkaReport rs = workflows::cka_of_models(a, b ? &*b : nullptr, loader, wo);
        rs.sources.insert(rs.sources.begin(), {"checkpoint", o->checkpoint});
        if (b) rs.sources.insert(rs.sources.begin() + 1, {"checkpoint_b", o->checkpoint_b});
        rs.sources.emplace_back("subset", data::subset_name(subset));
        return rs;
      };
      if (o->subset_diff) {
        const cka::CkaReport aligned = cka_on(data::Subset::Aligned);
        const cka::CkaReport conflicting = cka_on(data::Subset::Conflicting);
        for (const cka::CkaReport* x : {&aligned, &conflicting})
          for (const std::string& w : x->warnings) workflows::warn(w);
        std::string files;
        for (const std::string& f : workflows::write_cka_subset_diff(o->out, aligned, conflicting))
          files += (files.empty() ? "" : ", ") + f;
        std::printf("aligned: %s\nconflicting: %s\nwrote %s/{%s}\n", cka::describe(aligned).c_str(),
                    cka::describe(conflicting).c_str(), workflows::printable(o->out).c_str(), files.c_str());
        return;
      }
      r = cka_on(data::parse_subset(o->subset));
    }
    for (const std::string& w : r.warnings) workflows::warn(w);
    const std::vector<std::string> written = cka::write_cka_outputs(o->out, r);
    // On an asynchronous device the CKA runs on its own queue (its times overlap the forward passes).
    const bool overlapping = device_is_asynchronous(r.gram_device);
    std::printf("%s\n%zu x %zu layers over %lld batch%s on %s: forward %.2f s, Grams %.2f s, HSIC %.2f s%s\n",
                cka::describe(r).c_str(), r.layers.size(), r.layers_b.size(),
                static_cast<long long>(r.batches), r.batches == 1 ? "" : "es", r.gram_device.str().c_str(),
                r.forward_s, r.timing.gram_s, r.timing.hsic_s, overlapping ? " (GPU time, overlapping)" : "");
    std::string files;
    for (const std::string& f : written) files += (files.empty() ? "" : ", ") + f;
    std::printf("wrote %s/%s\n", workflows::printable(o->out).c_str(), files.c_str());
  });
}

}  // namespace biascka::app
