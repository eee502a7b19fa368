#include "workflows/cka_over_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <utility>

#include "cka/accumulator.h"
#include "cka/centering.h"
#include "cka/estimator.h"
#include "cka/probes.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/digest.h"
#include "engine/io/npy.h"
#include "engine/staging.h"
#include "plot/canvas.h"
#include "plot/heatmap.h"
#include "plot/line_chart.h"
#include "workflows/json_file.h"
#include "workflows/layer_capture.h"
#include "workflows/progress.h"
#include "workflows/split_loader.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kProbes = {"target", "bias"};
constexpr size_t kMaxShownMatrices = 12;  // the figure's strip: evenly spaced evaluations beyond this

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json numbers(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const double x : v) a.push_back(num(x));
  return a;
}

// Column `col` of an F64 [rows, cols] tensor.
std::vector<double> column(const Tensor& m, int64_t col) {
  std::vector<double> out(static_cast<size_t>(m.size(0)));
  for (int64_t i = 0; i < m.size(0); ++i) out[static_cast<size_t>(i)] = m.data<double>()[i * m.size(1) + col];
  return out;
}

// The array at line[key] (or line[key][sub]) of numbers or nulls, as evaluate writes it, back to doubles:
// NaN for null or anything else, empty when absent (a line read back is not trusted).
std::vector<double> doubles(const nlohmann::json& line, const char* key, const char* sub = nullptr) {
  std::vector<double> out;
  if (!line.contains(key)) return out;
  const nlohmann::json& a =
      sub ? (line[key].is_object() && line[key].contains(sub) ? line[key][sub] : nlohmann::json())
          : line[key];
  if (!a.is_array()) return out;
  for (const auto& v : a) out.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return out;
}

int64_t line_epoch(const nlohmann::json& line) { return line.at("epoch").get<int64_t>(); }

}  // namespace

data::Split probe_split(const data::Split& valid, int64_t samples) {
  data::Split s;
  s.dir = valid.dir;
  s.num_classes = valid.num_classes;
  const size_t n = std::min(valid.samples.size(), static_cast<size_t>(std::max<int64_t>(samples, 0)));
  s.samples.assign(valid.samples.begin(), valid.samples.begin() + static_cast<std::ptrdiff_t>(n));
  return s;
}

ProbeCka probe_cka(ResNet18& model, data::Loader& probes, const std::string& layer_selection,
                   const Tensor& previous) {
  const std::vector<std::string> layers = select_layers(model.layer_names(), layer_selection);
  std::vector<std::string> names = layers;  // the accumulator's layers: the model's, then the probes
  for (const std::string& p : kProbes) names.push_back(cka::probe_layer_name(p));
  cka::CkaOptions co;
  co.device = model.device();  // the Grams where the activations are
  cka::MinibatchCka acc(names, {}, co);
  acc.keep_grams(static_cast<int64_t>(layers.size()));
  const EvalModeGuard mode(&model);
  NoGrad no_grad;
  probes.start_epoch(0);
  data::Batch b;
  BIASCKA_CHECK(probes.next(b), probes.split().dir, ": no CKA probe images");
  BatchStager stager(model.device());
  std::vector<Tensor> acts = capture_layers(model, stager.stage(b.images), layers, false);
  for (Tensor& y : probe_activations(b, kProbes, probes.split(), acc.device())) acts.push_back(std::move(y));
  acc.add_batch(acts);
  ProbeCka out;
  out.report = cka::make_report(acc, b.size(), false);
  cka::split_probes(out.report, kProbes);
  out.grams = acc.kept_grams();
  if (previous.defined()) out.with_previous = acc.row_cka(out.grams, previous);
  return out;
}

TrainingCka::TrainingCka(const TrainOptions& o, const data::Split& valid,
                         const std::vector<std::string>& model_layers, const std::string& run_folder,
                         int64_t checkpoint_epoch, bool resume)
    : o_(o), run_(run_folder), dir_(run_folder + "/cka"), probes_(probe_split(valid, o.cka_samples)) {
  const int64_t n = static_cast<int64_t>(probes_.samples.size());
  BIASCKA_CHECK(n >= cka::min_batch(cka::Estimator::Unbiased), valid.dir, ": ", n,
                " validation images; --cka-every needs at least ", cka::min_batch(cka::Estimator::Unbiased),
                " for the unbiased CKA");
  try {
    layers_ = select_layers(model_layers, o.cka_layers);
  } catch (const Error& e) {
    fail("--cka-layers: ", e.what());
  }
  fs::create_directories(dir_);
  check_or_write_probe_set(resume);
  const ImageOptions image{o.normalization, o.image_size, o.workers};
  loader_.emplace(probes_, split_loader_options(o.data, image, n, 0, SplitOrder::Fixed, o.seed));
  if (resume) read_back(checkpoint_epoch);
}

std::string TrainingCka::grams_path(int64_t epoch) const {
  return path("grams_epoch_" + std::to_string(epoch) + ".npy");
}

