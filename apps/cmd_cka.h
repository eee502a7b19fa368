#pragma once
// `biascka cka`: all-pairs minibatch CKA of a model's layers over a split, or of stored activations.
#include <CLI/CLI.hpp>

namespace biascka::app {

void add_cka_command(CLI::App& root);

}  // namespace biascka::app
