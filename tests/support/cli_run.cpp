#include "tests/support/cli_run.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>

#include "engine/io/atomic_file.h"

extern char** environ;

namespace biascka::test {

namespace {
CliResult from_status(int status, std::string output) {
  CliResult r;
  r.output = std::move(output);
  if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}
}  // namespace

std::string biascka_exe() {
  const char* env = std::getenv("BIASCKA_EXE");
  return env && *env ? env : std::string(BIASCKA_BINARY_DIR) + "/bin/biascka";
}

int CliResult::lines() const { return static_cast<int>(std::count(output.begin(), output.end(), '\n')); }

CliResult run_biascka(const std::string& args, const std::string& prefix) {
  const std::string cmd = prefix + biascka_exe() + " " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = p ? pclose(p) : -1;
  return from_status(status, out);
}

Background::Background(const std::vector<std::string>& args) {
  static int counter = 0;
  log_ = std::string(BIASCKA_BINARY_DIR) + "/test_tmp/background-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + ".log";
  std::vector<std::string> argv_s = {biascka_exe()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

Background::~Background() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Background::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

bool Background::ended() {
  if (reaped_) return true;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

void Background::pause_ms(int ms) {
  const timespec t{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, nullptr);
}

CliResult Background::wait() {
  if (!reaped_ && pid_ > 0) {
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  std::string out;
  try {
    out = read_file(log_);
  } catch (...) {
  }
  return from_status(status_, out);
}

}  // namespace biascka::test
