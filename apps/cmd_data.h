#pragma once
// `biascka data ...`: dataset generators, the built-in default dataset and contact-sheet previews.
#include <CLI/CLI.hpp>

namespace biascka::app {

void add_data_command(CLI::App& root);

}  // namespace biascka::app
