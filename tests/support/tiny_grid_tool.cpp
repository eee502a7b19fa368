// tiny_grid_tool DATA_ROOT: builds the tiny dataset under DATA_ROOT (once) and prints, on one line, the
// `biascka reproduce` flags of the tiny grid (tiny_grid.h; workers and threads are the caller's), for tests
// that drive the program from a shell (tests/test_slurm.sh): `biascka reproduce --data-root DATA_ROOT --out
// DIR $(tiny_grid_tool DATA_ROOT)` runs the grid tests/test_reproduce.cpp runs in process. No flag contains
// white space (checked), so the line can be split on spaces.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_grid.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tiny_grid_tool DATA_ROOT\n");
    return 2;
  }
  try {
    biascka::test::tiny_cmnist(argv[1]);
    const biascka::workflows::ReproduceOptions o = biascka::test::tiny_grid(argv[1], "");
    const std::vector<std::string> flags = biascka::workflows::grid_flags(o);
    std::string line;
    for (const std::string& f : flags) {
      if (f.empty() || f.find_first_of(" \t\n") != std::string::npos) {
        std::fprintf(stderr, "tiny_grid_tool: flag '%s' cannot be passed on a space-separated line\n",
                     f.c_str());
        return 1;
      }
      line += (line.empty() ? "" : " ") + f;
    }
    std::printf("%s\n", line.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tiny_grid_tool: %s\n", e.what());
    return 1;
  }
  return 0;
}
