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

extern "C" void on_signal(int sig) {
  int none = 0;
  if (g_deferring.load() > 0 && g_signal.compare_exchange_strong(none, sig)) return;
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
