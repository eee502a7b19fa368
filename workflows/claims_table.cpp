#include "workflows/claims_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "cka/claims.h"
#include "workflows/cka_runs.h"

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
  static const std::vector<std::string> m = {"depth_decay", "block_index"};
  return m;
}

void add_claims(std::vector<RunRecord>& runs) {
  for (auto& r : runs) {
    if (r.cka_json.empty()) continue;
    const cka::SquareMatrix m = read_cka_matrix(r.cka_json);
    const cka::BlockStructure b = cka::block_index(m);
    r.claims = {{"depth_decay", cka::depth_decay(m)},
                {"block_index", b.fraction},
                {"block_begin", static_cast<double>(b.begin)},
                {"block_end", static_cast<double>(b.end)}};
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
        "layers; Nguyen, Raghu & Kornblith 2021). Mean ± std over seeds; each seed's value is in "
        "`table.csv`.\n\n";
  const char* titles[] = {"Depth decay (Spearman rho of |i - j| and CKA)", "Block-structure index"};
  for (size_t i = 0; i < claim_metrics().size(); ++i)
    md << "### " << titles[i] << "\n\n"
       << table_markdown(table_of(tables, claim_metrics()[i]), false) << "\n";
  md << "### Against bias-conflicting accuracy\n\nSpearman's rho across each dataset's finished runs (every "
        "objective and seed) between the metric and the bias-conflicting test accuracy. The paper's claim "
        "that block structure goes with worse generalisation predicts a negative rho for the block index.\n\n"
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
