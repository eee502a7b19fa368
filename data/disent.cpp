#include "data/disent.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "engine/error.h"
#include "engine/parse.h"

namespace biascka::data {
namespace fs = std::filesystem;

namespace {
// The folder above dir, also for "a/b/" and relative paths.
fs::path parent_of(const std::string& dir) {
  fs::path p = fs::absolute(fs::path(dir)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.parent_path();
}
}  // namespace

int64_t Split::count_aligned() const {
  return std::count_if(samples.begin(), samples.end(), [](const Sample& s) { return s.aligned(); });
}

bool is_image_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

namespace {

// A label is a non-negative decimal integer (digits only: no sign, no spaces).
bool parse_label(const std::string& s, int64_t& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const std::optional<int64_t> v = try_parse_int64(s);
  if (!v) return false;
  out = *v;
  return true;
}

void check_range(const Split& split, int64_t num_classes) {
  for (const Sample& s : split.samples)
    BIASCKA_CHECK(s.target < num_classes && s.bias < num_classes, s.path, ": label out of range (target ",
                  s.target, ", bias ", s.bias, "; the dataset has ", num_classes, " classes)");
}

// The training split defines the classes, 0 .. N-1 with N = its largest label + 1, and each must have
// training images: a class without any is almost always a stray file (an image labelled 99 among 0-9
// would otherwise build a 100-class model). Names the file with the largest label.
void check_every_class_present(const Split& split) {
  std::set<int64_t> targets;
  const Sample* largest = &split.samples.front();
  for (const Sample& s : split.samples) {
    targets.insert(s.target);
    if (std::max(s.target, s.bias) > std::max(largest->target, largest->bias)) largest = &s;
  }
  if (static_cast<int64_t>(targets.size()) == split.num_classes) return;
  int64_t first_missing = 0;
  while (targets.count(first_missing)) ++first_missing;
  const int64_t missing = split.num_classes - static_cast<int64_t>(targets.size());
  fail(largest->path, ": label ", std::max(largest->target, largest->bias), " makes ", split.num_classes,
       " classes, but ", missing, " of them (", first_missing, missing > 1 ? " and others" : "",
       ") have no training image in ", split.dir,
       "; a stray file? (the classes are 0 to N-1, each with training images)");
}

void finish(Split& split, int64_t num_classes) {
  std::sort(split.samples.begin(), split.samples.end(),
            [](const Sample& a, const Sample& b) { return a.path < b.path; });
  if (num_classes > 0) {
    check_range(split, num_classes);
    split.num_classes = num_classes;
  } else {
    int64_t max_label = 0;
    for (const Sample& s : split.samples) max_label = std::max({max_label, s.target, s.bias});
    split.num_classes = max_label + 1;
  }
}

}  // namespace

Sample parse_sample_name(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  const size_t b = stem.rfind('_');
  const size_t t = b == std::string::npos || b == 0 ? std::string::npos : stem.rfind('_', b - 1);
  Sample s;
  s.path = path;
  const bool ok = t != std::string::npos && t > 0 && parse_label(stem.substr(t + 1, b - t - 1), s.target) &&
                  parse_label(stem.substr(b + 1), s.bias);
  BIASCKA_CHECK(ok, path, ": file name without labels (expected {id}_{target}_{bias}.png, e.g. 123_4_4.png)");
  // The number of classes is inferred from the labels, and the model's last layer sized by it.
  BIASCKA_CHECK(s.target < kMaxClasses && s.bias < kMaxClasses, path, ": label ", std::max(s.target, s.bias),
                " is implausible (at most ", kMaxClasses, " classes)");
  return s;
}

Split scan_split(const std::string& dir, int64_t num_classes) {
  BIASCKA_CHECK(fs::is_directory(dir), dir, ": split folder not found");
  Split split;
  split.dir = dir;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    BIASCKA_CHECK(!ec, dir, ": cannot list (", ec.message(), ")");
    // Skip hidden entries (e.g. a generator's unfinished .tmp folders).
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !is_image_file(it->path().string())) continue;
    split.samples.push_back(parse_sample_name(it->path().string()));
  }
  BIASCKA_CHECK(!ec, dir, ": cannot list (", ec.message(), ")");
  BIASCKA_CHECK(!split.samples.empty(), dir,
                ": empty split (no .png/.jpg images named {id}_{target}_{bias} under it)");
  finish(split, num_classes);
  return split;
}

Split train_split(const std::string& pct_dir, int64_t num_classes) {
  BIASCKA_CHECK(fs::is_directory(pct_dir), pct_dir, ": dataset folder not found");
  const fs::path align = fs::path(pct_dir) / "align", conflict = fs::path(pct_dir) / "conflict";
  const bool has_a = fs::is_directory(align), has_c = fs::is_directory(conflict);
  BIASCKA_CHECK(has_a && has_c, pct_dir, ": missing ",
                !has_a && !has_c ? "align/ and conflict/"
                : has_a          ? "conflict/"
                                 : "align/",
                " (a training folder holds align/ and conflict/; point --data at e.g. cmnist/5pct)");
  Split a = scan_split(align.string());
  Split c = scan_split(conflict.string());
  Split out;
  out.dir = pct_dir;
  out.samples = std::move(a.samples);
  out.samples.insert(out.samples.end(), c.samples.begin(), c.samples.end());
  finish(out, num_classes);
  if (num_classes == 0) check_every_class_present(out);
  return out;
}

std::string find_valid_dir(const std::string& pct_dir) {
  for (const fs::path& p : {fs::path(pct_dir) / "valid", parent_of(pct_dir) / "valid"})
    if (fs::is_directory(p)) return p.string();
  return "";
}

std::string find_test_dir(const std::string& pct_dir) {
  for (const fs::path& p : {parent_of(pct_dir) / "test", fs::path(pct_dir) / "test"})
    if (fs::is_directory(p)) return p.string();
  return "";
}

Split valid_split(const std::string& pct_dir, int64_t num_classes) {
  const std::string dir = find_valid_dir(pct_dir);
  BIASCKA_CHECK(!dir.empty(), pct_dir, ": missing valid split (looked for ",
                (fs::path(pct_dir) / "valid").string(), " and ", (parent_of(pct_dir) / "valid").string(),
                ")");
  return scan_split(dir, num_classes);
}

std::optional<Split> test_split(const std::string& pct_dir, int64_t num_classes) {
  const std::string dir = find_test_dir(pct_dir);
  if (dir.empty()) return std::nullopt;
  return scan_split(dir, num_classes);
}

}  // namespace biascka::data
