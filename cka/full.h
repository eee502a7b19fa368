#pragma once
// Full-data CKA: the minibatch computation with every sample in one batch, i.e. Kornblith et al.'s linear
// or RBF CKA (biased centring) or its U-centred (debiased) form. Holds all layers' activations: for data
// that fits in memory; stream larger data through MinibatchCka.
#include <string>
#include <vector>

#include "cka/accumulator.h"

namespace biascka::cka {

// layers_b null: the layers of `layers_a` against themselves.
CkaMatrix full_cka(const std::vector<std::string>& names_a, const std::vector<Tensor>& layers_a,
                   const std::vector<std::string>* names_b = nullptr,
                   const std::vector<Tensor>* layers_b = nullptr, const CkaOptions& options = {});

}  // namespace biascka::cka
