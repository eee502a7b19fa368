#include "workflows/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "engine/io/atomic_file.h"
#include "workflows/compare_output.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {
std::string pct(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v.get<double>());
  return buf;
}

std::string num(double v, const char* format) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Figure 1's seed spread: the largest std over layer pairs per cell and overall, and the std heatmaps.
void write_seed_spread(std::ostringstream& md, const std::vector<SeedMatrices>& cells, double max_std) {
  md << "### Seed spread of the CKA matrices\n\n";
  if (!std::isfinite(max_std)) {
    md << "One seed per cell: no spread to show.\n\n";
    return;
  }
  md << "Largest population std over seeds of any cell of any matrix: **" << num(max_std, "%.4f")
     << "**. Per dataset and objective (std per layer pair in `cka_seed_std.png`):\n\n"
        "| dataset | objective | seeds | max std | mean std (i != j) |\n|---|---|---|---|---|\n";
  for (const auto& c : cells) {
    double sum = 0;  // over the off-diagonal pairs (self-CKA is 1 in every seed)
    int64_t n = 0;
    for (int64_t i = 0; i < c.std.n; ++i)
      for (int64_t j = 0; j < c.std.n; ++j)
        if (i != j && std::isfinite(c.std.at(i, j))) {
          sum += c.std.at(i, j);
          ++n;
        }
    md << "| " << c.dataset << " | " << c.loss << " | " << c.seeds.size() << " | "
       << (c.seeds.size() > 1 ? num(c.max_std, "%.4f") : "–") << " | "
       << (c.seeds.size() > 1 && n ? num(sum / n, "%.4f") : "–") << " |\n";
  }
  md << "\n![CKA std over seeds](cka_seed_std.png)\n\n";
}

// The report's sections, in order.
void write_how_made(std::ostringstream& md, const std::vector<RunRecord>& runs,
                    const std::vector<std::string>& dirs, const std::string& command_line) {
  md << "# biascka reproduce: objectives on biased data, and what they do to ResNet18's layers\n\n";
  md << "Reproduces Table 3 and Figure 1 of \"Interpreting Bias in the Neural Networks: A Peek Into "
        "Representational Similarity\": ResNet18 trained from scratch with six objectives on biased "
        "datasets, "
        "test accuracy over seeds, and the CKA of every pair of layers.\n\n";
  md << "## How this was made\n\n```\n"
     << (command_line.empty() ? "biascka reproduce ..." : command_line) << "\n```\n\n";
  if (dirs.size() > 1) {
    md << "Merged from " << dirs.size() << " folders (shards):";
    for (const auto& d : dirs) md << " `" << d << "`";
    md << "\n\n";
  }
  if (!runs.empty()) {
    const auto& s = runs.front().summary["settings"];
    md << "Protocol (from the runs' settings.json): Adam lr " << s.value("lr", 0.0) << ", weight decay "
       << s.value("weight_decay", 0.0) << " (added to the gradient, as torch.optim.Adam), batch "
       << s.value("batch", 0) << ", at most " << s.value("epochs", 0)
       << " epochs, early stopping on validation accuracy with patience " << s.value("patience", 0)
       << ", dropout 0.4 before fc, no augmentation, from scratch";
    if (s.value("max_train", 0) > 0)
      md << "; training on a seeded subset of " << s.value("max_train", 0) << " images";
    if (s.value("max_eval", 0) > 0)
      md << "; evaluating on subsets of " << s.value("max_eval", 0) << " images";
    md << ". Each run's exact settings are in its `settings.json`; to redo one run alone: "
          "`biascka train --data DATA --loss LOSS --seed K --out RUN` with those settings.\n\n";
  }
}

void write_tables(std::ostringstream& md, const std::vector<ResultTable>& tables) {
  md << "## Table 3\n\nTest accuracy (%), mean ± std over seeds (population std), n = seeds finished. "
        "**Bold**: best "
        "per column, <u>underlined</u>: second. B-FFHQ is scored on its bias-conflicting test images, as "
        "DisEnt "
        "and the paper do; the other datasets on the whole test split.\n\n";
  md << table_markdown(table_of(tables, "headline"), true) << "\n";
  md << "## Test accuracy by bias group (%)\n\nUnbiased accuracy is the mean of the accuracies of every "
        "(target, bias) group present in the test split, as LfF reports it; worst-group accuracy the "
        "smallest of them.\n\n";
  for (const auto& [metric, title] : accuracy_table_titles())
    md << "### " << title << "\n\n" << table_markdown(table_of(tables, metric), false) << "\n";
  md << "Machine-readable: `table.json`, `table.csv` (every seed's value).\n\n";
}

