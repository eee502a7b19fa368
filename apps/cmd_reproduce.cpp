// `biascka reproduce`: the paper's Table 3 and Figure 1 in one command, on one machine or many.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cmd_data.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "data/default_dataset.h"
#include "engine/error.h"
#include "workflows/option_limits.h"
#include "workflows/prepare_data.h"
#include "workflows/reproduce.h"

namespace biascka::app {

namespace {
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

void add_reproduce_command(CLI::App& root, int argc, char** argv) {
  auto o = std::make_shared<workflows::ReproduceOptions>();
  auto datasets = std::make_shared<std::string>("cmnist,cifar10c,bffhq");
  auto gpus = std::make_shared<std::string>();
  auto shard = std::make_shared<std::string>("0/1");
  auto collect = std::make_shared<std::vector<std::string>>();
  auto quiet = std::make_shared<bool>(false);
  auto prepare = std::make_shared<workflows::PrepareOptions>();
  auto download = std::make_shared<bool>(false);
  std::string command_line = "biascka";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  o->command_line = command_line;
  auto* cmd = root.add_subcommand(
      "reproduce",
      "Train the paper's grid (datasets x objectives x seeds) with its protocol and write Table 3 and Figure "
      "1.\n"
      "One run folder per (dataset, objective, seed) under DIR/runs/; finished runs are skipped and an "
      "interrupted\n"
      "one resumes, so the same command continues after any stop. Writes DIR/table.md, table.csv, "
      "table.json,\n"
      "figure1.png (each cell the mean over seeds), cka_seed_std.png (their spread), curves.png and "
      "report.md.\n"
      "Examples:\n"
      "  biascka reproduce --quick --out repro-quick                 (built-in data, CPU, ~4 min)\n"
      "  biascka reproduce --data-root ROOT --device cuda --out repro\n"
      "  biascka reproduce --data-root ROOT --download --device cuda --out repro   (fetch + build the data "
      "first)\n"
      "  biascka reproduce --data-root ROOT --gpus 0,1,2,3 --out repro      (one run per GPU at a time)\n"
      "  biascka reproduce --data-root ROOT --device cuda --shard 2/8 --out shard2   (a slice, e.g. a Slurm "
      "task)\n"
      "  biascka reproduce --collect shard0 shard1 ... --out repro          (merge shards: same tables)");
  cmd->add_option("--data-root", o->data_root, "folder holding cmnist/, cifar10c/, bffhq/ (DisEnt layout)");
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--datasets", *datasets, "comma-separated: cmnist,cifar10c,bffhq")->capture_default_str();
  cmd->add_option("--pct", o->pct, "conflicting percentage folder (0.5, 1, 2, 5)")->capture_default_str();
  cmd->add_option("--losses", o->losses, "all, or comma-separated: sce,bce,nll,l1,l2,sos")
      ->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "seeds per cell (0..N-1)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--gpus", *gpus, "e.g. 0,1,2,3: one training process per GPU, concurrently");
  cmd->add_option("--shard", *shard, "I/N: run the runs whose grid index is I mod N (for clusters)")
      ->capture_default_str();
  cmd->add_option("--collect", *collect, "merge these finished output folders into --out (no training)");
  cmd->add_flag("--quick", o->quick,
                "built-in Colored Fashion-MNIST, 6000 training images, 4 epochs, one seed, CPU: every output "
                "in ~4 min on 2 cores");
  add_protocol_options(cmd, o.get());
  cmd->add_option("--cka-batch", o->cka_batch, "minibatch size of Figure 1's CKA")->capture_default_str();
  cmd->add_option("--cka-samples", o->cka_samples, "test images for Figure 1's CKA (0: all)")
      ->capture_default_str();
  cmd->add_option("--cka-layers", o->cka_layers,
                  "all | modules | torch_cka (the paper's axis, README) | REGEX")
      ->capture_default_str();
  cmd->add_option("--workers", o->workers, "image loading threads (0: cores)")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "no progress output");
  cmd->add_flag("--download", *download,
                "first fetch what is missing and build it under --data-root: MNIST -> cmnist/, CIFAR-10 -> "
                "cifar10c/ (0.5, 1, 2, 5pct; downloads in ROOT/downloads/); for B-FFHQ, where to get it");
  add_fetch_options(cmd, &prepare->fetch, &prepare->manifest);
  cmd->add_option("--only", o->only, "internal: run one grid index (used by --gpus workers)")->group("");
  cmd->callback([o, datasets, gpus, shard, collect, quiet, prepare, download] {
    o->progress = *quiet ? workflows::ProgressMode::Quiet : workflows::ProgressMode::Auto;
    if (!collect->empty()) {
      workflows::collect(*collect, o->out, o->command_line);
      std::printf(
          "wrote %s/table.md, table.csv, table.json, figure1.png, cka_seed_std.png (2+ seeds), curves.png, "
          "report.md\n",
          o->out.c_str());
      return;
    }
    o->datasets = split_list(*datasets);
    usage_check([&] {
      for (const auto& g : split_list(*gpus))
        o->gpus.push_back(static_cast<int>(parse_integer_option("--gpus", g, 0, 1023)));
      const size_t slash = shard->find('/');
      try {
        BIASCKA_CHECK(slash != std::string::npos, "no /");
        o->shard_count = static_cast<int>(parse_integer_option("N", shard->substr(slash + 1), 1, 1000000));
        o->shard_index =
            static_cast<int>(parse_integer_option("I", shard->substr(0, slash), 0, o->shard_count - 1));
      } catch (const Error&) {
        fail("--shard ", *shard, ": must be I/N with 0 <= I < N <= 1000000, e.g. 2/8");
      }
      workflows::check_image_options(0, o->workers);
      if (o->quick) o->apply_quick();
      o->train_options(workflows::GridRun{"", "sce", "", "", 0, 0}).validate();
    });
    if (o->quick) {
      if (o->data_root.empty()) {
        const std::filesystem::path pct_dir = data::ensure_default_dataset(5, "", "", !*quiet);
        o->data_root = pct_dir.parent_path().parent_path().string();  // <cache>/fashion-cmnist
      }
    }
    BIASCKA_CHECK(!o->data_root.empty(), "reproduce needs --data-root ROOT (or --quick, or --collect)");
    if (*download) {
      prepare->data_root = o->data_root;
      prepare->datasets = o->datasets;
      prepare->progress = o->progress;
      workflows::prepare_datasets(*prepare);
    }
    const int rc = workflows::reproduce(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
    std::printf(
        "wrote %s/table.md, table.csv, table.json, figure1.png, cka_seed_std.png (2+ seeds), curves.png, "
        "report.md\n",
        o->out.c_str());
  });
}

}  // namespace biascka::app
