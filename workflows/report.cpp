#include "workflows/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/io/atomic_file.h"

namespace biascka::workflows {

namespace {
std::string pct(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v.get<double>());
  return buf;
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
  md << table_markdown(tables.at(0), true) << "\n";
  md << "## Bias-aligned and bias-conflicting test accuracy (%)\n\nAligned (target == bias):\n\n"
     << table_markdown(tables.at(2), false) << "\nConflicting (target != bias):\n\n"
     << table_markdown(tables.at(3), false) << "\n";
  md << "Machine-readable: `table.json`, `table.csv` (every seed's value).\n\n";
}

void write_figures(std::ostringstream& md, bool figure1, bool curves) {
  md << "## Figure 1\n\n";
  if (figure1) {
    md << "![CKA matrices](figure1.png)\n\nOne unbiased minibatch-CKA matrix per dataset (rows) and "
          "objective "
          "(columns) between every pair of ResNet18's layers (conv1 at the bottom-left, fc at the top-right; "
          "the "
          "layer order is `biascka forward --layers all`'s), from each cell's first seed on its test split. "
          "Each "
          "matrix's numbers are in `runs/{dataset}/{loss}/seed0/cka/` (cka.json, cka.csv, cka.npy, cka.png "
          "with "
          "layer names).\n\n";
  } else {
    md << "No CKA matrix yet (each cell's first seed computes one when its training finishes).\n\n";
  }
  md << "## Training curves\n\n" << (curves ? "![validation accuracy](curves.png)\n\n" : "None yet.\n\n");
}

void write_runs(std::ostringstream& md, const std::vector<RunRecord>& runs) {
  md << "## Runs\n\n| dataset | objective | seed | status | epochs | best epoch | test acc | aligned | "
        "conflicting | "
        "train time (s) | folder |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    const auto& s = r.summary;
    const nlohmann::json test = s.contains("test") ? s["test"] : nlohmann::json::object();
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.0f", s.value("train_seconds", 0.0));
    md << "| " << r.label << " | " << r.loss << " | " << r.seed << " | " << r.status << " | "
       << s.value("epochs_run", 0) << " | " << s.value("best_epoch", 0) << " | "
       << pct(test.value("accuracy", nlohmann::json())) << " | "
       << pct(test.value("aligned_accuracy", nlohmann::json())) << " | "
       << pct(test.value("conflicting_accuracy", nlohmann::json())) << " | " << secs << " | `" << r.dir
       << "` |\n";
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
                  const std::vector<ResultTable>& tables, const std::vector<std::string>& dirs,
                  const std::string& command_line, bool figure1, bool curves) {
  std::ostringstream md;
  write_how_made(md, runs, dirs, command_line);
  write_tables(md, tables);
  write_figures(md, figure1, curves);
  write_runs(md, runs);
  write_notes(md, runs);
  write_text_atomic(path, md.str());
}

}  // namespace biascka::workflows
