// biascka: train ResNet18 on biased image data with different objectives and compare its layers with CKA.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/cmd_cka.h"
#include "apps/cmd_data.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "engine/error.h"
#include "workflows/interrupt.h"
#include "workflows/progress.h"

namespace {

// Every error is one line: control characters in names are escaped (a file name cannot forge a line).
int print_error(const std::string& message, int status) {
  std::fprintf(stderr, "biascka: error: %s\n", biascka::workflows::printable(message).c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  // First of all: a Ctrl-C from now on exits 130, at once or after saving (workflows/interrupt.h).
  biascka::workflows::install_interrupt_handlers();
  CLI::App app{
      "biascka: train ResNet18 on biased data with six objectives and compare its layers with CKA.\n"
      "Run `biascka <command> --help` for a command's options and an example."};
  app.name("biascka");
  app.require_subcommand(1);
  app.set_version_flag("--version", BIASCKA_VERSION);
  biascka::app::add_info_command(app);
  biascka::app::add_forward_command(app);
  biascka::app::add_data_command(app);
  biascka::app::add_train_command(app);
  biascka::app::add_eval_command(app);
  biascka::app::add_cka_command(app);
  biascka::app::add_compare_command(app);
  biascka::app::add_reproduce_command(app, argc, argv);
  biascka::app::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a command that stopped on purpose (Ctrl-C: 130)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return print_error(std::string(e.what()) + " (see --help)", 2);
  } catch (const biascka::app::UsageError& e) {
    return print_error(e.what(), 2);
  } catch (const biascka::Error& e) {
    return print_error(e.what(), 1);
  } catch (const std::bad_alloc&) {
    return print_error("out of memory (a smaller --batch, --image-size or --workers needs less)", 1);
  } catch (const std::exception& e) {
    return print_error(e.what(), 1);
  }
  // A signal that came after the last point where the work looked for one: the work is complete, but
  // the user asked to stop, and the status says so.
  if (biascka::workflows::interrupt_requested()) return biascka::workflows::interrupt_exit_code();
  return 0;
}
