#include "losses/objectives.h"

#include <cstdint>
#include <sstream>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/checks.h"

namespace biascka::losses {

const std::vector<Objective>& objectives() {
  static const std::vector<Objective> all = {
      {"sce", Kind::Sce, "probabilistic", "L_SCE", false, "-log softmax(z)_y"},
      {"bce", Kind::Bce, "probabilistic", "L_BCE", false,
       "(1/C) sum_c -[Y_c log sigmoid(z_c) + (1-Y_c) log(1-sigmoid(z_c))]"},
      {"nll", Kind::Nll, "probabilistic", "L_NLL", true, "-o_y, o = log_softmax(z) the network's last layer"},
      {"l1", Kind::L1, "margin-based", "L_1", false, "sum_c |Y_c - softmax(z)_c|"},
      {"l2", Kind::L2, "margin-based", "L_2", false, "sum_c (Y_c - softmax(z)_c)^2"},
      {"sos", Kind::Sos, "margin-based", "L_SoS", false, "(1/C)[alpha (z_y - beta)^2 + sum_{c!=y} z_c^2]"},
  };
  return all;
}

const Objective& objective(const std::string& name) {
  for (const auto& o : objectives())
    if (name == o.name) return o;
  std::ostringstream names;
  for (const auto& o : objectives()) names << (names.tellp() ? ", " : "") << o.name;
  fail("unknown objective '", name, "' (valid: ", names.str(), ")");
}

std::vector<const Objective*> parse_objectives(const std::string& list) {
  std::vector<const Objective*> out;
  if (list == "all") {
    for (const auto& o : objectives()) out.push_back(&o);
    return out;
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(&objective(item));
  BIASCKA_CHECK(!out.empty(), "no objective in '", list, "'");
  return out;
}

LossResult loss_and_grad(const Objective& obj, const Tensor& input, const Tensor& targets,
                         const ObjectiveParams& params) {
  check_f32(input, obj.name, "input");
  BIASCKA_CHECK(input.dim() == 2 && input.size(0) > 0 && input.size(1) > 0, obj.name,
                ": input must be [B, C], got ", shape_str(input.shape()));
  BIASCKA_CHECK(targets.dtype() == DType::I64 && targets.numel() == input.size(0), obj.name,
                ": targets must be I64 [", input.size(0), "]");
  check_same_device(input, targets, obj.name);
  const int64_t rows = input.size(0), cols = input.size(1);
  LossResult r{Tensor::empty({}, DType::F64, input.device()),
               Tensor::empty(input.shape(), DType::F32, input.device())};
  backend(input.device())
      .objective_loss_grad(obj.kind, params.sos_alpha, params.sos_beta, input.data<float>(),
                           targets.data<int64_t>(), rows, cols, r.grad.data<float>(), r.loss.data<double>());
  return r;
}

}  // namespace biascka::losses
