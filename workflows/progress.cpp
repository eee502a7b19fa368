#include "workflows/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace biascka::workflows {

namespace {
std::string duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, ProgressMode mode)
    : label_(std::move(label)), total_(total), mode_(mode) {
  if (mode_ == ProgressMode::Auto) mode_ = isatty(fileno(stderr)) ? ProgressMode::Bar : ProgressMode::Lines;
  start_ = last_print_ = std::chrono::steady_clock::now();
}

bool Progress::due(int64_t done) const {
  if (mode_ == ProgressMode::Quiet) return false;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_print_).count();
  return done >= total_ || since >= (mode_ == ProgressMode::Bar ? 0.25 : 10.0);
}

void Progress::update(int64_t done, int64_t images, const std::string& detail) {
  if (!due(done)) return;
  const auto now = std::chrono::steady_clock::now();
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? images / elapsed : 0;
  const double eta = done > 0 ? elapsed * (total_ - done) / done : 0;
  if (mode_ == ProgressMode::Bar) {
    constexpr int kWidth = 24;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld %s %.0f img/s ETA %s\033[K", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), detail.c_str(), rate,
                 duration(eta).c_str());
    printed_bar_ = true;
  } else {
    std::fprintf(stderr, "%s %lld/%lld %s %.0f img/s ETA %s\n", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), detail.c_str(), rate, duration(eta).c_str());
  }
  std::fflush(stderr);
}

void Progress::finish(const std::string& line) {
  if (mode_ == ProgressMode::Quiet) return;
  if (printed_bar_) std::fprintf(stderr, "\r\033[K");
  if (!line.empty()) std::fprintf(stderr, "%s\n", printable(line).c_str());
  std::fflush(stderr);
}

void note(ProgressMode mode, const std::string& line) {
  if (mode == ProgressMode::Quiet) return;
  std::fprintf(stderr, "%s\n", printable(line).c_str());
  std::fflush(stderr);
}

void note_block(ProgressMode mode, const std::string& text) {
  if (mode == ProgressMode::Quiet) return;
  size_t from = 0;
  while (from < text.size()) {
    const size_t to = std::min(text.find('\n', from), text.size());
    std::fprintf(stderr, "%s\n", printable(text.substr(from, to - from)).c_str());
    from = to + 1;
  }
  std::fflush(stderr);
}

void warn(const std::string& line) {
  std::fprintf(stderr, "biascka: warning: %s\n", printable(line).c_str());
  std::fflush(stderr);
}

}  // namespace biascka::workflows
