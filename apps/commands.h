#pragma once
// Each subcommand registers itself on the root CLI11 app; main() dispatches and reports errors.
#include <CLI/CLI.hpp>

namespace biascka::app {

void add_info_command(CLI::App& root);
void add_forward_command(CLI::App& root);
void add_bench_command(CLI::App& root);
void add_train_command(CLI::App& root);
void add_eval_command(CLI::App& root);
void add_compare_command(CLI::App& root);
void add_reproduce_command(CLI::App& root, int argc, char** argv);

}  // namespace biascka::app
