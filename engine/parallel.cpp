#include "engine/parallel.h"

#ifdef BIASCKA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace biascka {

void set_cpu_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
#ifdef BIASCKA_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

}  // namespace biascka
