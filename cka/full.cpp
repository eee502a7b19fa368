#include "cka/full.h"

#include "engine/error.h"

namespace biascka::cka {

CkaMatrix full_cka(const std::vector<std::string>& names_a, const std::vector<Tensor>& layers_a,
                   const std::vector<std::string>* names_b, const std::vector<Tensor>* layers_b,
                   const CkaOptions& options) {
  BIASCKA_CHECK((names_b == nullptr) == (layers_b == nullptr),
                "full CKA: names and tensors of model B go together");
  MinibatchCka acc(names_a, names_b ? *names_b : std::vector<std::string>{}, options);
  acc.add_batch(layers_a, layers_b);
  BIASCKA_CHECK(acc.batches() == 1, "full CKA of ", acc.samples(), " samples: the ",
                estimator_name(options.estimator), " estimator needs at least ",
                min_batch(options.estimator));
  return acc.result();
}

}  // namespace biascka::cka
