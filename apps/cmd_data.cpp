// `biascka data`: generate Colored MNIST / Corrupted CIFAR-10 in the DisEnt layout, locate or build the
// built-in default dataset, draw a contact sheet of a split.
#include "apps/cmd_data.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "data/cmnist.h"
#include "data/default_dataset.h"
#include "data/preview.h"
#include "engine/error.h"
#if __has_include("data/cifar10c.h")
#include "data/cifar10c.h"
#define BIASCKA_HAVE_CIFAR10C 1
#endif

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
#ifdef BIASCKA_HAVE_CIFAR10C
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
#else
  data.add_subcommand("cifar10c", "Corrupted CIFAR-10 generator (not part of this build)")->callback([] {
    fail("this build has no Corrupted CIFAR-10 generator (data/cifar10c.h was missing when it was compiled)");
  });
#endif
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

}  // namespace

void add_data_command(CLI::App& root) {
  auto* data = root.add_subcommand("data",
                                   "Make and inspect datasets: cmnist, cifar10c, default, preview.\n"
                                   "Example: biascka data cmnist --idx IDX_DIR --out data");
  data->require_subcommand(1);
  add_cmnist(*data);
  add_cifar10c(*data);
  add_default(*data);
  add_preview(*data);
}

}  // namespace biascka::app
