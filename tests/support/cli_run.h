#pragma once
// Running the `biascka` program from a test, as a user would: the exit status (or the signal that ended
// it), its output, and processes that run in the background to be signalled. The program is
// $BIASCKA_EXE when set (to run a suite against another build, e.g. the code before a fix), else the
// build's bin/biascka.
#include <sys/types.h>

#include <string>
#include <vector>

namespace biascka::test {

std::string biascka_exe();

struct CliResult {
  int code = -1;       // exit status; -1 when ended by a signal
  int signal = 0;      // the signal that ended it, 0 when it exited
  std::string output;  // stdout and stderr together
  int lines() const;   // lines of output
};

// Runs `PREFIX biascka ARGS` in a shell (quote paths with spaces yourself; PREFIX e.g. "timeout 60 ") and
// waits for it.
CliResult run_biascka(const std::string& args, const std::string& prefix = "");

// A `biascka` process in the background, its output going to a file.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args);  // argv after the program name
  ~Background();                                              // kills it (SIGKILL) if still running
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  bool running() { return !ended(); }
  CliResult wait();  // until it ends
  // Polls until `done()` holds or the process ends; false when it ended first (or after 300 s).
  template <class F>
  bool wait_until(F done) {
    for (int i = 0; i < 300000; ++i) {
      if (ended()) return false;  // first: a process that has exited may still look alive in /proc
      if (done()) return true;
      pause_ms(1);
    }
    return false;
  }

 private:
  bool ended();
  static void pause_ms(int ms);
  pid_t pid_ = -1;
  std::string log_;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace biascka::test
