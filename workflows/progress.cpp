#include "workflows/progress.h"

#include <unistd.h>

#include <cstdio>

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

void warn(const std::string& line) {
  std::fprintf(stderr, "biascka: warning: %s\n", printable(line).c_str());
  std::fflush(stderr);
}

namespace {
// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when it is not one (overlong forms, surrogates
// and code points above U+10FFFF included).
size_t utf8_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;  // overlong
  if (n == 3 && ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0)))
    return 0;  // overlong, surrogate
  if (n == 4 && ((c == 0xF0 && b(i + 1) < 0x90) || c > 0xF4 || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;
  return n;
}
}  // namespace

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_length(text, i);
    // C1 controls (U+0080..U+009F) are valid UTF-8 but a terminal may act on them (U+009B is CSI).
    const bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (n > 1 && !c1) {
      out.append(text, i, n);
      i += n;
      continue;
    }
    ++i;
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (n != 1 || c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace biascka::workflows
