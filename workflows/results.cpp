#include "workflows/results.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/parse.h"
#include "losses/objectives.h"
#include "workflows/json_file.h"
#include "workflows/train_options.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string>& dataset_order() {
  static const std::vector<std::string> order = {"cmnist", "cifar10c", "bffhq"};
  return order;
}

int loss_rank(const std::string& l) {
  const auto& all = losses::objectives();
  for (size_t i = 0; i < all.size(); ++i)
    if (l == all[i].name) return static_cast<int>(i);
  return static_cast<int>(all.size());
}

int dataset_rank(const std::string& d) {
  const auto& o = dataset_order();
  const auto it = std::find(o.begin(), o.end(), d);
  return it == o.end() ? static_cast<int>(o.size()) : static_cast<int>(it - o.begin());
}

std::string fmt(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string dataset_label(const std::string& d, const std::string& data_path) {
  if (d == "cmnist") return data_path.find("fashion") != std::string::npos ? "C-FMNIST" : "C-MNIST";
  if (d == "cifar10c") return "C-CIFAR";
  if (d == "bffhq") return "B-FFHQ";
  if (d == "fashion-cmnist") return "C-FMNIST";
  return d;
}

std::vector<std::string> datasets_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs)
    if (std::find(out.begin(), out.end(), r.dataset) == out.end()) out.push_back(r.dataset);
  return out;
}

std::vector<std::string> losses_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> out;
  for (const auto& o : losses::objectives())
    for (const auto& r : runs)
      if (r.loss == o.name) {
        out.push_back(o.name);
        break;
      }
  return out;
}

std::string label_of(const std::vector<RunRecord>& runs, const std::string& dataset) {
  for (const auto& r : runs)
    if (r.dataset == dataset) return r.label;
  return dataset_label(dataset);
}

std::string headline_metric(const std::string& dataset) {
  return dataset == "bffhq" ? "conflicting_accuracy" : "accuracy";
}

namespace {

// summary.json as the tables and the report read it: the fields they use must have the types biascka
// writes, so that a hand edit that breaks one is an error naming the file, not a JSON library message.
void check_summary(const nlohmann::json& s, const std::string& path) {
  using J = nlohmann::json;
  auto check = [&](const J& obj, const std::string& prefix, const char* key, bool (J::*is)() const noexcept,
                   const char* what) {
    if (obj.contains(key) && !(obj[key].*is)()) fail(path, ": field '", prefix, key, "' must be ", what);
  };
  check(s, "", "status", &J::is_string, "a string");
  for (const char* k : {"settings", "valid", "test"}) check(s, "", k, &J::is_object, "an object");
  for (const char* k : {"epochs_run", "best_epoch"}) check(s, "", k, &J::is_number_integer, "an integer");
  check(s, "", "train_seconds", &J::is_number, "a number");
  if (!s.contains("settings")) return;
  // The run-defining settings with the types TrainOptions::to_json writes them in.
  const J& settings = s["settings"];
  const TrainOptions any;
  for_each_train_field(
      [&](const TrainField& f, const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>)
          check(settings, "settings.", f.key, &J::is_string, "a string");
        else if constexpr (std::is_same_v<T, bool>)
          check(settings, "settings.", f.key, &J::is_boolean, "true or false");
        else if constexpr (std::is_floating_point_v<T>)
          check(settings, "settings.", f.key, &J::is_number, "a number");
        else
          check(settings, "settings.", f.key, &J::is_number_integer, "an integer");
      },
      any);
}

}  // namespace

