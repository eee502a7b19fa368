#include "apps/cka_cli.h"

#include <cstddef>

#include "apps/common.h"
#include "cka/estimator.h"
#include "cka/probes.h"
#include "engine/device.h"
#include "engine/error.h"
#include "models/torch_cka_axis.h"
#include "workflows/option_limits.h"

namespace biascka::app {

void add_cka_cli(CLI::App* cmd, CkaCli* o) {
  cmd->add_option("--batch", o->batch, "samples per CKA minibatch (>= 4 unbiased, >= 2 biased)")
      ->capture_default_str();
  cmd->add_option("--estimator", o->estimator, "unbiased (HSIC1) | biased (HSIC0)")->capture_default_str();
  cmd->add_option("--kernel", o->kernel, "linear | rbf")->capture_default_str();
  cmd->add_option("--rbf-threshold", o->rbf_threshold, "RBF bandwidth as a fraction of the median distance")
      ->capture_default_str();
  cmd->add_option("--layers", o->layers,
                  "models: all | modules | torch_cka (torch-cka 0.21's 68 rows, as the paper's Figure 1) | "
                  "REGEX over the layer names; activations: REGEX over tensor names")
      ->capture_default_str();
  o->axis_labels_option = cmd->add_option("--axis-labels", o->axis_labels,
                                          "with --layers torch_cka, the rows' names: torch_cka | ours (the "
                                          "layer each row really is) | both")
                              ->capture_default_str();
  cmd->add_option("--device", o->device,
                  "cpu | cuda | cuda:N: the models' forward and, for the linear kernel, the Grams and HSIC")
      ->capture_default_str();
  cmd->add_flag("--no-tf32", o->no_tf32, "exact FP32 convolutions, Grams and products on the GPU (no TF32)");
  cmd->add_option("--max-samples", o->max_samples, "a seeded subset of this many images (0: all)")
      ->capture_default_str();
  add_image_options(cmd, &o->image);
  cmd->add_option("--gram-memory", o->gram_memory_mib,
                  "MiB of centred Grams held at once; beyond it layers are processed in groups (same result)")
      ->capture_default_str();
  cmd->add_option("--bootstrap", o->bootstrap, "bootstrap replicates for the 95% intervals (0: none)")
      ->capture_default_str();
  cmd->add_option("--bootstrap-seed", o->bootstrap_seed, "seed of the bootstrap's resampling")
      ->capture_default_str();
  cmd->add_option("--probes", o->probes, "label probes: target, bias or target,bias (linear kernel)");
  cmd->add_flag("--quiet", o->quiet, "no progress output");
}

void check_cka_cli(const CkaCli& o) {
  usage_check([&] {
    workflows::check_image_options(o.image.image_size, o.image.workers);
    workflows::check_range("--batch", o.batch, 1, workflows::kMaxBatch);
    workflows::check_batch_memory("", o.batch, o.image.image_size);
    workflows::parse_device("--device", o.device);
    workflows::check_range("--bootstrap", o.bootstrap, 0, 1000000);
    cka::parse_probes(o.probes);
    BIASCKA_CHECK(
        o.axis_labels_option == nullptr || o.axis_labels_option->count() == 0 || o.layers == "torch_cka",
        "--axis-labels: only with --layers torch_cka");
    torch_cka_axis_labels({}, o.axis_labels);  // a valid mode
    BIASCKA_CHECK(o.rbf_threshold > 0, "--rbf-threshold must be positive, got ", o.rbf_threshold);
    BIASCKA_CHECK(o.gram_memory_mib > 0, "--gram-memory must be positive");
  });
}

cka::CkaOptions cka_options(const CkaCli& o, bool full) {
  cka::CkaOptions co;
  co.estimator = cka::parse_estimator(o.estimator);
  co.kernel = {cka::parse_kernel(o.kernel), o.rbf_threshold};
  co.gram_memory = static_cast<size_t>(o.gram_memory_mib) << 20;
  const Device dev = Device::parse(o.device);
  require_device(dev);
  co.device = dev;
  co.bootstrap = full ? 0 : o.bootstrap;  // one batch: nothing to resample
  co.bootstrap_seed = o.bootstrap_seed;
  set_math_mode(dev, o.no_tf32 ? MathMode::Exact : MathMode::Tf32);
  BIASCKA_CHECK(full || o.batch >= cka::min_batch(co.estimator), "--batch ", o.batch, ": the ",
                cka::estimator_name(co.estimator), " estimator needs at least ", cka::min_batch(co.estimator),
                " samples per batch");
  return co;
}

std::vector<std::string> cka_probes(const CkaCli& o) { return cka::parse_probes(o.probes); }

workflows::ProgressMode progress_mode(const CkaCli& o) {
  return o.quiet ? workflows::ProgressMode::Quiet : workflows::ProgressMode::Auto;
}

}  // namespace biascka::app
