#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "data/image_io.h"
#include "data/rng.h"
#include "engine/error.h"

namespace biascka::data {
namespace {

enum : uint64_t { kTagSubset = 101, kTagEpoch = 102 };
constexpr int64_t kChunk = 64;    // rows per work item: small enough that all workers share one batch
constexpr int64_t kPrefetch = 2;  // batches decoded ahead of the consumer

}  // namespace

struct Loader::Impl {
  Split split;
  LoaderOptions opts;
  std::vector<int64_t> subset;  // split indices in use; epoch orders are positions into it
  int height = 0, width = 0;
  bool resize = false;
  std::string ref_path;  // the first image, the size every other one must have
  int ref_w = 0, ref_h = 0;
  float lut[3][256];

  // Decoded-image cache, indexed by position in `subset`.
  bool caching = false;
  std::unique_ptr<uint8_t[]> cache;
  std::unique_ptr<std::atomic<uint8_t>[]> cached;

  // Work state, guarded by mu.
  struct Task {
    int64_t batch, begin, end;  // rows [begin, end) of `batch`
  };
  struct Slot {
    Batch batch;
    int64_t remaining = 0;  // tasks not finished yet
  };
  std::mutex mu;
  std::condition_variable cv_work, cv_ready, cv_idle;
  std::vector<int64_t> order;  // positions into subset, this epoch
  std::vector<Task> tasks;
  std::vector<int64_t> tasks_per_batch;
  size_t next_task = 0;
  int64_t consumed = 0, in_flight = 0, num_batches = 0;
  std::map<int64_t, Slot> pending;
  std::exception_ptr error;
  bool stop = false, started = false;
  std::vector<std::thread> threads;

  int64_t image_bytes() const { return static_cast<int64_t>(height) * width * 3; }

  // The 8-bit image at position pos of the subset: the cached copy, or decoded into `scratch`.
  const uint8_t* load(int64_t pos, std::vector<uint8_t>& scratch) {
    uint8_t* slot = caching ? cache.get() + pos * image_bytes() : nullptr;
    if (slot && cached[pos].load(std::memory_order_acquire)) return slot;
    const Sample& s = split.samples[subset[pos]];
    Image img = decode_image(s.path);
    if (resize) {
      img = resize_image(img, width, height);
    } else {
      BIASCKA_CHECK(img.width == ref_w && img.height == ref_h, s.path, ": image of ", img.width, "x",
                    img.height, " in a split whose images are ", ref_w, "x", ref_h, " (like ", ref_path,
                    "); pass --image-size to resize them all");
    }
    if (!slot) {
      scratch = std::move(img.pixels);
      return scratch.data();
    }
    std::memcpy(slot, img.pixels.data(), image_bytes());
    cached[pos].store(1, std::memory_order_release);
    return slot;
  }

  void fill(const Task& t, Batch& b) {
    std::vector<uint8_t> scratch;
    float* images = b.images.data<float>();
    int64_t* targets = b.targets.data<int64_t>();
    int64_t* biases = b.biases.data<int64_t>();
    int64_t* indices = b.indices.data<int64_t>();
    const int64_t n = image_bytes();
    for (int64_t r = t.begin; r < t.end; ++r) {
      const int64_t pos = order[t.batch * opts.batch + r];
      const uint8_t* px = load(pos, scratch);
      float* dst = images + r * n;
      for (int64_t i = 0; i < n; i += 3) {
        dst[i] = lut[0][px[i]];
        dst[i + 1] = lut[1][px[i + 1]];
        dst[i + 2] = lut[2][px[i + 2]];
      }
      const Sample& s = split.samples[subset[pos]];
      targets[r] = s.target;
      biases[r] = s.bias;
      indices[r] = subset[pos];
    }
  }