void write_figures(std::ostringstream& md, const std::vector<SeedMatrices>& cells, const ReportFigures& f) {
  md << "## Figure 1\n\n";
  if (f.figure1) {
    md << "![CKA matrices](figure1.png)\n\nOne unbiased minibatch-CKA matrix per dataset (rows) and "
          "objective (columns) between every pair of ResNet18's layers (conv1 at the bottom-left, fc at the "
          "top-right; the layer order is `biascka forward --layers all`'s), each the mean over the cell's "
          "seeds on the test split. Each run's matrix is in `runs/{dataset}/{loss}/seed{k}/cka/` (cka.json, "
          "cka.csv, cka.npy, cka.png with layer names).\n\n";
    write_seed_spread(md, cells, f.seed_std_max);
  } else {
    md << "No CKA matrix yet (each run computes one when its training finishes).\n\n";
  }
  if (f.probes)
    md << "## Where the shortcut lives: label probes\n\n![label probes](probes.png)\n\nPer dataset (rows) "
          "and objective (columns), each layer's CKA with the one-hot target label and with the one-hot bias "
          "label (linear kernel on the labels, from the same minibatch pass as the matrix; mean over seeds, "
          "dashed lines where a ResNet18 stage starts). A layer closer to the bias label than to the target "
          "encodes the shortcut; the probe crossing in the claims table is where the target overtakes it. "
          "Each run's values and 95% bootstrap intervals are in its `cka/probes.csv`.\n\n";
  md << "## Training curves\n\n" << (f.curves ? "![validation accuracy](curves.png)\n\n" : "None yet.\n\n");
}

// One table per compare.json found under each output folder (reproduce_compare.h): per stage, the seed
// noise floor beside the CKA between objectives.
void write_compare(std::ostringstream& md, const std::vector<std::string>& dirs,
                   const std::string& report_dir) {
  std::vector<std::pair<std::string, std::string>> found;  // dataset, compare folder
  for (const std::string& d : dirs) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(d) / "compare", ec))
      if (fs::exists(e.path() / "compare.json"))
        found.emplace_back(e.path().filename().string(), e.path().string());
  }
  if (found.empty()) return;
  std::sort(found.begin(), found.end());
  md << "## Objectives against seeds: layer by layer\n\n"
        "Every dataset's runs went through its test split in one `compare` pass. Per stage of ResNet18: the "
        "seed noise floor (mean CKA between seeds of one objective, same layer), the mean CKA between "
        "objectives, and the least similar pair of objectives. A between-objective CKA at the floor means "
        "the "
        "objectives differ no more than seeds do there; well below it, they learned different "
        "representations. Per layer and per pair: `compare.json`, `compare.csv`, `compare.npy`.\n\n";
  for (const auto& [dataset, dir] : found) {
    const std::string json = dir + "/compare.json";
    const CompareSummary s = compare_summary_from_json(read_json_file(json), json);
    const fs::path rel = fs::path(dir).lexically_relative(report_dir);
    const std::string shown = rel.empty() || *rel.begin() == ".." ? dir : rel.string();
    md << "### " << dataset << "\n\n![compare " << dataset << "](" << shown << "/compare.png)\n\n";
    md << "| stage | layers | seed noise floor | between objectives | least similar pair "
          "|\n|---|---|---|---|---|\n";
    for (const CompareStageSummary& st : s.stages)
      md << "| " << st.stage << " | " << st.layers << " | " << num(st.floor, "%.3f") << " | "
         << num(st.between, "%.3f") << " | "
         << (st.lowest_pair.empty() ? std::string("-") : st.lowest_pair + " (" + num(st.lowest, "%.3f") + ")")
         << " |\n";
    bool floor = false;
    for (const CompareStageSummary& st : s.stages) floor = floor || std::isfinite(st.floor);
    if (!floor) md << "\nNo seed noise floor: every objective has one seed here (two or more give one).\n";
    md << "\n";
  }
}

