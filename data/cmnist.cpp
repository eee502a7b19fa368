#include "data/cmnist.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <utility>

#include "data/idx.h"
#include "data/image_io.h"
#include "data/rng.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/parallel.h"
#include "engine/parse.h"

namespace biascka::data {
namespace fs = std::filesystem;

namespace {

// DESIGN.md's DisEnt palette: 0 red, 1 orange, 2 yellow, 3 lime, 4 green, 5 cyan, 6 blue, 7 violet, 8 rose,
// 9 magenta.
constexpr Palette kDisentPalette = {{{255, 0, 0},
                                     {255, 128, 0},
                                     {255, 255, 0},
                                     {128, 255, 0},
                                     {0, 255, 0},
                                     {0, 255, 255},
                                     {0, 0, 255},
                                     {128, 0, 255},
                                     {255, 0, 128},
                                     {255, 0, 255}}};

// Stream tags: every random decision has its own stream, so changing one split never moves another.
enum : uint64_t { kTagValidPick = 1, kTagTrainOrder, kTagValidOrder, kTagTestOrder, kTagNoise };
enum : uint64_t { kSplitTrain = 0, kSplitTest = 1 };

Palette palette_from_file(const std::string& path) {
  std::istringstream in(read_file(path));
  Palette p{};
  std::string line;
  int k = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    double r, g, b;
    BIASCKA_CHECK(static_cast<bool>(ls >> r >> g >> b), path, ": palette line ", k + 1, " is not 'r g b'");
    BIASCKA_CHECK(k < 10, path, ": more than 10 palette colours");
    const double scale = (r <= 1 && g <= 1 && b <= 1) ? 255.0 : 1.0;  // accepts [0, 1] or 0-255
    for (int c = 0; c < 3; ++c) {
      const double v = (c == 0 ? r : c == 1 ? g : b) * scale;
      BIASCKA_CHECK(v >= 0 && v <= 255, path, ": palette value ", v, " outside 0-255");
      p[k][c] = static_cast<uint8_t>(std::lround(v));
    }
    ++k;
  }
  BIASCKA_CHECK(k == 10, path, ": ", k, " palette colours (need 10)");
  return p;
}

struct Item {
  int64_t src;  // index in the IDX set
  int64_t target, bias;
  std::string rel;  // path inside the output folder
  uint64_t noise_key;
};

// The image `src` of `set` with its strokes multiplied by colour `bias` plus Gaussian noise (LfF's colorize:
// clamp(colour + N(0, std)) * gray, truncated to uint8).
Image colorize(const IdxSet& set, int64_t src, const std::array<uint8_t, 3>& colour, double std,
               uint64_t key) {
  Rng rng(key);
  float col[3];
  for (int c = 0; c < 3; ++c)
    col[c] = static_cast<float>(std::clamp(colour[c] / 255.0 + std * rng.normal(), 0.0, 1.0));
  Image img;
  img.width = static_cast<int>(set.cols);
  img.height = static_cast<int>(set.rows);
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  const uint8_t* gray = set.images.data() + src * set.rows * set.cols;
  for (int64_t i = 0; i < set.rows * set.cols; ++i)
    for (int c = 0; c < 3; ++c) img.pixels[i * 3 + c] = static_cast<uint8_t>(col[c] * gray[i]);
  return img;
}

bool pid_alive(int64_t pid) {
  return pid > 0 && pid <= std::numeric_limits<pid_t>::max() &&
         (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// Removes the temporary (.tmp-NAME-PID) and replaced (.old-NAME-PID) folders of `name` left by generators
// that no longer run.
void remove_stale_temps(const fs::path& root, const std::string& name) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec))
    for (const std::string& prefix : {".tmp-" + name + "-", ".old-" + name + "-"}) {
      const std::string f = e.path().filename().string();
      if (f.starts_with(prefix) && !pid_alive(try_parse_int64(f.substr(prefix.size())).value_or(0)))
        fs::remove_all(e.path(), ec);
    }
}

