// The tape: reverse topological order, accumulation into shared inputs and into leaves, NoGrad, errors.

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/random.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

Tensor sum_all(const Tensor& t) {  // sum via a ones-weighted 1x1 linear map
  return linear(t.reshape({1, t.numel()}), Tensor::full({1, t.numel()}, 1.0), Tensor()).reshape({});
}

TEST(Autograd, DiamondAccumulatesBothPaths) {
  Tensor x = rand_normal({2, 3}, 0, 1, 1).set_requires_grad(true);
  Tensor a = scale(x, 2.f), b = scale(x, 3.f);
  Tensor y = sum_all(add(a, add(b, a)));  // d/dx = 2 + 3 + 2 = 7
  y.backward();
  for (float g : x.grad().to_vector()) EXPECT_FLOAT_EQ(g, 7.f);
}

TEST(Autograd, LeafGradientsAccumulateAcrossBackwardsUntilZeroed) {
  Tensor x = rand_normal({4}, 0, 1, 2).set_requires_grad(true);
  sum_all(scale(x, 2.f)).backward();
  sum_all(scale(x, 3.f)).backward();
  for (float g : x.grad().to_vector()) EXPECT_FLOAT_EQ(g, 5.f);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, AliasedGradientsAreNotCorrupted) {
  // add() hands the same gradient tensor to both inputs; later accumulation into one must not change the
  // other.
  Tensor x = rand_normal({3}, 0, 1, 3).set_requires_grad(true),
         w = rand_normal({3}, 0, 1, 4).set_requires_grad(true);
  Tensor s = add(x, w);
  Tensor y = sum_all(add(s, scale(x, 4.f)));
  y.backward();
  for (float g : x.grad().to_vector()) EXPECT_FLOAT_EQ(g, 5.f);
  for (float g : w.grad().to_vector()) EXPECT_FLOAT_EQ(g, 1.f);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = rand_normal({3}, 0, 1, 5).set_requires_grad(true);
  {
    NoGrad ng;
    Tensor y = scale(x, 2.f);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
  }
  EXPECT_TRUE(scale(x, 2.f).grad_fn());
}

TEST(Autograd, ReshapeIsDifferentiableAndErrorsAreClear) {
  Tensor x = rand_normal({2, 6}, 0, 1, 6).set_requires_grad(true);
  sum_all(scale(x.reshape({3, -1}), 2.f)).backward();
  EXPECT_EQ(x.grad().shape(), (Shape{2, 6}));
  EXPECT_THROW(x.reshape({5, 2}), Error);
  EXPECT_THROW(Tensor::zeros({2}).backward(), Error);  // no grad required
  Tensor z = rand_normal({2}, 0, 1, 7).set_requires_grad(true);
  EXPECT_THROW(scale(z, 1.f).backward(), Error);  // non-scalar without a gradient
}

}  // namespace
}  // namespace biascka
