// `biascka data`: generate Colored MNIST / Corrupted CIFAR-10 in the DisEnt layout, locate or build the
// built-in default dataset, draw a contact sheet of a split, fetch MNIST / Fashion-MNIST / CIFAR-10, check
// a data root.
#include "apps/cmd_data.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "data/check.h"
#include "data/cifar10c.h"
#include "data/cmnist.h"
#include "data/default_dataset.h"
#include "data/manifest.h"
#include "data/preview.h"
#include "engine/error.h"
#include "engine/printable.h"

namespace biascka::app {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void add_cmnist(CLI::App& data) {
  auto o = std::make_shared<data::CmnistOptions>();
  auto* cmd = data.add_subcommand(
      "cmnist",
      "Generate Colored MNIST from an IDX digit set (MNIST, Fashion-MNIST; plain or .gz files named\n"
      "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).\n"
      "Writes ROOT/cmnist/{pct}pct/{align,conflict}/{class}/{id}_{target}_{bias}.png,\n"
      "ROOT/cmnist/{pct}pct/valid/*.png, ROOT/cmnist/{pct}pct/generator.json and "
      "ROOT/cmnist/test/{class}/*.png.\n"
      "Existing folders are kept unless --overwrite; each folder appears only when complete.\n"
      "Example: biascka data cmnist --idx /usr/share/datasets/fashion-mnist --out data --pct 0.5,1,2,5");
  cmd->add_option("--idx", o->idx_dir, "folder of the IDX files")->required();
  cmd->add_option("--out", o->out_root, "output root (cmnist/ is created in it)")->required();
  cmd->add_option("--pct", o->pcts, "percent of bias-conflicting training samples, one dataset each")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--palette", o->palette, "disent | lff | FILE of 10 'r g b' lines")->capture_default_str();
  cmd->add_option("--color-std", o->color_std,
                  "std of the Gaussian colour noise per image (colours in [0, 1])")
      ->capture_default_str();
  cmd->add_option("--valid-fraction", o->valid_fraction, "fraction of the IDX train set held out as valid")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the split, colour assignment and noise")->capture_default_str();
  cmd->add_option("--max-train", o->max_train, "use only the first N train images (0 = all; quick runs)");
  cmd->add_option("--max-test", o->max_test, "use only the first N test images (0 = all, or max-train/6)");
  cmd->add_flag("--overwrite", o->overwrite, "regenerate folders that already exist");
  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    o->verbose = true;
    data::make_cmnist(*o);
    std::printf("done in %.1f s\n", seconds_since(t0));
  });
}

void add_cifar10c(CLI::App& data) {
  auto o = std::make_shared<data::Cifar10cOptions>();
  auto* cmd = data.add_subcommand(
      "cifar10c",
      "Generate Corrupted CIFAR-10 (LfF Type0: class k gets corruption k of Snow, Frost, Fog, Brightness,\n"
      "Contrast, Spatter, Elastic, JPEG, Pixelate, Saturate) from the CIFAR-10 binary batches\n"
      "(data_batch_1..5.bin, test_batch.bin).\n"
      "Writes ROOT/cifar10c/{pct}pct/{align,conflict}/{class}/{id}_{target}_{bias}.png,\n"
      "ROOT/cifar10c/{pct}pct/valid/{class}/*.png, "
      "ROOT/cifar10c/test/{class}/*.png and ROOT/cifar10c/manifest.json.\n"
      "Example: biascka data cifar10c --cifar cifar-10-batches-bin --out data --pct 0.5,1,2,5 --severity 5");
  cmd->add_option("--cifar", o->cifar_dir, "folder of the CIFAR-10 binary batches")->required();
  cmd->add_option("--out", o->out_root, "output root (cifar10c/ is created in it)")->required();
  cmd->add_option("--pct", o->pcts, "percent of bias-conflicting training samples, one dataset each")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--severity", o->severity, "Hendrycks corruption severity 1..5")->capture_default_str();
  cmd->add_option("--valid-fraction", o->valid_fraction, "fraction of each class held out as valid")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the split and the corruptions")->capture_default_str();
  cmd->add_option("--max-train", o->max_train, "use only the first N training images (0 = all; quick runs)");
  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    data::make_cifar10c(*o);
    std::printf("wrote %s/cifar10c in %.1f s\n", o->out_root.c_str(), seconds_since(t0));
  });
}

