#include "workflows/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace biascka::workflows {

namespace {

// Both are read and written from the handler: lock-free atomics are async-signal-safe.
std::atomic<int> g_signal{0};     // the deferred signal, 0 = none
std::atomic<int> g_deferring{0};  // live DeferInterrupts scopes
static_assert(std::atomic<int>::is_always_lock_free);

// One line on stderr so a log (a Slurm task's, say) shows why the process ended. write() is
// async-signal-safe; the messages are fixed strings.
void say_stopped(int sig) {
  static const char kInt[] = "\nbiascka: stopped by Ctrl-C (SIGINT); the files on disk are whole\n";
  static const char kTerm[] = "\nbiascka: stopped by SIGTERM; the files on disk are whole\n";
  const bool term = sig == SIGTERM;
  [[maybe_unused]] const ssize_t n =
      ::write(2, term ? kTerm : kInt, term ? sizeof kTerm - 1 : sizeof kInt - 1);
}

extern "C" void on_signal(int sig) {
  int none = 0;
  if (g_deferring.load() > 0 && g_signal.compare_exchange_strong(none, sig)) return;
  say_stopped(sig);
  _exit(128 + sig);  // nothing to save, or a second signal: at once (see the header)
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupt_requested() { return g_signal.load() != 0; }
int interrupt_exit_code() { return g_signal.load() ? 128 + g_signal.load() : 0; }

DeferInterrupts::DeferInterrupts() { ++g_deferring; }
DeferInterrupts::~DeferInterrupts() { --g_deferring; }

}  // namespace biascka::workflows
