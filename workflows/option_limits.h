#pragma once
// The ranges of the options several commands share, in one place, so that `train`, `eval`, `cka`,
// `reproduce`, `bench` and a resumed run's settings.json apply the same rules before any work.
#include <cstdint>
#include <string>

#include "engine/device.h"

namespace biascka::workflows {

inline constexpr int64_t kMaxImageSize = 4096;  // pixels per side: 4096^2 RGB floats are 200 MB per image
inline constexpr int64_t kMaxWorkers = 256;     // image-loading threads: more than rows in flight is idle
inline constexpr int64_t kMaxBatch = int64_t{1} << 20;

// CPU compute threads: at most 4 per hardware thread (OpenMP spins; beyond that it only slows down, and
// tens of thousands of threads exhaust the machine).
int64_t max_cpu_threads();

// Throws "NAME VALUE: must be between LO and HI[ (WHY)]" (NAME: "--batch", or "RUN/settings.json: batch").
void check_range(const std::string& name, int64_t value, int64_t lo, int64_t hi, const std::string& why = "");

// --image-size, --workers as `eval`, `cka` and `train` take them.
void check_image_options(int64_t image_size, int64_t workers);
// --threads (0: all cores).
void check_threads(int64_t threads);

// --device: "cpu", "cuda" or "cuda:N"; anything else (also "cuda:99999999999") is an error naming `name`.
Device parse_device(const std::string& name, const std::string& text);

// A batch of `batch` float32 RGB images of size x size must fit in this machine's memory (a lower bound of
// what the work needs): "--batch B with --image-size S: one batch of images is N GiB, more than ...".
void check_batch_memory(const std::string& where, int64_t batch, int64_t image_size);

}  // namespace biascka::workflows
