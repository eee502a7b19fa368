#include "data/cifar10c.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "data/cifar10.h"
#include "data/corruption_ops.h"
#include "data/corruptions.h"
#include "data/image_io.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/parallel.h"

namespace biascka::data {

namespace fs = std::filesystem;
using corruption::mix64;

std::string pct_folder(double pct) {
  std::ostringstream os;
  os << pct << "pct";
  return os.str();
}

namespace {

// One corrupted image and every file it is written to (an image aligned under every pct is the same
// bytes in each, so it is corrupted and encoded once).
struct Job {
  bool test = false;
  int64_t index = 0;  // into the CIFAR train or test set
  int target = 0, bias = 0;
  std::vector<std::string> paths;
};

// Seeded Fisher-Yates shuffle of the indices of one class.
std::vector<int64_t> shuffled(std::vector<int64_t> v, uint64_t seed) {
  corruption::Rng rng(seed);
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.next_u64() % i)]);
  return v;
}

std::vector<std::vector<int64_t>> by_class(const std::vector<int64_t>& labels, int64_t n) {
  std::vector<std::vector<int64_t>> out(kCifarClasses);
  for (int64_t i = 0; i < n; ++i) out[labels[i]].push_back(i);
  return out;
}

class Planner {
 public:
  explicit Planner(fs::path root) : root_(std::move(root)) {}

  void add(bool test, int64_t index, int target, int bias, const fs::path& folder) {
    const auto key = std::make_tuple(test, index, bias);
    auto [it, fresh] = where_.try_emplace(key, jobs_.size());
    if (fresh) jobs_.push_back(Job{test, index, target, bias, {}});
    const fs::path dir = root_ / folder / std::to_string(target);
    dirs_.insert(dir.string());
    jobs_[it->second].paths.push_back(
        (dir / (std::to_string(index) + "_" + std::to_string(target) + "_" + std::to_string(bias) + ".png"))
            .string());
    ++files_;
  }
  std::vector<Job>& jobs() { return jobs_; }
  const std::set<std::string>& dirs() const { return dirs_; }
  int64_t files() const { return files_; }

 private:
  fs::path root_;
  std::vector<Job> jobs_;
  std::map<std::tuple<bool, int64_t, int>, size_t> where_;
  std::set<std::string> dirs_;
  int64_t files_ = 0;
};

void check_options(const Cifar10cOptions& o) {
  BIASCKA_CHECK(!o.out_root.empty(), "make_cifar10c: no output folder given");
  BIASCKA_CHECK(o.severity >= 1 && o.severity <= 5, "make_cifar10c: severity ", o.severity,
                " is not in 1..5");
  BIASCKA_CHECK(o.valid_fraction >= 0 && o.valid_fraction < 1, "make_cifar10c: valid fraction ",
                o.valid_fraction, " is not in [0, 1)");
  BIASCKA_CHECK(!o.pcts.empty(), "make_cifar10c: no conflicting percentages given");
  for (double p : o.pcts)
    BIASCKA_CHECK(p > 0 && p < 100, "make_cifar10c: conflicting percentage ", p, " is not in (0, 100)");
}