  void worker() {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv_work.wait(lk, [&] {
        return stop || (!error && next_task < tasks.size() && tasks[next_task].batch < consumed + kPrefetch);
      });
      if (stop) return;
      const Task t = tasks[next_task++];
      Slot& slot = pending[t.batch];
      if (!slot.batch.images.defined()) {
        const int64_t rows =
            std::min<int64_t>(opts.batch, static_cast<int64_t>(order.size()) - t.batch * opts.batch);
        try {
          slot.batch.images = Tensor::empty({rows, height, width, 3}, DType::F32);
          slot.batch.targets = Tensor::empty({rows}, DType::I64);
          slot.batch.biases = Tensor::empty({rows}, DType::I64);
          slot.batch.indices = Tensor::empty({rows}, DType::I64);
        } catch (...) {  // out of memory: reported by next(), never escaping the thread
          if (!error) error = std::current_exception();
          cv_ready.notify_all();
          continue;
        }
        slot.batch.first = t.batch * opts.batch;
        slot.remaining = tasks_per_batch[t.batch];
      }
      ++in_flight;
      lk.unlock();
      std::exception_ptr err;
      try {
        fill(t, slot.batch);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      --in_flight;
      if (err && !error) error = err;
      --slot.remaining;
      cv_ready.notify_all();
      cv_idle.notify_all();
    }
  }
};

Loader::Loader(Split split, LoaderOptions opts) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  BIASCKA_CHECK(opts.batch > 0, split.dir, ": batch size ", opts.batch, " is not positive");
  BIASCKA_CHECK(!split.samples.empty(), split.dir, ": empty split");
  BIASCKA_CHECK(opts.image_size >= 0, split.dir, ": image size ", opts.image_size, " is negative");
  m.split = std::move(split);
  m.opts = std::move(opts);
  const int64_t n = static_cast<int64_t>(m.split.samples.size());
  if (m.opts.max_samples > 0 && m.opts.max_samples < n) {
    const std::vector<int64_t> perm = permutation(n, stream_key(m.opts.seed, kTagSubset));
    m.subset.assign(perm.begin(), perm.begin() + m.opts.max_samples);
    std::sort(m.subset.begin(), m.subset.end());
  } else {
    m.subset.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) m.subset[i] = i;
  }

  m.ref_path = m.split.samples[m.subset[0]].path;
  const Image first = decode_image(m.ref_path);
  m.ref_w = first.width;
  m.ref_h = first.height;
  const int size = m.opts.image_size > 0 ? m.opts.image_size : m.opts.norm.default_image_size;
  m.resize = size > 0;
  m.width = m.resize ? size : first.width;
  m.height = m.resize ? size : first.height;
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) m.lut[c][v] = (v / 255.0f - m.opts.norm.mean[c]) / m.opts.norm.std[c];

  const size_t total = static_cast<size_t>(m.subset.size()) * static_cast<size_t>(m.image_bytes());
  m.caching = total <= m.opts.cache_bytes;
  if (m.caching) {
    m.cache.reset(new uint8_t[total]);
    m.cached.reset(new std::atomic<uint8_t>[m.subset.size()]);
    for (size_t i = 0; i < m.subset.size(); ++i) m.cached[i].store(0, std::memory_order_relaxed);
  }
  const int workers = m.opts.workers > 0 ? m.opts.workers : std::max(1u, std::thread::hardware_concurrency());
  try {
    for (int w = 0; w < workers; ++w) m.threads.emplace_back([&m] { m.worker(); });
  } catch (const std::system_error& e) {  // the system's thread limit: stop the ones started, then report
    {
      std::lock_guard<std::mutex> lk(m.mu);
      m.stop = true;
    }
    m.cv_work.notify_all();
    for (auto& t : m.threads) t.join();
    fail(m.split.dir, ": cannot start ", workers, " image-loading threads (", e.what(), "); lower --workers");
  }
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv_work.notify_all();
  for (auto& t : impl_->threads) t.join();
}

int64_t Loader::size() const { return static_cast<int64_t>(impl_->subset.size()); }
int64_t Loader::batches_per_epoch() const {
  const int64_t n = size(), b = impl_->opts.batch;
  return (n + b - 1) / b - (impl_->opts.drop_last_single && n % b == 1 ? 1 : 0);
}
int Loader::height() const { return impl_->height; }
int Loader::width() const { return impl_->width; }
int64_t Loader::num_classes() const { return impl_->split.num_classes; }
bool Loader::caching() const { return impl_->caching; }
const Split& Loader::split() const { return impl_->split; }
const LoaderOptions& Loader::options() const { return impl_->opts; }

namespace {
std::vector<int64_t> positions(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  if (shuffle) return permutation(n, stream_key(seed, kTagEpoch, static_cast<uint64_t>(epoch)));
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  return p;
}
}  // namespace

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> out;
  for (int64_t pos : positions(size(), impl_->opts.shuffle, impl_->opts.seed, epoch))
    out.push_back(impl_->subset[pos]);
  out.resize(
      static_cast<size_t>(std::min(size(), batches_per_epoch() * impl_->opts.batch)));  // drop_last_single
  return out;
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  Impl& m = *impl_;
  BIASCKA_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(), m.split.dir, ": cannot start epoch ",
                epoch, " at batch ", first_batch, " of ", batches_per_epoch());
  std::unique_lock<std::mutex> lk(m.mu);
  // Stop handing out the old epoch's work and let running tasks finish before their batches go away.
  m.tasks.clear();
  m.next_task = 0;
  m.cv_idle.wait(lk, [&] { return m.in_flight == 0; });
  m.pending.clear();
  m.error = nullptr;
  m.order = positions(size(), m.opts.shuffle, m.opts.seed, epoch);
  m.num_batches = batches_per_epoch();
  m.tasks_per_batch.assign(static_cast<size_t>(m.num_batches), 0);
  for (int64_t b = first_batch; b < m.num_batches; ++b) {
    const int64_t rows = std::min<int64_t>(m.opts.batch, size() - b * m.opts.batch);
    for (int64_t r = 0; r < rows; r += kChunk) {
      m.tasks.push_back({b, r, std::min(rows, r + kChunk)});
      ++m.tasks_per_batch[b];
    }
  }
  m.consumed = first_batch;
  m.started = true;
  lk.unlock();
  m.cv_work.notify_all();
}

bool Loader::next(Batch& out) {
  Impl& m = *impl_;
  if (!m.started) start_epoch(0);
  std::unique_lock<std::mutex> lk(m.mu);
  if (m.consumed >= m.num_batches) return false;
  m.cv_ready.wait(lk, [&] {
    if (m.error) return true;
    auto it = m.pending.find(m.consumed);
    return it != m.pending.end() && it->second.remaining == 0;
  });
  if (m.error) {
    std::exception_ptr e = m.error;
    // Leave the epoch unusable until start_epoch: drop queued work, keep the error for the caller.
    m.tasks.clear();
    m.next_task = 0;
    std::rethrow_exception(e);
  }
  auto it = m.pending.find(m.consumed);
  out = std::move(it->second.batch);
  m.pending.erase(it);
  ++m.consumed;
  lk.unlock();
  m.cv_work.notify_all();
  return true;
}

}  // namespace biascka::data
