#pragma once
// The results of a reproduce grid, computed from the runs' summary.json files alone (so that merging the
// folders of several shards gives exactly the single-machine result), in the shape of the paper's Table 3:
// objectives grouped probabilistic / margin-based, one column per dataset plus the mean, mean +- std over
// seeds, best in bold and second underlined per column; plus the same for bias-aligned and
// bias-conflicting accuracy, and the paper's published values.
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace biascka::workflows {

// One finished (or diverged) run found under DIR/runs/{dataset}/{loss}/seed{k}/.
struct RunRecord {
  std::string dataset, loss, dir;
  std::string label;  // how tables and figures name the dataset (C-MNIST, or C-FMNIST for the built-in data)
  int seed = 0;
  std::string status;
  nlohmann::json summary;
  std::vector<double> valid_curve;  // validation accuracy per epoch (metrics.jsonl)
  std::string cka_json;             // DIR/.../cka/cka.json when present
  // The claim metrics of its CKA matrix (workflows/claims_table.h): depth_decay, block_index,
  // block_begin, block_end; empty without a matrix.
  std::map<std::string, double> claims;
};

// Every run under each folder's runs/ tree; the same (dataset, loss, seed) twice is an error.
std::vector<RunRecord> collect_runs(const std::vector<std::string>& dirs);

struct Cell {
  std::vector<double> values;    // one per seed, in percent
  double mean = NAN, std = NAN;  // std: population (numpy's default, ddof = 0)
  std::vector<int> seeds;
};

struct ResultTable {
  std::string metric;  // "accuracy" | "aligned_accuracy" | "conflicting_accuracy" | "unbiased_accuracy" |
                       // "worst_group_accuracy" | "headline" | a claim metric (claims_table.h)
  std::string unit = "percent";       // "percent", or "" for the claim metrics (as computed)
  int decimals = 2;                   // in table.md
  bool rank_best = true;              // bold the best, underline the second (accuracies only)
  std::vector<std::string> datasets;  // columns in grid order
  std::vector<std::string> losses;    // rows in the paper's order
  std::map<std::string, std::map<std::string, Cell>> cells;  // loss -> dataset -> cell
  std::map<std::string, double> row_mean;                    // loss -> mean over datasets (when all present)
  std::map<std::string, std::string> labels;                 // dataset -> display name
};

// The headline metric per dataset: test accuracy, except B-FFHQ where DisEnt (and the paper) report the
// accuracy on bias-conflicting test images. Runs without a test split fall back to validation accuracy.
std::string headline_metric(const std::string& dataset);
ResultTable make_table(const std::vector<RunRecord>& runs, const std::string& metric);
// The accuracy tables after the headline one, with their titles, in the order table.md and report.md show
// them: aligned, conflicting, unbiased (mean over (target, bias) groups), worst group.
const std::vector<std::pair<std::string, std::string>>& accuracy_table_titles();
// One run's accuracy metric in percent (test split, else valid; "headline" as above), NaN when absent.
double run_accuracy(const RunRecord& r, const std::string& metric);
// The same shape over any per-run value: `value` gives a run's number or NaN (left out); runs that did not
// finish are left out. Cells: mean and population std over the seeds.
ResultTable make_table_of(const std::vector<RunRecord>& runs, const std::string& metric,
                          const std::function<double(const RunRecord&)>& value);
// The table of `metric` in `tables`; throws when there is none.
const ResultTable& table_of(const std::vector<ResultTable>& tables, const std::string& metric);

// Display names as the paper writes them: cmnist -> C-MNIST, cifar10c -> C-CIFAR, bffhq -> B-FFHQ; a
// Colored MNIST made from Fashion-MNIST (the built-in default) is C-FMNIST.
std::string dataset_label(const std::string& dataset, const std::string& data_path = "");
// The datasets of the runs in their order, and their objectives in the paper's order.
std::vector<std::string> datasets_of(const std::vector<RunRecord>& runs);
std::vector<std::string> losses_of(const std::vector<RunRecord>& runs);
// The label of a dataset's runs.
std::string label_of(const std::vector<RunRecord>& runs, const std::string& dataset);

// The paper's Table 3 (mean, std in percent) for loss -> dataset, and its "Mean" column.
const std::map<std::string, std::map<std::string, std::pair<double, double>>>& published_table3();

std::string table_markdown(const ResultTable& t, bool with_published);
std::string table_csv(const std::vector<ResultTable>& tables);
nlohmann::json table_json(const std::vector<ResultTable>& tables);

}  // namespace biascka::workflows