// Each unique image is corrupted and written once, without an fsync (make_cifar10c syncs the filesystem
// once before its rename); its other paths (the same aligned image in every pct, the same valid image in
// every pct) are hard links to it (a copy where the file system has none): 250 MB instead of 985 MB.
void write_images(const std::vector<Job>& jobs, const CifarSet& train, const CifarSet& test,
                  const Cifar10cOptions& o) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      try {
        const Job& job = jobs[i];
        const CifarSet& src = job.test ? test : train;
        // Deterministic per (seed, split, image index).
        const uint64_t seed =
            mix64(o.seed ^ mix64((job.test ? 0x7E57ull << 40 : 0) + static_cast<uint64_t>(job.index)));
        const std::vector<uint8_t> img = corrupt(src.image(job.index), kCifarSide, kCifarSide,
                                                 corruption_from_index(job.bias), o.severity, seed);
        Image out;
        out.width = out.height = kCifarSide;
        out.pixels = img;
        write_png(job.paths[0], out);
        for (size_t p = 1; p < job.paths.size(); ++p) {
          std::error_code ec;
          fs::create_hard_link(job.paths[0], job.paths[p], ec);
          if (ec) fs::copy_file(job.paths[0], job.paths[p], fs::copy_options::overwrite_existing, ec);
          BIASCKA_CHECK(!ec, job.paths[p], ": cannot write (", ec.message(), ")");
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = jobs.size();  // stop the other workers early
      }
    }
  };
  const int workers = cpu_threads();
  std::vector<std::thread> pool;
  for (int t = 0; t < workers; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

void make_cifar10c(const Cifar10cOptions& o) {
  check_options(o);
  const fs::path final_dir = fs::path(o.out_root) / "cifar10c";
  const fs::path tmp_dir = fs::path(o.out_root) / "cifar10c.partial";
  BIASCKA_CHECK(!fs::exists(final_dir), final_dir.string(), ": already exists (remove it to regenerate)");

  const std::string cifar_dir = find_cifar10_dir(o.cifar_dir);
  const CifarSet train = read_cifar10(cifar_dir, true);
  const CifarSet test = read_cifar10(cifar_dir, false);
  const int64_t n_train = o.max_train > 0 ? std::min(o.max_train, train.size()) : train.size();

  Planner plan(tmp_dir);
  const auto train_classes = by_class(train.labels, n_train);
  for (int k = 0; k < kCifarClasses; ++k) {
    const auto perm = shuffled(train_classes[k], mix64(o.seed ^ mix64(1000 + k)));
    const auto n_valid = static_cast<size_t>(std::llround(perm.size() * o.valid_fraction));
    // valid: corruptions in turn, starting at the class's own so small sets stay balanced across classes
    for (size_t j = 0; j < n_valid; ++j)
      for (double pct : o.pcts)
        plan.add(false, perm[j], k, static_cast<int>((j + k) % kNumCorruptions),
                 fs::path(pct_folder(pct)) / "valid");
    // train: the first round(n * pct%) of the class's shuffled images conflict, taking the 9 other
    // corruptions in turn; the conflicting sets are nested, so smaller pcts reuse the same images.
    const size_t n_class = perm.size() - n_valid;
    for (double pct : o.pcts) {
      const auto n_conflict = static_cast<size_t>(std::llround(n_class * pct / 100.0));
      for (size_t j = 0; j < n_class; ++j) {
        const bool conflict = j < n_conflict;
        const int other = static_cast<int>(j % (kNumCorruptions - 1));
        const int bias = conflict ? (other >= k ? other + 1 : other) : k;
        plan.add(false, perm[n_valid + j], k, bias,
                 fs::path(pct_folder(pct)) / (conflict ? "conflict" : "align"));
      }
    }
  }
  const auto test_classes = by_class(test.labels, test.size());
  for (int k = 0; k < kCifarClasses; ++k) {
    const auto perm = shuffled(test_classes[k], mix64(o.seed ^ mix64(2000 + k)));
    for (size_t j = 0; j < perm.size(); ++j)
      plan.add(true, perm[j], k, static_cast<int>((j + k) % kNumCorruptions), "test");
  }

  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  BIASCKA_CHECK(!ec, tmp_dir.string(), ": cannot remove the leftover of an interrupted run (", ec.message(),
                ")");
  for (const std::string& d : plan.dirs()) {
    fs::create_directories(d, ec);
    BIASCKA_CHECK(!ec, d, ": cannot create folder (", ec.message(), ")");
  }

  write_images(plan.jobs(), train, test, o);

  nlohmann::json manifest = {{"dataset", "cifar10c"},
                             {"protocol", "LfF Type0: class k gets corruption k"},
                             {"corruptions", nlohmann::json::array()},
                             {"severity", o.severity},
                             {"pcts", o.pcts},
                             {"valid_fraction", o.valid_fraction},
                             {"seed", o.seed},
                             {"train_images_used", n_train},
                             {"files", plan.files()},
                             {"unique_images", plan.jobs().size()}};
  for (int k = 0; k < kNumCorruptions; ++k)
    manifest["corruptions"].push_back(corruption_name(corruption_from_index(k)));
  write_text_atomic((tmp_dir / "manifest.json").string(), manifest.dump(2) + "\n");
  sync_filesystem(
      tmp_dir.string());  // the images are on disk before the rename makes the folder look complete
  fs::rename(tmp_dir, final_dir, ec);
  BIASCKA_CHECK(!ec, final_dir.string(), ": cannot rename ", tmp_dir.string(), " into place (", ec.message(),
                ")");
}

}  // namespace biascka::data
