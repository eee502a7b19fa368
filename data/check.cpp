#include "data/check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/disent.h"
#include "data/image_io.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace biascka::data {

namespace fs = std::filesystem;

namespace {

// What is known of DisEnt's releases (Lee et al. 2021, github.com/kakaoenterprise/Learning-Debiased-
// Disentangled). Colored MNIST and Corrupted CIFAR-10 are made from the whole MNIST / CIFAR-10 sets:
// train + valid together hold the 60,000 / 50,000 training images and test the 10,000 test images.
// B-FFHQ (from BiaSwap, Kim et al. 2021): 19,200 training images at 0.5pct (19,104 aligned, 96
// conflicting), 1,000 valid and 1,000 test, as the lead's brief and the papers' dataset tables give them
// (not re-counted here: the release cannot be downloaded on this machine).
struct Known {
  const char* name;
  int64_t classes;
  int side;                               // image width = height in the release (0: not known)
  std::vector<std::string> pcts;          // the pct folders of the release
  bool valid_in_pct;                      // PCT/valid (else valid/ beside the pct folders)
  int64_t train_plus_valid, valid, test;  // 0: not known
  int64_t train_aligned, train_conflicting;
};

const std::vector<Known>& known_datasets() {
  static const std::vector<Known> k = {
      {"cmnist", 10, 28, {"0.5pct", "1pct", "2pct", "5pct"}, true, 60000, 0, 10000, 0, 0},
      {"cifar10c", 10, 32, {"0.5pct", "1pct", "2pct", "5pct"}, true, 50000, 0, 10000, 0, 0},
      {"bffhq", 2, 0, {"0.5pct"}, false, 20200, 1000, 1000, 19104, 96},
  };
  return k;
}

const Known* find_known(const std::string& name) {
  for (const auto& k : known_datasets())
    if (k.name == name) return &k;
  return nullptr;
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return n < 0 ? "-" + out : out;
}

struct Image1 {
  std::string path, id;
  int64_t target = 0, bias = 0;
};

// Collects findings, each kind once per split with a count and up to three examples.
class Findings {
 public:
  void add(const std::string& key, const std::string& example) {
    auto& e = items_[key];
    if (e.first++ < 3) e.second.push_back(example);
  }
  void flush(std::vector<std::string>& out) {
    for (auto& [key, e] : items_) {
      std::string line = key + ": " + std::to_string(e.first) + (e.first == 1 ? " file" : " files") + " (";
      for (size_t i = 0; i < e.second.size(); ++i) line += (i ? ", " : "e.g. ") + e.second[i];
      out.push_back(line + (e.first > 3 ? ", ...)" : ")"));
    }
    items_.clear();
  }

 private:
  std::map<std::string, std::pair<int64_t, std::vector<std::string>>> items_;
};

// Every image under dir (hidden entries skipped, as the loader does). Names that do not parse are reported
// and left out.
std::vector<Image1> scan(const fs::path& dir, const std::string& label, Findings& errors) {
  std::vector<Image1> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string fname = it->path().filename().string();
    if (fname.starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !is_image_file(fname)) continue;
    const std::string stem = it->path().stem().string();
    const std::string rel = fs::relative(it->path(), dir).string();
    try {
      const Sample s = parse_sample_name(it->path().string());
      const size_t b = stem.rfind('_'), t = stem.rfind('_', b - 1);
      out.push_back({it->path().string(), stem.substr(0, t), s.target, s.bias});
    } catch (const Error&) {
      errors.add(label + ": file names without {id}_{target}_{bias} labels", rel);
    }
  }
  if (ec) errors.add(label + ": cannot list (" + ec.message() + ")", dir.string());
  std::sort(out.begin(), out.end(), [](const Image1& a, const Image1& b) { return a.path < b.path; });
  return out;
}

bool parse_int(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 12 ||
      !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return false;
  v = std::stoll(s);
  return true;
}