void write_claims(std::ostringstream& md, const std::vector<RunRecord>& runs,
                  const std::vector<ResultTable>& tables, const std::vector<ClaimCorrelation>& correlations) {
  md << "## Numbers for the paper's claims\n\n" << claims_markdown(runs, tables, correlations) << "\n";
}

void write_runs(std::ostringstream& md, const std::vector<RunRecord>& runs) {
  md << "## Runs\n\n| dataset | objective | seed | status | epochs | best epoch | test acc | aligned | "
        "conflicting | unbiased | worst group | depth decay | block index (layers) | probe crossing | train "
        "time "
        "(s) | folder |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    const auto& s = r.summary;
    const nlohmann::json test = s.contains("test") ? s["test"] : nlohmann::json::object();
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.0f", s.value("train_seconds", 0.0));
    md << "| " << r.label << " | " << r.loss << " | " << r.seed << " | " << r.status << " | "
       << s.value("epochs_run", 0) << " | " << s.value("best_epoch", 0) << " | "
       << pct(test.value("accuracy", nlohmann::json())) << " | "
       << pct(test.value("aligned_accuracy", nlohmann::json())) << " | "
       << pct(test.value("conflicting_accuracy", nlohmann::json())) << " | "
       << pct(test.value("unbiased_accuracy", nlohmann::json())) << " | "
       << pct(test.value("worst_group_accuracy", nlohmann::json())) << " | ";
    if (r.claims.empty()) {
      md << "– | – | – | ";
    } else {
      const int64_t b = static_cast<int64_t>(r.claims.at("block_begin")),
                    e = static_cast<int64_t>(r.claims.at("block_end"));
      md << num(r.claims.at("depth_decay"), "%+.3f") << " | " << num(r.claims.at("block_index"), "%.3f")
         << (e > b ? " (" + std::to_string(b + 1) + "-" + std::to_string(e) + ")" : std::string()) << " | ";
      const auto c = r.claims.find("probe_crossing_layer");  // layers numbered from 1, as the block's
      md << (c == r.claims.end() ? std::string("–")
             : c->second < 0     ? std::string("never")
                                 : "layer " + std::to_string(static_cast<int64_t>(c->second) + 1))
         << " | ";
    }
    md << secs << " | `" << r.dir << "` |\n";
  }
}

void write_notes(std::ostringstream& md, const std::vector<RunRecord>& runs) {
  md << "\n## Notes\n\n";
  for (const auto& r : runs)
    if (r.label == "C-FMNIST") {
      md << "- C-FMNIST is the built-in Colored Fashion-MNIST (`biascka data default`, the `--quick` "
            "preset): "
            "harder than the paper's Colored MNIST, and trained here on a subset for a few epochs, so the "
            "published "
            "C-MNIST values are shown for orientation only.\n";
      break;
    }
  md << "- Datasets follow DisEnt's layout and 5% conflicting samples (B-FFHQ: 0.5%, the only "
        "release). Colored MNIST and Corrupted CIFAR-10 can be regenerated with `biascka data cmnist` and "
        "`biascka data cifar10c` (Hendrycks' corruption parameters; the frost texture is procedural).\n"
        "- The paper's NLL network ends in a LogSoftmax layer (one more CKA layer); BCE is one-vs-rest; L1 "
        "and L2 "
        "compare the softmax with the one-hot target; SoS is Hui & Belkin's rescaled square loss with α = β "
        "= 1.\n"
        "- Every number here is recomputed from the runs' `summary.json` and `metrics.jsonl` files; "
        "`biascka reproduce --collect DIR1 DIR2 ... --out DIR` merges shards into the same tables.\n";
}

}  // namespace

void write_report(const std::string& path, const std::vector<RunRecord>& runs,
                  const std::vector<ResultTable>& tables, const std::vector<ClaimCorrelation>& correlations,
                  const std::vector<SeedMatrices>& cells, const std::vector<std::string>& dirs,
                  const std::string& command_line, const ReportFigures& figures) {
  std::ostringstream md;
  write_how_made(md, runs, dirs, command_line);
  write_tables(md, tables);
  write_figures(md, cells, figures);
  write_compare(md, dirs, fs::path(path).parent_path().string());
  write_claims(md, runs, tables, correlations);
  write_runs(md, runs);
  write_notes(md, runs);
  write_text_atomic(path, md.str());
}

}  // namespace biascka::workflows
