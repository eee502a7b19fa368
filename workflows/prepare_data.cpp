#include "workflows/prepare_data.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "data/check.h"
#include "data/cifar10c.h"
#include "data/cmnist.h"
#include "data/manifest.h"
#include "engine/error.h"
#include "engine/io/file_lock.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

bool complete(const fs::path& dataset_dir) {
  if (!fs::is_directory(dataset_dir / "test")) return false;
  return std::all_of(paper_pcts().begin(), paper_pcts().end(),
                     [&](double p) { return fs::is_directory(dataset_dir / data::pct_folder_name(p)); });
}

}  // namespace

const std::vector<double>& paper_pcts() {
  static const std::vector<double> p = {0.5, 1, 2, 5};
  return p;
}

void prepare_datasets(const PrepareOptions& o) {
  BIASCKA_CHECK(!o.data_root.empty(), "--download needs --data-root ROOT (where the datasets are built)");
  const data::Manifest manifest =
      o.manifest.empty() ? data::builtin_manifest() : data::read_manifest(o.manifest);
  const fs::path root(o.data_root), downloads = root / "downloads";
  std::error_code ec;
  fs::create_directories(root, ec);
  BIASCKA_CHECK(!ec, root.string(), ": cannot create folder (", ec.message(), ")");
  FileLock lock((root / ".prepare.lock").string());
  data::FetchOptions fetch = o.fetch;
  fetch.quiet = fetch.quiet || o.progress == ProgressMode::Quiet;
  for (const std::string& name : o.datasets) {
    const fs::path dir = root / name;
    if (name == "cmnist") {
      if (complete(dir)) continue;
      note(o.progress, "download: MNIST for Colored MNIST");
      data::CmnistOptions c;
      c.idx_dir = data::fetch_dataset(manifest.at("mnist"), (downloads / "mnist").string(), fetch);
      c.out_root = root.string();
      c.pcts = paper_pcts();
      c.verbose = o.progress != ProgressMode::Quiet;
      data::make_cmnist(c);  // writes only the folders that are missing
    } else if (name == "cifar10c") {
      if (fs::exists(dir)) continue;  // the generator renames its folder into place only when complete
      note(o.progress, "download: CIFAR-10 for Corrupted CIFAR-10");
      data::Cifar10cOptions c;
      c.cifar_dir = data::fetch_dataset(manifest.at("cifar10"), (downloads / "cifar10").string(), fetch);
      c.out_root = root.string();
      c.pcts = paper_pcts();
      data::make_cifar10c(c);
      note(o.progress, "wrote " + dir.string());
    } else if (name == "bffhq") {
      if (!fs::exists(dir)) note(ProgressMode::Auto, data::bffhq_instructions(root.string()));
    } else {
      note(ProgressMode::Auto,
           "note: " + name + ": nothing to download for it (known: cmnist, cifar10c, bffhq)");
    }
  }
}

void check_training_data(const std::vector<std::string>& pct_dirs, ProgressMode progress) {
  std::vector<data::DatasetCheck> checks;
  std::vector<std::string> seen;
  for (const std::string& pct_dir : pct_dirs) {
    if (std::find(seen.begin(), seen.end(), pct_dir) != seen.end()) continue;
    seen.push_back(pct_dir);
    const fs::path p = fs::absolute(fs::path(pct_dir)).lexically_normal();
    const fs::path pct = p.has_filename() ? p : p.parent_path();
    data::CheckOptions c;
    c.pcts = {pct.filename().string()};
    checks.push_back(data::check_dataset(pct.parent_path().string(), c));
  }
  std::string broken;
  for (const auto& c : checks)
    if (!c.ok()) broken += (broken.empty() ? "" : ", ") + c.dir;
  std::string report = data::format_check(checks);
  if (!report.empty() && report.back() == '\n') report.pop_back();
  note_block(broken.empty() ? progress : ProgressMode::Auto, report);
  BIASCKA_CHECK(broken.empty(), broken,
                ": broken data (the report above says why; `biascka data check` repeats it)");
}

}  // namespace biascka::workflows
