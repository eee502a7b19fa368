#include "losses/objectives.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "engine/error.h"
#include "engine/ops/dispatch.h"

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

namespace cpu {

// Twin of kernels::objective_loss_grad: per row, the loss (double) and dL/dinput (already divided by the
// batch size); returns the sum of the row losses in row order.
double objective_loss_grad(Kind kind, float alpha, float beta, const float* in, const int64_t* targets,
                           int64_t rows, int64_t cols, float* grad) {
  double total = 0;
  const double inv_b = 1.0 / static_cast<double>(rows);
  std::vector<double> p(cols), g(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = in + r * cols;
    float* dz = grad + r * cols;
    const int64_t y = targets[r];
    BIASCKA_CHECK(y >= 0 && y < cols, "objective: target ", y, " of sample ", r, " is outside [0, ", cols,
                  ")");
    double loss = 0;
    switch (kind) {
      case Kind::Nll: {  // input is log-probabilities
        loss = -double(z[y]);
        for (int64_t c = 0; c < cols; ++c) dz[c] = static_cast<float>(c == y ? -inv_b : 0.0);
        break;
      }
      case Kind::Bce: {  // one-vs-rest, mean over classes: softplus(z) - Y z, stable for any z
        const double inv_c = 1.0 / static_cast<double>(cols);
        for (int64_t c = 0; c < cols; ++c) {
          const double v = z[c], t = c == y ? 1.0 : 0.0;
          loss += (std::max(v, 0.0) - v * t + std::log1p(std::exp(-std::fabs(v)))) * inv_c;
          const double sig = v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v));
          dz[c] = static_cast<float>((sig - t) * inv_c * inv_b);
        }
        break;
      }
      case Kind::Sos: {
        const double inv_c = 1.0 / static_cast<double>(cols);
        for (int64_t c = 0; c < cols; ++c) {
          const double v = z[c];
          if (c == y) {
            loss += alpha * (v - beta) * (v - beta) * inv_c;
            dz[c] = static_cast<float>(2.0 * alpha * (v - beta) * inv_c * inv_b);
          } else {
            loss += v * v * inv_c;
            dz[c] = static_cast<float>(2.0 * v * inv_c * inv_b);
          }
        }
        break;
      }
      case Kind::Sce:
      case Kind::L1:
      case Kind::L2: {
        double mx = z[0];
        for (int64_t c = 1; c < cols; ++c) mx = std::max(mx, double(z[c]));
        double s = 0;
        for (int64_t c = 0; c < cols; ++c) s += std::exp(double(z[c]) - mx);
        const double lse = mx + std::log(s);
        for (int64_t c = 0; c < cols; ++c) p[c] = std::exp(double(z[c]) - lse);
        if (kind == Kind::Sce) {
          loss = lse - z[y];
          for (int64_t c = 0; c < cols; ++c) dz[c] = static_cast<float>((p[c] - (c == y)) * inv_b);
          break;
        }
        // dL/dp, then through the softmax: dz = p (g - <g, p>). L1 uses sign(Y - p) as autograd does.
        double gp = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const double d = (c == y ? 1.0 : 0.0) - p[c];
          if (kind == Kind::L1) {
            loss += std::fabs(d);
            g[c] = d > 0 ? -1.0 : d < 0 ? 1.0 : 0.0;
          } else {
            loss += d * d;
            g[c] = -2.0 * d;
          }
          gp += g[c] * p[c];
        }
        for (int64_t c = 0; c < cols; ++c) dz[c] = static_cast<float>(p[c] * (g[c] - gp) * inv_b);
        break;
      }
    }
    total += loss;
  }
  return total;
}

}  // namespace cpu

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
  if (input.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::objective_loss_grad(static_cast<int>(obj.kind), params.sos_alpha,
                                                   params.sos_beta, input.data<float>(),
                                                   targets.data<int64_t>(), rows, cols, r.grad.data<float>(),
                                                   r.loss.data<double>(), BIASCKA_STREAM(input)));
  } else {
    const double total =
        cpu::objective_loss_grad(obj.kind, params.sos_alpha, params.sos_beta, input.data<float>(),
                                 targets.data<int64_t>(), rows, cols, r.grad.data<float>());
    r.loss.data<double>()[0] = total / static_cast<double>(rows);
  }
  return r;
}

}  // namespace biascka::losses