nlohmann::json TrainingCka::probe_set_json() const {
  nlohmann::json files = nlohmann::json::array();
  Sha256 digest;
  for (const data::Sample& s : probes_.samples) {
    const std::string rel = fs::path(s.path).lexically_relative(probes_.dir).generic_string();
    const std::string name = rel.empty() ? s.path : rel;
    files.push_back(name);
    digest.update(name.data(), name.size());
    digest.update("\n", 1);
  }
  return {{"split", probes_.dir},
          {"count", probes_.samples.size()},
          {"names_sha256", digest.hex_digest()},
          {"rule", "the first count images of the validation split in name order"},
          {"files", files}};
}

void TrainingCka::check_or_write_probe_set(bool resume) const {
  const std::string file = path("probe_set.json");
  const nlohmann::json now = probe_set_json();
  if (resume && fs::exists(file)) {
    const nlohmann::json kept = read_json_file(file);
    const JsonFields f(kept, file);
    const int64_t count = f.integer("count");
    const std::string sha = f.text("names_sha256");
    BIASCKA_CHECK(count == now["count"].get<int64_t>() && sha == now["names_sha256"].get<std::string>(), file,
                  ": the run's CKA probe set is ", count, " images (names' SHA-256 ", sha.substr(0, 12),
                  "), but ", probes_.dir, " now gives ", now["count"].get<int64_t>(), " (",
                  now["names_sha256"].get<std::string>().substr(0, 12),
                  "): resuming --cka-every needs the same validation images");
    return;
  }
  write_text_atomic(file, now.dump(1) + "\n");
}

void TrainingCka::read_back(int64_t checkpoint_epoch) {
  const std::string file = path("over_training.jsonl");
  const std::vector<nlohmann::json> all = read_jsonl_file(file);
  for (size_t i = 0; i < all.size(); ++i) {
    const JsonFields f(all[i], file + ", line " + std::to_string(i + 1));
    const int64_t epoch = f.integer("epoch");
    BIASCKA_CHECK(lines_.empty() || epoch > line_epoch(lines_.back()), file, ", line ", i + 1, ": epoch ",
                  epoch, " after epoch ", lines_.empty() ? 0 : line_epoch(lines_.back()));
    if (epoch <= checkpoint_epoch) lines_.push_back(all[i]);  // later ones: past the checkpoint, redone
  }
  if (lines_.empty()) return;
  const std::string grams = grams_path(line_epoch(lines_.back()));
  Tensor g = read_npy(grams);
  const int64_t l = static_cast<int64_t>(layers_.size()),
                m = cka::packed_size(static_cast<int64_t>(probes_.samples.size()), cka::Estimator::Unbiased);
  BIASCKA_CHECK((g.dtype() == DType::F32 || g.dtype() == DType::F64) && g.shape() == Shape({l, m}), grams,
                ": holds ", dtype_name(g.dtype()), " ", shape_str(g.shape()), ", but the run's Grams are [",
                l, ", ", m, "] (", l, " layers over ", probes_.samples.size(),
                " images), float32 or float64");
  previous_ = std::move(g);
}

bool TrainingCka::due(int64_t epoch) const {
  return o_.cka_every > 0 && epoch % o_.cka_every == 0 &&
         (lines_.empty() || line_epoch(lines_.back()) < epoch);
}

void TrainingCka::evaluate(ResNet18& model, int64_t epoch) {
  const auto t0 = std::chrono::steady_clock::now();
  const ProbeCka r = probe_cka(model, *loader_, o_.cka_layers, previous_);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_npy(grams_path(epoch), r.grams.to(Device::cpu()));
  write_npy(path("epoch_" + std::to_string(epoch) + ".npy"), r.report.matrix);
  const nlohmann::json previous_epoch = lines_.empty() ? nlohmann::json(nullptr) : lines_.back()["epoch"];
  lines_.push_back(
      {{"epoch", epoch},
       {"samples", probes_.samples.size()},
       {"layers", layers_},
       {"probes",
        {{"target", numbers(column(r.report.probes.value, 0))},
         {"bias", numbers(column(r.report.probes.value, 1))}}},
       {"with_previous", previous_.defined() ? numbers(r.with_previous) : nlohmann::json(nullptr)},
       {"previous_epoch", previous_epoch},
       {"seconds", seconds}});
  std::string text;
  for (const auto& l : lines_) text += l.dump() + "\n";
  write_text_atomic(path("over_training.jsonl"), text);
  const std::string keep = fs::path(grams_path(epoch)).filename().string();
  for (const auto& entry : fs::directory_iterator(dir_)) {  // the older Grams: no longer needed
    const std::string name = entry.path().filename().string();
    if (name.starts_with("grams_epoch_") && name.ends_with(".npy") && name != keep) fs::remove(entry.path());
  }
  previous_ = r.grams;
  write_figure();
  note(o_.progress, "cka after epoch " + std::to_string(epoch) + ": " + std::to_string(layers_.size()) +
                        " layers over " + std::to_string(probes_.samples.size()) + " images in " +
                        std::to_string(seconds).substr(0, 5) + " s (" + dir_ + ")");
}

