#include "workflows/option_limits.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "engine/error.h"

namespace biascka::workflows {

int64_t max_cpu_threads() {
  return 4 * std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

void check_range(const std::string& name, int64_t value, int64_t lo, int64_t hi, const std::string& why) {
  if (value >= lo && value <= hi) return;
  fail(name, " ", value, ": must be between ", lo, " and ", hi, why.empty() ? "" : " (" + why + ")");
}

void check_image_options(int64_t image_size, int64_t workers) {
  check_range("--image-size", image_size, 0, kMaxImageSize, "0: the images' own size");
  check_range("--workers", workers, 0, kMaxWorkers, "0: one per core");
}

void check_threads(int64_t threads) {
  check_range("--threads", threads, 0, max_cpu_threads(), "0: one per core; at most 4 per core");
}

Device parse_device(const std::string& name, const std::string& text) {
  try {
    return Device::parse(text);
  } catch (const std::exception&) {  // Error, or std::stoi's out_of_range for "cuda:99999999999"
    fail(name, " ", text, ": not a device (expected cpu, cuda or cuda:N)");
  }
}

void check_batch_memory(const std::string& where, int64_t batch, int64_t image_size) {
  if (image_size <= 0) return;  // native sizes: known only once the first image is read
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return;
  const double memory = static_cast<double>(pages) * static_cast<double>(page);
  const double need = static_cast<double>(batch) * static_cast<double>(image_size) * image_size * 3 * 4;
  const double gib = 1024.0 * 1024 * 1024;
  BIASCKA_CHECK(need < memory, where, "--batch ", batch, " with --image-size ", image_size,
                ": one batch of images alone is ", static_cast<int64_t>(need / gib + 0.5),
                " GiB, more than this "
                "machine's ",
                static_cast<int64_t>(memory / gib + 0.5), " GiB of memory; lower --batch or --image-size");
}

}  // namespace biascka::workflows