// Writes items into root/.tmp-name-pid, then renames it to root/name (replacing an old one).
void write_folder(const fs::path& root, const std::string& name, const std::vector<Item>& items,
                  const IdxSet& set, const Palette& palette, double color_std, const nlohmann::json& info) {
  remove_stale_temps(root, name);
  const fs::path tmp = root / (".tmp-" + name + "-" + std::to_string(::getpid()));
  const fs::path final_dir = root / name;
  try {
    fs::remove_all(tmp);
    std::vector<std::string> dirs;
    for (const Item& it : items) dirs.push_back(fs::path(it.rel).parent_path().string());
    std::sort(dirs.begin(), dirs.end());
    dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
    for (const auto& d : dirs) fs::create_directories(tmp / d);
    fs::create_directories(tmp);
    std::exception_ptr error;
    parallel_for(static_cast<int64_t>(items.size()), 64, [&](int64_t b, int64_t e) {
      try {
        for (int64_t i = b; i < e; ++i) {
          const Item& it = items[i];
          write_png((tmp / it.rel).string(),
                    colorize(set, it.src, palette[it.bias], color_std, it.noise_key));
        }
      } catch (...) {
#pragma omp critical(biascka_cmnist_error)
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    write_text_atomic((tmp / "generator.json").string(), info.dump(2) + "\n");
    sync_filesystem(
        tmp.string());  // the files' bytes are on disk before the rename makes the folder look complete
    const fs::path old = root / (".old-" + name + "-" + std::to_string(::getpid()));
    if (fs::exists(final_dir)) fs::rename(final_dir, old);
    fs::rename(tmp, final_dir);
    fs::remove_all(old);
  } catch (const fs::filesystem_error& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fail(final_dir.string(), ": cannot write (", e.code().message(), ": ", e.path1().string(), ")");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

// Indices of each class among `idx` (in the order given).
std::vector<std::vector<int64_t>> by_class(const std::vector<int64_t>& idx, const IdxSet& set) {
  std::vector<std::vector<int64_t>> out(10);
  for (int64_t i : idx) {
    const int64_t y = set.labels[i];
    BIASCKA_CHECK(y < 10, set.labels_path, ": label ", y, " at index ", i,
                  " (Colored MNIST has one colour per class and 10 colours)");
    out[y].push_back(i);
  }
  return out;
}

// Bias labels for the samples of each class: the class's samples in a seeded order get spread_bias_labels.
std::vector<std::pair<int64_t, int64_t>> assign_bias(const std::vector<std::vector<int64_t>>& classes,
                                                     double aligned_fraction, uint64_t seed, uint64_t tag) {
  std::vector<std::pair<int64_t, int64_t>> out;  // (src index, bias)
  for (int64_t c = 0; c < 10; ++c) {
    std::vector<int64_t> order = classes[c];
    Rng(stream_key(seed, tag, c)).shuffle(order);
    const std::vector<int64_t> bias =
        spread_bias_labels(static_cast<int64_t>(order.size()), c, aligned_fraction);
    for (size_t k = 0; k < order.size(); ++k) out.emplace_back(order[k], bias[k]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string item_name(int64_t src, int64_t target, int64_t bias) {
  return std::to_string(src) + "_" + std::to_string(target) + "_" + std::to_string(bias) + ".png";
}

}  // namespace

Palette cmnist_palette(const std::string& name) {
  if (name == "disent") return kDisentPalette;
  if (name == "lff")
    fail(
        "palette 'lff': LfF's 10 colours exist only as the binary PyTorch file data/resource/colors.th of "
        "alinlab/LfF, which biascka cannot read; export them with python -c \"import torch; "
        "[print(*[round(255*v) for v in c]) for c in torch.load('colors.th').tolist()]\" > lff.txt "
        "and pass --palette lff.txt");
  BIASCKA_CHECK(fs::is_regular_file(name), "unknown palette '", name,
                "' (disent, lff, or a text file of 10 'r g b' lines)");
  return palette_from_file(name);
}

std::string pct_folder_name(double pct) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gpct", pct);
  return buf;
}

std::vector<int64_t> spread_bias_labels(int64_t n, int64_t label, double aligned_fraction,
                                        int64_t num_classes) {
  const int64_t aligned = std::llround(static_cast<double>(n) * aligned_fraction);
  const int64_t others = n - aligned, k = num_classes - 1;
  std::vector<int64_t> out(static_cast<size_t>(aligned), label);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t count = std::llround(static_cast<double>(others) * (j + 1) / k) -
                          std::llround(static_cast<double>(others) * j / k);
    const int64_t colour = (label + 1 + j) % num_classes;
    out.insert(out.end(), static_cast<size_t>(count), colour);
  }
  return out;
}

void make_cmnist(const CmnistOptions& o) {
  BIASCKA_CHECK(!o.pcts.empty(), "cmnist: no --pct given");
  for (double p : o.pcts)
    BIASCKA_CHECK(p > 0 && p < 100, "cmnist: --pct ", p, " is not a percentage in (0, 100)");
  BIASCKA_CHECK(o.valid_fraction >= 0 && o.valid_fraction < 1, "cmnist: --valid-fraction ", o.valid_fraction,
                " is not in [0, 1)");
  BIASCKA_CHECK(o.color_std >= 0 && o.color_std < 1, "cmnist: --color-std ", o.color_std,
                " is not in [0, 1)");
  const Palette palette = cmnist_palette(o.palette);
  const fs::path root = fs::path(o.out_root) / "cmnist";
  std::error_code ec;
  fs::create_directories(root, ec);
  BIASCKA_CHECK(!ec, root.string(), ": cannot create folder (", ec.message(), ")");

  std::vector<double> todo;
  for (double p : o.pcts)
    if (o.overwrite || !fs::exists(root / pct_folder_name(p)))
      todo.push_back(p);
    else if (o.verbose)
      std::printf("keeping %s (exists)\n", (root / pct_folder_name(p)).string().c_str());
  const bool do_test = o.overwrite || !fs::exists(root / "test");
  if (!do_test && o.verbose) std::printf("keeping %s (exists)\n", (root / "test").string().c_str());

  nlohmann::json settings = {{"generator", "biascka data cmnist"},
                             {"idx_dir", o.idx_dir},
                             {"palette", o.palette},
                             {"color_std", o.color_std},
                             {"valid_fraction", o.valid_fraction},
                             {"seed", o.seed},
                             {"max_train", o.max_train}};
  auto limit = [](IdxSet& s, int64_t n) {
    if (n <= 0 || n >= s.count) return;
    s.count = n;
    s.images.resize(static_cast<size_t>(n * s.rows * s.cols));
    s.labels.resize(static_cast<size_t>(n));
  };

  if (!todo.empty()) {
    IdxSet train = read_idx_set(o.idx_dir, true);
    limit(train, o.max_train);
    // valid: a seeded valid_fraction of the train set, the same for every pct folder.
    const std::vector<int64_t> perm = permutation(train.count, stream_key(o.seed, kTagValidPick));
    const int64_t n_valid = std::llround(static_cast<double>(train.count) * o.valid_fraction);
    std::vector<int64_t> valid_idx(perm.begin(), perm.begin() + n_valid),
        train_idx(perm.begin() + n_valid, perm.end());
    std::sort(valid_idx.begin(), valid_idx.end());
    std::sort(train_idx.begin(), train_idx.end());
    const auto train_classes = by_class(train_idx, train);
    const auto valid_bias = assign_bias(by_class(valid_idx, train), 0.1, o.seed, kTagValidOrder);

    for (double pct : todo) {
      const std::string name = pct_folder_name(pct);
      std::vector<Item> items;
      nlohmann::json per_class = nlohmann::json::array();
      int64_t n_align = 0, n_conflict = 0;
      std::vector<int64_t> conflicts(10, 0);
      for (const auto& [src, bias] : assign_bias(train_classes, 1.0 - pct / 100.0, o.seed, kTagTrainOrder)) {
        const int64_t y = train.labels[src];
        const bool aligned = bias == y;
        (aligned ? n_align : n_conflict)++;
        if (!aligned) conflicts[y]++;
        items.push_back({src, y, bias,
                         std::string(aligned ? "align/" : "conflict/") + std::to_string(y) + "/" +
                             item_name(src, y, bias),
                         stream_key(o.seed, kTagNoise, kSplitTrain, src)});
      }
      for (const auto& [src, bias] : valid_bias) {
        const int64_t y = train.labels[src];
        items.push_back({src, y, bias, "valid/" + item_name(src, y, bias),
                         stream_key(o.seed, kTagNoise, kSplitTrain, src)});
      }
      nlohmann::json info = settings;
      info["pct"] = pct;
      info["counts"] = {{"align", n_align},
                        {"conflict", n_conflict},
                        {"valid", valid_bias.size()},
                        {"conflict_per_class", conflicts}};
      write_folder(root, name, items, train, palette, o.color_std, info);
      if (o.verbose)
        std::printf("wrote %s: %lld align, %lld conflict, %zu valid\n", (root / name).string().c_str(),
                    static_cast<long long>(n_align), static_cast<long long>(n_conflict), valid_bias.size());
    }
  }

  if (do_test) {
    IdxSet test = read_idx_set(o.idx_dir, false);
    limit(test, o.max_test > 0 ? o.max_test : o.max_train > 0 ? (o.max_train + 5) / 6 : 0);
    std::vector<int64_t> all(static_cast<size_t>(test.count));
    for (int64_t i = 0; i < test.count; ++i) all[i] = i;
    std::vector<Item> items;
    for (const auto& [src, bias] : assign_bias(by_class(all, test), 0.1, o.seed, kTagTestOrder)) {
      const int64_t y = test.labels[src];
      items.push_back({src, y, bias, std::to_string(y) + "/" + item_name(src, y, bias),
                       stream_key(o.seed, kTagNoise, kSplitTest, src)});
    }
    nlohmann::json info = settings;
    info["counts"] = {{"test", items.size()}};
    write_folder(root, "test", items, test, palette, o.color_std, info);
    if (o.verbose) std::printf("wrote %s: %zu images\n", (root / "test").string().c_str(), items.size());
  }
}

}  // namespace biascka::data