std::vector<RunRecord> collect_runs(const std::vector<std::string>& dirs) {
  std::vector<RunRecord> runs;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    const fs::path root = fs::path(dir) / "runs";
    BIASCKA_CHECK(fs::is_directory(root), dir, ": no runs/ folder (not a reproduce output)");
    for (const auto& ds : fs::directory_iterator(root)) {
      if (!ds.is_directory()) continue;
      for (const auto& ls : fs::directory_iterator(ds.path())) {
        if (!ls.is_directory()) continue;
        for (const auto& ss : fs::directory_iterator(ls.path())) {
          const std::string seed_name = ss.path().filename().string();
          const std::string digits = seed_name.size() > 4 ? seed_name.substr(4) : "";
          // seed{k} folders only (a stray "seedling" folder is not a run).
          if (!ss.is_directory() || !seed_name.starts_with("seed") || digits.empty() || digits.size() > 9 ||
              digits.find_first_not_of("0123456789") != std::string::npos)
            continue;
          const fs::path summary = ss.path() / "summary.json";
          if (!fs::exists(summary)) continue;  // unfinished: not part of the tables
          RunRecord r;
          r.dataset = ds.path().filename().string();
          r.loss = ls.path().filename().string();
          r.seed = parse_int(digits, ss.path().string() + ": run folder seedN");
          r.dir = ss.path().string();
          r.summary = read_json_file(summary.string());
          check_summary(r.summary, summary.string());
          r.status = r.summary.value("status", "unknown");
          r.label = dataset_label(
              r.dataset, r.summary.contains("settings") ? r.summary["settings"].value("data", "") : "");
          for (const auto& m : read_jsonl_file((ss.path() / "metrics.jsonl").string()))
            r.valid_curve.push_back(m.contains("valid_accuracy") && m["valid_accuracy"].is_number()
                                        ? m["valid_accuracy"].get<double>()
                                        : NAN);
          const fs::path cka = ss.path() / "cka" / "cka.json";
          if (fs::exists(cka)) r.cka_json = cka.string();
          const std::string key = r.dataset + "/" + r.loss + "/" + std::to_string(r.seed);
          BIASCKA_CHECK(seen.insert(key).second, "run ", key, " appears twice (", r.dir,
                        "): collect each shard's folder once");
          runs.push_back(std::move(r));
        }
      }
    }
  }
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    const int da = dataset_rank(a.dataset), db = dataset_rank(b.dataset);
    if (da != db) return da < db;
    if (a.dataset != b.dataset) return a.dataset < b.dataset;
    if (a.loss != b.loss) return loss_rank(a.loss) < loss_rank(b.loss);
    return a.seed < b.seed;
  });
  return runs;
}

const std::vector<std::pair<std::string, std::string>>& accuracy_table_titles() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"aligned_accuracy", "Bias-aligned test accuracy (%, target == bias)"},
      {"conflicting_accuracy", "Bias-conflicting test accuracy (%, target != bias)"},
      {"unbiased_accuracy", "Unbiased test accuracy (%, mean over the (target, bias) groups, as LfF)"},
      {"worst_group_accuracy", "Worst-group test accuracy (%)"}};
  return t;
}

double run_accuracy(const RunRecord& r, const std::string& metric) {
  const std::string m = metric == "headline" ? headline_metric(r.dataset) : metric;
  const char* which = r.summary.contains("test") ? "test" : "valid";
  if (!r.summary.contains(which)) return NAN;
  const nlohmann::json* split = &r.summary[which];
  if (!split->is_object() || !split->contains(m) || !(*split)[m].is_number()) return NAN;
  return 100.0 * (*split)[m].get<double>();
}

ResultTable make_table(const std::vector<RunRecord>& runs, const std::string& metric) {
  return make_table_of(runs, metric, [&](const RunRecord& r) { return run_accuracy(r, metric); });
}

const ResultTable& table_of(const std::vector<ResultTable>& tables, const std::string& metric) {
  for (const auto& t : tables)
    if (t.metric == metric) return t;
  fail("no table of ", metric);
}

ResultTable make_table_of(const std::vector<RunRecord>& runs, const std::string& metric,
                          const std::function<double(const RunRecord&)>& value) {
  ResultTable t;
  t.metric = metric;
  t.losses = losses_of(runs);
  t.datasets = datasets_of(runs);
  for (const auto& d : t.datasets) t.labels[d] = label_of(runs, d);
  for (const auto& r : runs) {
    if (r.status != "finished") continue;
    const double v = value(r);
    if (std::isnan(v)) continue;
    Cell& c = t.cells[r.loss][r.dataset];
    c.values.push_back(v);
    c.seeds.push_back(r.seed);
  }
  for (auto& [loss, row] : t.cells) {
    double sum = 0;
    int n = 0;
    for (auto& [ds, c] : row) {
      if (c.values.empty()) continue;
      double s = 0, s2 = 0;
      for (double v : c.values) s += v;
      c.mean = s / c.values.size();
      for (double v : c.values) s2 += (v - c.mean) * (v - c.mean);
      c.std = std::sqrt(s2 / c.values.size());
      sum += c.mean;
      ++n;
    }
    if (n == static_cast<int>(t.datasets.size()) && n > 0) t.row_mean[loss] = sum / n;
  }
  return t;
}

