// `biascka cka`: layer-by-layer CKA matrices (the paper's Figure 1) from checkpoints or stored activations.
#include "apps/cmd_cka.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/cka_cli.h"
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
    std::string checkpoint, checkpoint_b, data, activations, activations_b, out, subset = "all";
    int64_t epochs = 1;
    bool full = false, subset_diff = false;
    uint64_t seed = 0;
    CkaCli cka;
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
  add_cka_cli(cmd, &o->cka);
  cmd->add_flag("--full", o->full,
                "full-data CKA: all samples in one batch (holds every layer's activations)");
  cmd->add_option("--epochs-over-data", o->epochs, "passes over the split (shuffled when > 1)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "shuffle seed for --epochs-over-data > 1")->capture_default_str();
  auto* subset = cmd->add_option("--subset", o->subset,
                                 "all | aligned (target == bias) | conflicting (target != bias) samples")
                     ->capture_default_str()
                     ->needs(ckpt);
  cmd->add_flag("--subset-diff", o->subset_diff,
                "aligned and conflicting in turn, and CKA(aligned) - CKA(conflicting) (see above)")
      ->needs(ckpt)
      ->excludes(subset);
  cmd->callback([o] {
    BIASCKA_CHECK(!o->checkpoint.empty() || !o->activations.empty(),
                  "cka: give --checkpoint (with --data) or --activations");
    check_cka_cli(o->cka);
    usage_check([&] {
      workflows::check_range("--epochs-over-data", o->epochs, 1, 1000000);
      data::parse_subset(o->subset);
      BIASCKA_CHECK(o->cka.axis_labels_option->count() == 0 || !o->checkpoint.empty(),
                    "--axis-labels: only with --checkpoint");
    });
    // One writer per output folder; temporaries of a killed earlier run there go.
    const workflows::RunLock lock(o->out, "cka");
    workflows::remove_stale_temporaries(o->out, false);
    const cka::CkaOptions co = cka_options(o->cka, o->full);
    const Device dev = co.device;
    const std::vector<std::string> probes = cka_probes(o->cka);
    const auto mode = progress_mode(o->cka);

    cka::CkaReport r;
    if (!o->activations.empty()) {
      cka::ActivationsRequest req;
      req.path_a = o->activations;
      req.path_b = o->activations_b;
      req.select = o->cka.layers == "all" ? "" : o->cka.layers;
      req.batch = o->cka.batch;
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
        data::Loader loader(data::select_subset(split, subset),
                            workflows::split_loader_options(o->data, o->cka.image, o->cka.batch,
                                                            o->cka.max_samples, order, o->seed));
        workflows::CkaModelOptions wo;
        wo.layers = o->cka.layers;
        wo.axis_labels = o->cka.axis_labels;
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