void TrainingCka::write_figure() const {
  const int64_t l = static_cast<int64_t>(layers_.size());
  // The strip: every evaluation, or kMaxShownMatrices evenly spaced ones (the first and the last included).
  std::vector<size_t> shown;
  const size_t count = lines_.size();
  for (size_t i = 0; i < std::min(count, kMaxShownMatrices); ++i) {
    const size_t at = count <= kMaxShownMatrices ? i : i * (count - 1) / (kMaxShownMatrices - 1);
    if (shown.empty() || shown.back() != at) shown.push_back(at);
  }
  const int cell = 140, gap = 12, left = 10, top = 24, chart_w = 440, chart_h = 300;
  const int strip_w = left + static_cast<int>(shown.size()) * (cell + gap) + 90;
  plot::Canvas fig(std::max(strip_w, left + 3 * chart_w), top + cell + 30 + chart_h);
  fig.text(left, 8,
           "CKA over training: " + run_ + " (" + std::to_string(probes_.samples.size()) +
               " validation images, " + std::to_string(l) + " layers, every " + std::to_string(o_.cka_every) +
               " epochs)",
           plot::kBlack, 1);
  for (size_t s = 0; s < shown.size(); ++s) {
    const int64_t epoch = line_epoch(lines_[shown[s]]);
    const std::string file = path("epoch_" + std::to_string(epoch) + ".npy");
    const Tensor m = read_npy(file);
    BIASCKA_CHECK(m.dtype() == DType::F64 && m.shape() == Shape({l, l}), file, ": holds ",
                  dtype_name(m.dtype()), " ", shape_str(m.shape()), ", expected float64 [", l, ", ", l, "]");
    plot::HeatmapSpec h;
    h.rows = h.cols = l;
    h.values.assign(m.data<double>(), m.data<double>() + m.numel());
    h.size = cell;
    h.colorbar = false;
    h.tick_labels = false;
    h.annotate_min_cell = 0;
    const int x = left + static_cast<int>(s) * (cell + gap);
    fig.blit(plot::render_heatmap(h), x, top);
    fig.text(x, top + cell + 6, "epoch " + std::to_string(epoch), plot::kBlack);
  }
  fig.blit(plot::render_colorbar(0, 1, plot::ColorMap::Magma, cell, "CKA"),
           left + static_cast<int>(shown.size()) * (cell + gap), top);
  // The curves: one line per layer, coloured by its stage (stem, layer1..4, head), one legend entry each.
  const std::vector<size_t> starts = cka::stage_starts(layers_);
  auto curves = [&](const char* title, auto&& values_of) {
    plot::LineChartSpec spec;
    spec.title = title;
    spec.x_title = "epoch";
    spec.y_title = "CKA";
    spec.width = chart_w;
    spec.height = chart_h;
    spec.integer_x = true;
    // The same epochs on every panel (the first evaluation has no previous one).
    spec.x_min = static_cast<double>(line_epoch(lines_.front()));
    spec.x_max = std::max(spec.x_min + 1, static_cast<double>(line_epoch(lines_.back())));
    int stage = 0;
    for (int64_t i = 0; i < l; ++i) {
      const bool first =
          i == 0 || std::find(starts.begin(), starts.end(), static_cast<size_t>(i)) != starts.end();
      if (i > 0 && first) ++stage;
      plot::Series s;
      s.color = plot::palette(stage);
      if (first) {  // the stage's name; names without a '.' are the stem (first) or the head
        const std::string& name = layers_[static_cast<size_t>(i)];
        const size_t dot = name.find('.');
        s.label = dot != std::string::npos ? name.substr(0, dot) : i == 0 ? "stem" : "head";
      }
      for (const auto& line : lines_) {
        const std::vector<double> v = values_of(line);
        s.x.push_back(static_cast<double>(line_epoch(line)));
        s.y.push_back(static_cast<size_t>(i) < v.size() ? v[static_cast<size_t>(i)] : std::nan(""));
      }
      spec.series.push_back(std::move(s));
    }
    return plot::render_line_chart(spec);
  };
  const int y = top + cell + 30;
  fig.blit(curves("each layer vs. its previous evaluation",
                  [](const nlohmann::json& line) { return doubles(line, "with_previous"); }),
           left, y);
  fig.blit(curves("each layer vs. the target labels",
                  [](const nlohmann::json& line) { return doubles(line, "probes", "target"); }),
           left + chart_w, y);
  fig.blit(curves("each layer vs. the bias labels",
                  [](const nlohmann::json& line) { return doubles(line, "probes", "bias"); }),
           left + 2 * chart_w, y);
  fig.save_png(run_ + "/cka_over_training.png");
}

}  // namespace biascka::workflows