const std::map<std::string, std::map<std::string, std::pair<double, double>>>& published_table3() {
  // "Interpreting Bias in the Neural Networks", Table 3 (test accuracy, %, mean +- std over 3 seeds).
  static const std::map<std::string, std::map<std::string, std::pair<double, double>>> t = {
      {"sce",
       {{"cmnist", {95.31, 1.21}},
        {"cifar10c", {34.44, 1.84}},
        {"bffhq", {57.03, 2.42}},
        {"mean", {62.26, 0}}}},
      {"bce",
       {{"cmnist", {93.75, 1.67}},
        {"cifar10c", {32.47, 4.34}},
        {"bffhq", {54.40, 1.80}},
        {"mean", {60.20, 0}}}},
      {"nll",
       {{"cmnist", {95.81, 1.36}},
        {"cifar10c", {35.25, 1.79}},
        {"bffhq", {53.19, 1.79}},
        {"mean", {61.42, 0}}}},
      {"l1",
       {{"cmnist", {95.19, 2.64}},
        {"cifar10c", {25.11, 1.21}},
        {"bffhq", {52.53, 1.80}},
        {"mean", {57.61, 0}}}},
      {"l2",
       {{"cmnist", {93.00, 0.99}},
        {"cifar10c", {25.34, 2.64}},
        {"bffhq", {55.73, 1.57}},
        {"mean", {58.02, 0}}}},
      {"sos",
       {{"cmnist", {95.00, 0.63}},
        {"cifar10c", {34.81, 1.42}},
        {"bffhq", {49.69, 2.54}},
        {"mean", {59.83, 0}}}},
  };
  return t;
}

namespace {

std::string group_title(const losses::Objective& o) {
  return o.group == std::string("probabilistic") ? "Probabilistic" : "Margin-based";
}

// Rank of each row's value in a column: 1 best, 2 second (ties share), 0 otherwise.
std::map<std::string, int> ranks(const std::vector<std::pair<std::string, double>>& col) {
  std::vector<double> vals;
  for (const auto& [k, v] : col)
    if (std::isfinite(v)) vals.push_back(v);
  std::sort(vals.rbegin(), vals.rend());
  vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
  std::map<std::string, int> r;
  for (const auto& [k, v] : col)
    r[k] = !vals.empty() && v == vals[0] ? 1 : vals.size() > 1 && v == vals[1] ? 2 : 0;
  return r;
}

std::string emphasise(const std::string& s, int rank) {
  return rank == 1 ? "**" + s + "**" : rank == 2 ? "<u>" + s + "</u>" : s;
}

}  // namespace

