#pragma once
// `biascka data ...`: dataset generators, the built-in default dataset, contact-sheet previews, fetching
// the source datasets and checking a data root.
#include <string>

#include <CLI/CLI.hpp>

#include "data/fetch.h"

namespace biascka::app {

void add_data_command(CLI::App& root);

// The download options `data fetch` and `reproduce --download` share: --mirror, --manifest, timeouts,
// retries.
void add_fetch_options(CLI::App* cmd, data::FetchOptions* fetch, std::string* manifest);

}  // namespace biascka::app