void add_preview(CLI::App& data) {
  struct Opts {
    std::string split, out;
    data::PreviewOptions preview;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = data.add_subcommand(
      "preview",
      "Draw a contact sheet of a split: one row per class, bias-aligned samples framed in green,\n"
      "bias-conflicting ones (target != bias) in red with their bias label, each row with its counts.\n"
      "Writes the PNG given by --out.\n"
      "Example: biascka data preview data/cmnist/5pct/conflict --out conflict.png --per-class 12");
  cmd->add_option("split", o->split, "split folder (images named {id}_{target}_{bias}.png anywhere under it)")
      ->required();
  cmd->add_option("--out", o->out, "output PNG")->required();
  cmd->add_option("--per-class", o->preview.per_class, "images per row")->capture_default_str();
  cmd->add_option("--tile", o->preview.tile, "image size on the sheet in pixels (0 = automatic)");
  cmd->add_option("--seed", o->preview.seed, "which samples are shown")->capture_default_str();
  cmd->callback([o] {
    const std::string summary = data::make_preview(o->split, o->out, o->preview);
    std::printf("wrote %s (%s)\n", o->out.c_str(), summary.c_str());
  });
}

void add_default(CLI::App& data) {
  struct Opts {
    double pct = 5;
    std::string cache;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = data.add_subcommand(
      "default",
      "Locate the built-in default dataset, Colored Fashion-MNIST, building it on first use from Debian's\n"
      "dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist); prints the path of its pct "
      "folder.\n"
      "Writes CACHE/fashion-cmnist/cmnist/{pct}pct/{align,conflict,valid}/...,\n"
      "CACHE/fashion-cmnist/cmnist/{pct}pct/generator.json and CACHE/fashion-cmnist/cmnist/test/...,\n"
      "where CACHE is $BIASCKA_CACHE, else $XDG_CACHE_HOME/biascka, else ~/.cache/biascka.\n"
      "Example: biascka data default --pct 5");
  cmd->add_option("--pct", o->pct, "percent of bias-conflicting training samples")->capture_default_str();
  cmd->add_option("--cache", o->cache, "cache folder (default: see above)");
  cmd->callback([o] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string dir = data::ensure_default_dataset(o->pct, o->cache, "", true);
    std::fprintf(stderr, "ready in %.1f s\n", seconds_since(t0));
    std::printf("%s\n", dir.c_str());
  });
}

// Prints data check's report on stdout; throws one line when a dataset is broken.
void run_check(const std::string& path, const data::CheckOptions& options) {
  const auto checks = data::check_data(path, options);
  // Line by line through printable(): the report names files, and a name may hold control characters.
  std::istringstream report(data::format_check(checks));
  for (std::string line; std::getline(report, line);) std::printf("%s\n", printable(line).c_str());
  std::fflush(stdout);
  std::string broken;
  for (const auto& c : checks)
    if (!c.ok())
      broken += (broken.empty() ? "" : ", ") + c.dir + " (" + std::to_string(c.errors.size()) + " problems)";
  BIASCKA_CHECK(broken.empty(), broken, ": see the report above");
}

void add_check(CLI::App& data) {
  struct Opts {
    std::string path;
    std::vector<std::string> pcts;
    bool no_images = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = data.add_subcommand(
      "check",
      "Validate a data root in the DisEnt layout (ROOT holding cmnist/, cifar10c/, bffhq/, or one dataset\n"
      "folder): every split present (PCT/align, PCT/conflict, valid, test), file names "
      "{id}_{target}_{bias},\n"
      "labels, aligned/conflicting images in the right folders, every class with training, bias-conflicting\n"
      "and test images, ids not shared between align, conflict and valid, every image decoding, its size.\n"
      "Prints a one-screen report (counts per split beside those of DisEnt's releases where known); exit\n"
      "status 1 when a dataset is broken (warnings alone exit 0). Writes nothing.\n"
      "Example: biascka data check data --pct 5");
  cmd->add_option("path", o->path, "data root or dataset folder")->required();
  cmd->add_option("--pct", o->pcts,
                  "check only these conflicting percentages (e.g. 5 or 0.5,5; default: all)")
      ->delimiter(',');
  cmd->add_flag("--no-images", o->no_images, "skip decoding the images (faster; sizes are not checked then)");
  cmd->callback([o] {
    data::CheckOptions c;
    for (const auto& p : o->pcts)
      c.pcts.push_back(p.ends_with("pct") ? p : data::pct_folder_name(std::stod(p)));
    c.read_images = !o->no_images;
    run_check(o->path, c);
  });
}

void add_fetch(CLI::App& data) {
  struct Opts {
    std::vector<std::string> datasets;
    std::string out, manifest;
    data::FetchOptions fetch;
    bool print_manifest = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = data.add_subcommand(
      "fetch",
      "Download a source dataset and verify every file's size and checksums (SHA-256 and MD5 as published)\n"
      "against the built-in manifest; an interrupted download resumes where it stopped. Files arrive as\n"
      "NAME.part and are renamed when verified. cifar10's archive is unpacked (cifar-10-batches-bin/).\n"
      "bffhq cannot be downloaded: this prints where to get it and checks OUT/bffhq if it is there.\n"
      "Writes OUT/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (11.6 MB),\n"
      "OUT/fashion-mnist/... (30.9 MB), OUT/cifar10/cifar-10-binary.tar.gz (170.1 MB) and\n"
      "OUT/cifar10/cifar-10-batches-bin/ (184 MB unpacked).\n"
      "Examples:\n"
      "  biascka data fetch mnist cifar10 --out downloads\n"
      "  biascka data fetch mnist --out downloads --mirror http://mirror.example/mnist/   (tried first)\n"
      "  biascka data fetch --print-manifest > site.json; biascka data fetch mnist --manifest site.json ...");
  cmd->add_option("dataset", o->datasets, "mnist | fashion-mnist | cifar10 | bffhq (several allowed)");
  cmd->add_option("--out", o->out, "download folder (each dataset goes into OUT/DATASET/)");
  cmd->add_flag("--print-manifest", o->print_manifest, "print the manifest (URLs, sizes, checksums) as JSON");
  cmd->add_flag("--quiet", o->fetch.quiet, "no progress bar or per-file lines");
  add_fetch_options(cmd, &o->fetch, &o->manifest);
  cmd->callback([o] {
    const data::Manifest manifest =
        o->manifest.empty() ? data::builtin_manifest() : data::read_manifest(o->manifest);
    if (o->print_manifest) {
      std::fputs(data::manifest_json(manifest).c_str(), stdout);
      return;
    }
    if (o->datasets.empty() || o->out.empty())
      throw CLI::ValidationError("data fetch", "needs DATASET... and --out DIR (or --print-manifest)");
    for (const auto& name : o->datasets) {
      const std::string dir = (std::filesystem::path(o->out) / name).string();
      if (name == "bffhq") {
        std::fputs(data::bffhq_instructions(o->out).c_str(), stdout);
        if (std::filesystem::is_directory(dir)) run_check(dir, {});
        continue;
      }
      data::fetch_dataset(manifest.at(name), dir, o->fetch);
      std::printf("%s\n", dir.c_str());
    }
  });
}

}  // namespace

void add_fetch_options(CLI::App* cmd, data::FetchOptions* fetch, std::string* manifest) {
  cmd->add_option(
      "--mirror", fetch->mirrors,
      "a base URL tried before the manifest's (repeatable; http, https or file://): an air-gapped "
      "site's copy");
  cmd->add_option(
      "--manifest", *manifest,
      "a JSON manifest replacing the built-in one (the shape --print-manifest prints), for mirrors "
      "that serve other copies of the files");
  cmd->add_option("--connect-timeout", fetch->connect_timeout_s, "seconds to wait for a connection")
      ->capture_default_str();
  cmd->add_option("--stall-timeout", fetch->stall_timeout_s,
                  "abandon a transfer after this many seconds without data")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--retries", fetch->retries, "retries per URL after transient failures")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--backoff", fetch->backoff_s, "seconds before the first retry (doubling, at most 16)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void add_data_command(CLI::App& root) {
  auto* data =
      root.add_subcommand("data",
                          "Make, fetch and inspect datasets: cmnist, cifar10c, default, preview, fetch, "
                          "check.\n"
                          "Example: biascka data fetch mnist --out downloads");
  data->require_subcommand(1);
  add_cmnist(*data);
  add_cifar10c(*data);
  add_default(*data);
  add_preview(*data);
  add_fetch(*data);
  add_check(*data);
}

}  // namespace biascka::app