// Counts, consistency with the folder the image is in, and the images' sizes.
SplitCounts count_split(const std::string& name, const std::vector<Image1>& images, int64_t classes,
                        const std::string& must_be, bool read_images, Findings& errors,
                        std::set<std::pair<int, int>>& sizes) {
  SplitCounts c;
  c.name = name;
  c.per_class.assign(classes, 0);
  c.per_class_conflicting.assign(classes, 0);
  // Decoding is the slow part (tens of thousands of files): in parallel, into one slot per image.
  std::vector<std::pair<int, int>> decoded(images.size(), {0, 0});
  if (read_images)
    parallel_for(static_cast<int64_t>(images.size()), 64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        try {
          const Image img = decode_image(images[i].path);
          decoded[i] = {img.width, img.height};
        } catch (const Error&) {  // {0, 0}: reported below
        }
      }
    });
  std::set<std::pair<int, int>> split_sizes;
  for (size_t i = 0; i < images.size(); ++i) {
    const Image1& im = images[i];
    const std::string file = fs::path(im.path).filename().string();
    if (im.target >= classes || im.bias >= classes) {
      errors.add(name + ": labels outside the " + std::to_string(classes) + " classes", file);
      continue;
    }
    ++c.total;
    const bool aligned = im.target == im.bias;
    c.aligned += aligned;
    ++c.per_class[im.target];
    if (!aligned) ++c.per_class_conflicting[im.target];
    if (must_be == "align" && !aligned) errors.add(name + ": bias-conflicting images under align/", file);
    if (must_be == "conflict" && aligned) errors.add(name + ": bias-aligned images under conflict/", file);
    int64_t folder_class = 0;
    const std::string folder = fs::path(im.path).parent_path().filename().string();
    if (parse_int(folder, folder_class) && folder_class != im.target)
      errors.add(name + ": images in the class folder of another target", folder + "/" + file);
    if (!read_images) continue;
    if (decoded[i].first == 0)
      errors.add(name + ": not readable images", file);
    else
      split_sizes.insert(decoded[i]);
  }
  if (split_sizes.size() == 1) std::tie(c.width, c.height) = *split_sizes.begin();
  sizes.insert(split_sizes.begin(), split_sizes.end());
  return c;
}

// Ids in two splits of one pool, or twice in one split.
void check_ids(const std::vector<std::pair<std::string, const std::vector<Image1>*>>& pool,
               Findings& errors) {
  std::unordered_map<std::string, std::string> seen;  // id -> split
  for (const auto& [split, images] : pool)
    for (const Image1& im : *images) {
      auto [it, fresh] = seen.emplace(im.id, split);
      if (fresh) continue;
      const std::string file = fs::path(im.path).filename().string();
      if (it->second == split)
        errors.add(split + ": ids used twice", file);
      else
        errors.add(it->second + " and " + split + ": ids in both (the splits overlap)", file);
    }
}

// Train and test need every class; valid without one only validates less (tiny generated sets), a warning.
void check_classes(const SplitCounts& c, bool need_conflicting, std::vector<std::string>& errors) {
  std::string empty, no_conflict;
  for (size_t k = 0; k < c.per_class.size(); ++k) {
    if (c.per_class[k] == 0)
      empty += (empty.empty() ? "" : ", ") + std::to_string(k);
    else if (need_conflicting && c.per_class_conflicting[k] == 0)
      no_conflict += (no_conflict.empty() ? "" : ", ") + std::to_string(k);
  }
  if (!empty.empty()) errors.push_back(c.name + ": no images of class " + empty);
  if (!no_conflict.empty()) errors.push_back(c.name + ": no bias-conflicting images of class " + no_conflict);
}

std::vector<std::string> pct_folders(const fs::path& dir) {
  static const std::regex pct(R"(^[0-9]+(\.[0-9]+)?pct$)");
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && std::regex_match(e.path().filename().string(), pct))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
  return out;
}

bool is_dataset_folder(const fs::path& dir) {
  return fs::is_directory(dir / "test") || !pct_folders(dir).empty();
}

// Release comparisons: warnings, since a deliberately smaller dataset is legitimate.
void compare_with_release(const Known& k, DatasetCheck& d, double pct, const SplitCounts& train,
                          const SplitCounts* valid) {
  if (k.train_plus_valid > 0 && valid && train.total + valid->total != k.train_plus_valid)
    d.warnings.push_back(train.name + " + valid: " + with_commas(train.total + valid->total) +
                         " images; DisEnt's release has " + with_commas(k.train_plus_valid));
  if (k.train_aligned > 0 && (train.aligned != k.train_aligned || train.conflicting() != k.train_conflicting))
    d.warnings.push_back(train.name + ": " + with_commas(train.aligned) + " aligned + " +
                         with_commas(train.conflicting()) + " conflicting; DisEnt's release has " +
                         with_commas(k.train_aligned) + " + " + with_commas(k.train_conflicting));
  if (train.total > 0) {
    const double share = 100.0 * train.conflicting() / train.total;
    if (std::abs(share - pct) > std::max(0.1, 0.1 * pct)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, ": %.2f%% bias-conflicting, not %g%%", share, pct);
      d.warnings.push_back(train.name + buf);
    }
  }
}

}  // namespace

