#pragma once
// Ctrl-C (SIGINT) and SIGTERM for the whole program: every such signal ends biascka with 128 + its number
// (130 for Ctrl-C, 143 for SIGTERM), never by the signal itself, and never loses finished work.
//
// main() installs the handler before anything else. Outside a DeferInterrupts scope, a signal ends the
// process at once (_exit): nothing worth saving exists, and every file biascka writes is written under a
// temporary name and renamed, so the files on disk are the old ones or the new ones, never half of one.
// Inside a scope (a training run, which can save a mid-epoch checkpoint; the parent of `reproduce --gpus`,
// which passes the signal on to its workers) the first signal only sets a flag. The code in the scope polls
// interrupt_requested(), saves, and returns; main() then exits with interrupt_exit_code(). A second signal
// while it saves ends the process at once, as above: the checkpoint being written is a temporary that
// the next run on that folder removes, and the previous checkpoint is untouched.
namespace biascka::workflows {

// SIGINT and SIGTERM handlers (SA_RESTART: reads and writes in progress are not cut short).
void install_interrupt_handlers();

// Whether a deferred signal has arrived, and the exit status it asks for (0 when none).
bool interrupt_requested();
int interrupt_exit_code();

// While one is alive, the first signal is deferred rather than fatal. Nests.
class DeferInterrupts {
 public:
  DeferInterrupts();
  ~DeferInterrupts();
  DeferInterrupts(const DeferInterrupts&) = delete;
  DeferInterrupts& operator=(const DeferInterrupts&) = delete;
};

}  // namespace biascka::workflows
