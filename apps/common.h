#pragma once
// Helpers shared by several subcommands.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/tensor.h"
#include "models/resnet18.h"
#include "workflows/split_loader.h"
#include "workflows/train_options.h"

namespace biascka::app {

// Reads X.npy or FILE.safetensors:TENSOR as a float32 [N, 3, H, W] batch (PyTorch's layout).
Tensor read_input_batch(const std::string& spec);

// An option value the user got wrong: main() prints "biascka: error: MESSAGE" and exits 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Runs `check`, turning the biascka::Error it throws into a UsageError: an option out of its range is a
// usage error.
template <class F>
void usage_check(F&& check) {
  try {
    check();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

// An option's integer value: all of `text` a decimal integer in [lo, hi], else "OPTION TEXT: ..." (no
// bare `stoi`). A local helper until the shared checked-parsing helper (engine/parse.h) is merged.
int64_t parse_integer_option(const std::string& option, const std::string& text, int64_t lo, int64_t hi);

// The exit status of a run that stopped on a signal: 128 + the signal (130 for the tests' simulated Ctrl-C).
int interrupted_exit_code();

// The image-loading options of the subcommands that read a split folder: --normalization, --image-size,
// --workers.
void add_image_options(CLI::App* cmd, std::string* normalization, int* image_size, int* workers);
void add_image_options(CLI::App* cmd, workflows::ImageOptions* image);

// The training protocol's options (--epochs, --patience, --batch, --max-train, --max-eval, --no-tf32), named
// from train_options.h's field list: `train` and `reproduce` take them alike.
void add_protocol_options(CLI::App* cmd, workflows::TrainProtocol* protocol);

}  // namespace biascka::app