DatasetCheck check_dataset(const std::string& dataset_dir, const CheckOptions& o) {
  DatasetCheck d;
  const fs::path dir = fs::absolute(fs::path(dataset_dir)).lexically_normal();
  d.dir = dir.string();
  d.name = dir.has_filename() ? dir.filename().string() : dir.parent_path().filename().string();
  const Known* known = find_known(d.name);
  if (!fs::is_directory(dir)) {
    d.errors.push_back(d.dir + ": folder not found");
    return d;
  }
  std::vector<std::string> pcts = o.pcts.empty() ? pct_folders(dir) : o.pcts;
  if (pcts.empty()) d.errors.push_back("no pct folder (e.g. 5pct/ holding align/ and conflict/)");
  if (known && o.pcts.empty())
    for (const auto& p : known->pcts)
      if (std::find(pcts.begin(), pcts.end(), p) == pcts.end())
        d.warnings.push_back(p + "/: missing (DisEnt's release has it)");

  // Scan every split first: the number of classes of an unknown dataset comes from all of them.
  Findings errors;
  struct PctScan {
    std::string pct;
    std::vector<Image1> align, conflict, valid;
    bool has_valid = false;
    std::string valid_name;
  };
  std::vector<PctScan> scans;
  std::map<std::string, std::vector<Image1>> shared_valid;  // valid/ beside the pct folders, scanned once
  for (const auto& p : pcts) {
    PctScan s;
    s.pct = p;
    const fs::path pd = dir / p;
    if (!fs::is_directory(pd)) {
      d.errors.push_back(p + "/: missing");
      continue;
    }
    for (auto [sub, images] : {std::pair{"align", &s.align}, std::pair{"conflict", &s.conflict}}) {
      if (fs::is_directory(pd / sub))
        *images = scan(pd / sub, p + "/" + sub, errors);
      else
        d.errors.push_back(p + "/" + sub + "/: missing (the training split)");
    }
    if (fs::is_directory(pd / "valid")) {
      s.valid = scan(pd / "valid", p + "/valid", errors);
      s.has_valid = true;
      s.valid_name = p + " valid";
    } else if (fs::is_directory(dir / "valid")) {
      if (!shared_valid.count("valid")) shared_valid["valid"] = scan(dir / "valid", "valid", errors);
      s.valid = shared_valid["valid"];
      s.has_valid = true;
      s.valid_name = "valid";
    } else {
      d.errors.push_back(p + "/valid/: missing (looked there and in valid/ beside the pct folders)");
    }
    scans.push_back(std::move(s));
  }
  std::vector<Image1> test;
  const bool has_test = fs::is_directory(dir / "test");
  if (has_test)
    test = scan(dir / "test", "test", errors);
  else
    d.errors.push_back("test/: missing");

  int64_t max_label = 0;
  for (const auto* list : {&test})
    for (const auto& im : *list) max_label = std::max({max_label, im.target, im.bias});
  for (const auto& s : scans)
    for (const auto* list : {&s.align, &s.conflict, &s.valid})
      for (const auto& im : *list) max_label = std::max({max_label, im.target, im.bias});
  d.num_classes = known ? known->classes : max_label + 1;

  std::set<std::pair<int, int>> sizes;
  std::optional<SplitCounts> shared_valid_counts;
  for (const auto& s : scans) {
    Findings& f = errors;
    SplitCounts a = count_split(s.pct + " align", s.align, d.num_classes, "align", o.read_images, f, sizes);
    SplitCounts c =
        count_split(s.pct + " conflict", s.conflict, d.num_classes, "conflict", o.read_images, f, sizes);
    SplitCounts train;
    train.name = s.pct + " train";
    train.total = a.total + c.total;
    train.aligned = a.aligned + c.aligned;
    train.per_class.resize(d.num_classes);
    train.per_class_conflicting.resize(d.num_classes);
    for (int64_t k = 0; k < d.num_classes; ++k) {
      train.per_class[k] = a.per_class[k] + c.per_class[k];
      train.per_class_conflicting[k] = a.per_class_conflicting[k] + c.per_class_conflicting[k];
    }
    if (a.width == c.width && a.height == c.height)
      std::tie(train.width, train.height) = std::pair{a.width, a.height};
    if (known && known->train_aligned > 0)
      train.release = with_commas(known->train_aligned) + " + " + with_commas(known->train_conflicting);
    else if (known && known->train_plus_valid > 0)
      train.release = "with valid " + with_commas(known->train_plus_valid);
    check_classes(train, true, d.errors);
    d.splits.push_back(train);
    std::vector<std::pair<std::string, const std::vector<Image1>*>> pool = {
        {s.pct + "/align", &s.align}, {s.pct + "/conflict", &s.conflict}};
    if (s.has_valid) {
      SplitCounts v;
      if (s.valid_name == "valid" && shared_valid_counts) {
        v = *shared_valid_counts;  // valid/ beside the pct folders: one split, counted and listed once
      } else {
        v = count_split(s.valid_name, s.valid, d.num_classes, "", o.read_images, f, sizes);
        if (known && known->valid > 0) v.release = with_commas(known->valid);
        check_classes(v, false, d.warnings);
        d.splits.push_back(v);
        if (s.valid_name == "valid") shared_valid_counts = v;
      }
      pool.push_back({s.pct + "/valid", &s.valid});
      if (known) compare_with_release(*known, d, std::stod(s.pct), train, &v);
    }
    check_ids(pool, f);
  }
  if (has_test) {
    SplitCounts t = count_split("test", test, d.num_classes, "", o.read_images, errors, sizes);
    if (known && known->test > 0) {
      t.release = with_commas(known->test);
      if (t.total != known->test)
        d.warnings.push_back("test: " + with_commas(t.total) + " images; DisEnt's release has " +
                             with_commas(known->test));
    }
    check_classes(t, false, d.errors);
    d.splits.push_back(t);
    check_ids({{"test", &test}}, errors);
  }
  errors.flush(d.errors);
  if (sizes.size() > 1) {
    std::string list;
    for (const auto& [w, h] : sizes)
      list += (list.empty() ? "" : ", ") + std::to_string(w) + "x" + std::to_string(h);
    d.warnings.push_back("images of different sizes: " + list +
                         " (the loader resizes only with --image-size)");
  } else if (sizes.size() == 1 && known && known->side > 0 && sizes.begin()->first != known->side) {
    d.warnings.push_back("images are " + std::to_string(sizes.begin()->first) + "x" +
                         std::to_string(sizes.begin()->second) + "; DisEnt's release has " +
                         std::to_string(known->side) + "x" + std::to_string(known->side));
  }
  return d;
}

