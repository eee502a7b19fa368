// biascka: train ResNet18 on biased image data with different objectives and compare its layers with CKA.
#include <cstdio>
#include <exception>

#include "apps/cmd_cka.h"
#include "apps/cmd_data.h"
#include "apps/commands.h"
#include "engine/error.h"

int main(int argc, char** argv) {
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
  biascka::app::add_reproduce_command(app, argc, argv);
  biascka::app::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a command that stopped on purpose (Ctrl-C: 130)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help and --version exit 0; usage errors 2
  } catch (const biascka::Error& e) {
    std::fprintf(stderr, "biascka: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "biascka: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
