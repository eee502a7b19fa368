#pragma once
// CPU parallel loops. OpenMP underneath; a loop too small to pay for the fork runs serially.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace biascka {

inline int cpu_threads() { return omp_get_max_threads(); }
void set_cpu_threads(int n);  // 0 = all cores

// How many chunks parallel_chunks splits [0, n) into: at most one per thread, each >= grain elements.
inline int chunk_count(int64_t n, int64_t grain) {
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  return static_cast<int>(std::min<int64_t>(cpu_threads(), max_chunks));
}

// Calls f(chunk, begin, end) for chunk_count(n, grain) disjoint chunks covering [0, n), one per thread.
// The split depends only on n, grain and the thread count, so per-chunk partial results combined in chunk
// order are reproducible.
template <class F>
void parallel_chunks(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int chunks = chunk_count(n, grain);
  if (chunks <= 1) {
    f(0, int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int t = 0; t < chunks; ++t) f(t, n * t / chunks, n * (t + 1) / chunks);
}

// Calls f(begin, end) on disjoint chunks covering [0, n).
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  parallel_chunks(n, grain, [&](int, int64_t b, int64_t e) { f(b, e); });
}

}  // namespace biascka
