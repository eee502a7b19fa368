#pragma once
// Progress of long work: a live bar (epoch, batch, loss, accuracy, images/s, ETA) when stderr is a
// terminal, a plain line every few seconds otherwise (logs), nothing with --quiet.
#include <chrono>
#include <cstdint>
#include <string>

#include "engine/printable.h"

namespace biascka::workflows {

enum class ProgressMode { Auto, Bar, Lines, Quiet };

class Progress {
 public:
  Progress(std::string label, int64_t total, ProgressMode mode);
  // `done` items of `total` processed; `items` counts images for the rate; `detail` e.g. "loss 0.31
  // acc 92.1%".
  void update(int64_t done, int64_t images, const std::string& detail);
  // Whether update(done, ...) would print now: callers skip computing an expensive detail otherwise.
  bool due(int64_t done) const;
  // Ends the bar (newline) and prints `line` unless quiet.
  void finish(const std::string& line);
  static bool quiet(ProgressMode m) { return m == ProgressMode::Quiet; }

 private:
  std::string label_;
  int64_t total_;
  ProgressMode mode_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool printed_bar_ = false;
};

// Prints a line to stderr unless quiet (a message that must not disturb stdout's results).
void note(ProgressMode mode, const std::string& line);

// Prints "biascka: warning: LINE" to stderr, also when quiet (a warning is not progress).
void warn(const std::string& line);

// A report of several lines (data check's table): each line printed through printable(), unless quiet.
void note_block(ProgressMode mode, const std::string& text);

using ::biascka::printable;  // engine/printable.h

}  // namespace biascka::workflows