std::vector<DatasetCheck> check_data(const std::string& path, const CheckOptions& o) {
  BIASCKA_CHECK(fs::is_directory(path), path, ": folder not found");
  if (is_dataset_folder(path)) return {check_dataset(path, o)};
  std::vector<DatasetCheck> out;
  for (const auto& k : known_datasets())
    if (fs::is_directory(fs::path(path) / k.name))
      out.push_back(check_dataset((fs::path(path) / k.name).string(), o));
  BIASCKA_CHECK(
      !out.empty(), path,
      ": neither a dataset folder (pct folders, test/) nor a root holding cmnist/, cifar10c/ or bffhq/");
  return out;
}

std::string format_check(const std::vector<DatasetCheck>& checks) {
  std::string out;
  char line[256];
  for (const DatasetCheck& d : checks) {
    std::snprintf(line, sizeof line, "%s  %s  (%lld classes): %s\n", d.name.c_str(), d.dir.c_str(),
                  static_cast<long long>(d.num_classes),
                  d.ok() ? (d.warnings.empty() ? "ok" : "ok, with warnings") : "BROKEN");
    out += line;
    if (!d.splits.empty()) {
      std::snprintf(line, sizeof line, "  %-14s %9s %9s %9s %8s  %-17s %-7s %s\n", "split", "images",
                    "aligned", "conflict", "conf %", "per class", "size", "DisEnt release");
      out += line;
    }
    for (const SplitCounts& s : d.splits) {
      const auto [lo, hi] = s.per_class.empty()
                                ? std::pair<int64_t, int64_t>{0, 0}
                                : std::pair{*std::min_element(s.per_class.begin(), s.per_class.end()),
                                            *std::max_element(s.per_class.begin(), s.per_class.end())};
      const std::string range = with_commas(lo) + (lo == hi ? "" : "-" + with_commas(hi));
      const std::string size = s.width ? std::to_string(s.width) + "x" + std::to_string(s.height) : "-";
      char share[16];
      std::snprintf(share, sizeof share, "%.2f", s.total ? 100.0 * s.conflicting() / s.total : 0.0);
      std::snprintf(line, sizeof line, "  %-14s %9s %9s %9s %8s  %-17s %-7s %s\n", s.name.c_str(),
                    with_commas(s.total).c_str(), with_commas(s.aligned).c_str(),
                    with_commas(s.conflicting()).c_str(), share, range.c_str(), size.c_str(),
                    s.release.c_str());
      out += line;
    }
    for (const auto& e : d.errors) out += "  error: " + e + "\n";
    for (const auto& w : d.warnings) out += "  warning: " + w + "\n";
  }
  return out;
}

}  // namespace biascka::data
