#include "workflows/claims_table.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <utility>

#include "cka/claims.h"
#include "engine/error.h"
#include "workflows/cka_runs.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace {
double claim_of(const RunRecord& r, const std::string& metric) {
  const auto it = r.claims.find(metric);
  return it == r.claims.end() ? NAN : it->second;
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.*f", decimals, v);
  return buf;
}
}  // namespace

const std::vector<std::string>& claim_metrics() {
  static const std::vector<std::string> m = {"depth_decay", "block_index", "probe_crossing"};
  return m;
}

void add_claims(std::vector<RunRecord>& runs) {
  for (auto& r : runs) {
    if (r.cka_json.empty()) continue;
    const nlohmann::json j = read_json_file(r.cka_json);
    const cka::SquareMatrix m = cka_matrix_from_json(j, r.cka_json);
    const cka::BlockStructure b = cka::block_index(m);
    r.claims = {{"depth_decay", cka::depth_decay(m)},
                {"block_index", b.fraction},
                {"block_begin", static_cast<double>(b.begin)},
                {"block_end", static_cast<double>(b.end)}};
    const RunProbes p = probes_from_json(j, r.cka_json);
    if (p.empty()) continue;
    BIASCKA_CHECK(static_cast<int64_t>(p.target.size()) == m.n, r.cka_json, ": ", p.target.size(),
                  " probe rows for ", m.n, " layers");
    // The crossing's depth as a fraction of L (layer i: i / L), "never" as 1 (one past the last layer), so
    // that seeds average and correlate; the layer itself for the runs table (-1: never).
    const std::optional<size_t> c = cka::probe_crossing(p.target, p.bias);
    r.claims["probe_crossing"] = c ? static_cast<double>(*c) / static_cast<double>(m.n) : 1.0;
    r.claims["probe_crossing_layer"] = c ? static_cast<double>(*c) : -1.0;
  }
}

std::vector<ResultTable> claim_tables(const std::vector<RunRecord>& runs) {
  std::vector<ResultTable> out;
  for (const std::string& metric : claim_metrics()) {
    ResultTable t = make_table_of(runs, metric, [&](const RunRecord& r) { return claim_of(r, metric); });
    t.unit = "";
    t.decimals = 3;
    t.rank_best = false;  // neither direction is "better"
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<ClaimCorrelation> claim_correlations(const std::vector<RunRecord>& runs) {
  std::vector<ClaimCorrelation> out;
  for (const std::string& d : datasets_of(runs))
    for (const std::string& metric : claim_metrics()) {
      std::vector<double> x, y;
      for (const auto& r : runs) {
        if (r.dataset != d || r.status != "finished") continue;
        const double c = claim_of(r, metric), acc = run_accuracy(r, "conflicting_accuracy");
        if (!std::isfinite(c) || !std::isfinite(acc)) continue;
        x.push_back(c);
        y.push_back(acc);
      }
      out.push_back({d, metric, cka::spearman(x, y), static_cast<int64_t>(x.size())});
    }
  return out;
}

std::string claims_markdown(const std::vector<RunRecord>& runs, const std::vector<ResultTable>& tables,
                            const std::vector<ClaimCorrelation>& correlations) {
  std::ostringstream md;
  md << "Per run from its CKA matrix (L layers, cells i < j): **depth decay** = Spearman's rho between the "
        "layer distance |i - j| and CKA (average ranks for ties, NaN cells dropped; negative: similarity "
        "falls with distance); **block index** = the longest run of consecutive layers whose every pair has "
        "CKA >= "
     << cka::kDefaultBlockThreshold
     << ", as a fraction of L (runs of one layer do not count: 0 = no block, 1 = one block of all "
        "layers; Nguyen, Raghu & Kornblith 2021); **probe crossing** = the first layer i whose CKA with the "
        "bias "
        "label falls below its CKA with the target label (label probes, `biascka cka --probes`), as i / L "
        "(0 = already at conv1, 1 = never; Alain & Bengio 2016 read layers with linear probes, here the "
        "probe "
        "is CKA with the one-hot labels). Mean ± std over seeds; each seed's value is in `table.csv`.\n\n";
  const char* titles[] = {
      "Depth decay (Spearman rho of |i - j| and CKA)", "Block-structure index",
      "Probe crossing (depth where the target label overtakes the bias label, 1 = never)"};
  for (size_t i = 0; i < claim_metrics().size(); ++i)
    md << "### " << titles[i] << "\n\n"
       << table_markdown(table_of(tables, claim_metrics()[i]), false) << "\n";
  md << "### Against bias-conflicting accuracy\n\nSpearman's rho across each dataset's finished runs (every "
        "objective and seed) between the metric and the bias-conflicting test accuracy. The paper's claim "
        "that block structure goes with worse generalisation predicts a negative rho for the block index; a "
        "shortcut kept deeper into the network (a later probe crossing) would predict a negative rho too.\n\n"
        "| dataset | metric | rho | runs |\n|---|---|---|---|\n";
  for (const auto& c : correlations)
    md << "| " << label_of(runs, c.dataset) << " | " << c.metric << " | " << fixed(c.rho, 3) << " | "
       << c.runs << " |\n";
  return md.str();
}

nlohmann::json claims_correlation_json(const std::vector<ClaimCorrelation>& correlations) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : correlations)
    out.push_back({{"dataset", c.dataset},
                   {"metric", c.metric},
                   {"rho", std::isfinite(c.rho) ? nlohmann::json(c.rho) : nlohmann::json(nullptr)},
                   {"runs", c.runs},
                   {"against", "conflicting_accuracy"}});
  return out;
}

}  // namespace biascka::workflows