std::string table_markdown(const ResultTable& t, bool with_published) {
  std::ostringstream md;
  md << "| Objectives | Variant |";
  for (const auto& d : t.datasets) md << " " << t.labels.at(d) << " |";
  md << " Mean |\n|---|---|";
  for (size_t i = 0; i <= t.datasets.size(); ++i) md << "---|";
  md << "\n";
  std::map<std::string, std::map<std::string, int>> rank;  // column -> loss -> rank
  for (const auto& d : t.datasets) {
    std::vector<std::pair<std::string, double>> col;
    for (const auto& l : t.losses) {
      auto row = t.cells.find(l);
      const double v = row != t.cells.end() && row->second.count(d) ? row->second.at(d).mean : NAN;
      col.emplace_back(l, v);
    }
    rank[d] = ranks(col);
  }
  {
    std::vector<std::pair<std::string, double>> col;
    for (const auto& l : t.losses) col.emplace_back(l, t.row_mean.count(l) ? t.row_mean.at(l) : NAN);
    rank["mean"] = ranks(col);
  }
  std::string group;
  for (const auto& l : t.losses) {
    const losses::Objective& obj = losses::objective(l);
    md << "| " << (group != obj.group ? group_title(obj) : "") << " | " << obj.label << " |";
    group = obj.group;
    for (const auto& d : t.datasets) {
      std::string s = "–";
      auto row = t.cells.find(l);
      if (row != t.cells.end() && row->second.count(d)) {
        const Cell& c = row->second.at(d);
        s = emphasise(fmt(c.mean, t.decimals) + " ± " + fmt(c.std, t.decimals) +
                          " (n=" + std::to_string(c.values.size()) + ")",
                      t.rank_best ? rank[d][l] : 0);
      }
      md << " " << s << " |";
    }
    md << " "
       << (t.row_mean.count(l)
               ? emphasise(fmt(t.row_mean.at(l), t.decimals), t.rank_best ? rank["mean"][l] : 0)
               : "–")
       << " |\n";
  }
  if (with_published) {
    md << "\nPublished (the paper's Table 3, test accuracy %, mean ± std over 3 seeds):\n\n| Objectives | "
          "Variant |";
    for (const auto& d : t.datasets) md << " " << dataset_label(d) << " |";
    md << " Mean (all three) |\n|---|---|";
    for (size_t i = 0; i <= t.datasets.size(); ++i) md << "---|";
    md << "\n";
    const auto& pub = published_table3();
    std::string g;
    for (const auto& l : t.losses) {
      const losses::Objective& obj = losses::objective(l);
      md << "| " << (g != obj.group ? group_title(obj) : "") << " | " << obj.label << " |";
      g = obj.group;
      auto row = pub.find(l);
      for (const auto& d : t.datasets) {
        if (row != pub.end() && row->second.count(d)) {
          const auto [m, s] = row->second.at(d);
          md << " " << fmt(m) << " ± " << fmt(s) << " |";
        } else {
          md << " – |";
        }
      }
      md << " " << (row != pub.end() ? fmt(row->second.at("mean").first) : "–") << " |\n";
    }
  }
  return md.str();
}

std::string table_csv(const std::vector<ResultTable>& tables) {
  std::ostringstream csv;
  csv << "metric,objective,group,dataset,mean,std,n,seeds,values\n";
  for (const auto& t : tables)
    for (const auto& l : t.losses) {
      const losses::Objective& obj = losses::objective(l);
      auto row = t.cells.find(l);
      if (row == t.cells.end()) continue;
      for (const auto& d : t.datasets) {
        if (!row->second.count(d)) continue;
        const Cell& c = row->second.at(d);
        std::string seeds, values;
        for (size_t i = 0; i < c.values.size(); ++i) {
          seeds += (i ? ";" : "") + std::to_string(c.seeds[i]);
          values += (i ? ";" : "") + fmt(c.values[i], 4);
        }
        csv << t.metric << "," << l << "," << obj.group << "," << d << "," << fmt(c.mean, 4) << ","
            << fmt(c.std, 4) << "," << c.values.size() << "," << seeds << "," << values << "\n";
      }
      if (t.row_mean.count(l))
        csv << t.metric << "," << l << "," << obj.group << ",mean," << fmt(t.row_mean.at(l), 4) << ",,,,\n";
    }
  return csv.str();
}

nlohmann::json table_json(const std::vector<ResultTable>& tables) {
  nlohmann::json out = nlohmann::json::object();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& t : tables) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& l : t.losses) {
      nlohmann::json cells = nlohmann::json::object();
      auto row = t.cells.find(l);
      if (row != t.cells.end())
        for (const auto& [d, c] : row->second)
          cells[d] = {{"mean", num(c.mean)},
                      {"std", num(c.std)},
                      {"n", c.values.size()},
                      {"values", c.values},
                      {"seeds", c.seeds}};
      rows.push_back({{"objective", l},
                      {"group", losses::objective(l).group},
                      {"cells", cells},
                      {"mean", t.row_mean.count(l) ? num(t.row_mean.at(l)) : nlohmann::json(nullptr)}});
    }
    out[t.metric] = {{"datasets", t.datasets}, {"rows", rows}, {"unit", t.unit}};
  }
  nlohmann::json pub = nlohmann::json::object();
  for (const auto& [l, row] : published_table3())
    for (const auto& [d, ms] : row) pub[l][d] = {{"mean", ms.first}, {"std", ms.second}};
  out["published"] = pub;
  return out;
}

}  // namespace biascka::workflows
