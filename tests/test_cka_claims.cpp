// The claim metrics of cka/claims.h on inputs whose answer is known by hand: Spearman with ties and NaN,
// depth decay of a 3 x 3 matrix, the block index on synthetic matrices with a planted block, no block and
// all ones, and the probe crossing.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <vector>

#include "cka/claims.h"
#include "engine/error.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

using cka::SquareMatrix;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(CkaClaims, AverageRanksShareTies) {
  const std::vector<double> r = cka::average_ranks({3, 1, 2, 2, 5});
  EXPECT_EQ(r, (std::vector<double>{4, 1, 2.5, 2.5, 5}));
}

TEST(CkaClaims, SpearmanWithTiesMatchesTheHandValue) {
  // ranks x = (1, 2.5, 2.5, 4), ranks y = (1, 3, 2, 4): Pearson of the ranks = 4.5 / sqrt(4.5 * 5) =
  // 3/sqrt(10) (scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138).
  EXPECT_NEAR(cka::spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 3 / std::sqrt(10.0), 1e-15);
  // A NaN on either side drops the pair; monotone decreasing data gives -1 exactly.
  EXPECT_NEAR(cka::spearman({1, 2, kNaN, 3, 4}, {10, 5, 1, 2, kNaN}), -1.0, 1e-15);
  EXPECT_TRUE(std::isnan(cka::spearman({1, 1, 1}, {1, 2, 3})));  // constant: undefined
  EXPECT_TRUE(std::isnan(cka::spearman({1}, {2})));
  EXPECT_THROW(cka::spearman({1, 2}, {1}), Error);
}

TEST(CkaClaims, DepthDecayOfAHandMatrix) {
  // Off-diagonal cells (0,1) = 0.9, (1,2) = 0.8, (0,2) = 0.5: distances (1, 1, 2) ranked (1.5, 1.5, 3),
  // CKA ranked (3, 2, 1): rho = -1.5 / sqrt(1.5 * 2) = -sqrt(3)/2. The lower triangle is not read.
  const SquareMatrix m{3, {1, 0.9, 0.5, -7, 1, 0.8, -7, -7, 1}};
  EXPECT_NEAR(cka::depth_decay(m), -std::sqrt(3.0) / 2, 1e-15);
  // CKA falling strictly with distance (1 / (1 + |i - j|)): perfect decay, with the distances' ties.
  SquareMatrix d{6, std::vector<double>(36)};
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j) d.values[i * 6 + j] = 1.0 / (1.0 + std::abs(static_cast<double>(i - j)));
  EXPECT_NEAR(cka::depth_decay(d), -1.0, 1e-12);
  EXPECT_THROW(cka::depth_decay(SquareMatrix{3, {1, 2}}), Error);
}

// n x n with `background` off the diagonal, 1 on it, and `inside` on the block [b, e).
SquareMatrix planted(int64_t n, int64_t b, int64_t e, double background, double inside) {
  SquareMatrix m{n, std::vector<double>(static_cast<size_t>(n * n), background)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i >= b && i < e && j >= b && j < e) m.values[i * n + j] = inside;
      if (i == j) m.values[i * n + j] = 1;
    }
  return m;
}

TEST(CkaClaims, BlockIndexFindsThePlantedBlock) {
  for (double tau : {0.5, 0.8, 0.9}) {  // anywhere between the outside (0.3) and inside (0.95) values
    const cka::BlockStructure s = cka::block_index(planted(20, 12, 18, 0.3, 0.95), tau);
    EXPECT_EQ(s.begin, 12) << tau;
    EXPECT_EQ(s.end, 18) << tau;
    EXPECT_DOUBLE_EQ(s.fraction, 6.0 / 20) << tau;
  }
  // Above the block's value it is gone.
  EXPECT_EQ(cka::block_index(planted(20, 12, 18, 0.3, 0.95), 0.97).fraction, 0);
  // A block at the start is found too, and the longer of two blocks wins.
  SquareMatrix two = planted(30, 2, 6, 0.2, 0.92);
  for (int64_t i = 20; i < 29; ++i)
    for (int64_t j = 20; j < 29; ++j) two.values[i * 30 + j] = std::max(two.values[i * 30 + j], 0.93);
  const cka::BlockStructure s = cka::block_index(two);
  EXPECT_EQ(s.begin, 20);
  EXPECT_EQ(s.end, 29);
  // One cell of the block below the threshold (or NaN) splits it: the longer part remains.
  SquareMatrix broken = planted(20, 12, 18, 0.3, 0.95);
  broken.values[16 * 20 + 13] = kNaN;  // pair (13, 16), lower triangle: no run may hold both
  const cka::BlockStructure b = cka::block_index(broken);
  EXPECT_EQ(b.begin, 12);  // [12, 16) and [14, 18) are equally long: the earliest
  EXPECT_EQ(b.end, 16);
  broken.values[16 * 20 + 13] = 0.95;
  broken.values[12 * 20 + 14] = 0.5;  // pair (12, 14) below tau: [13, 18) is left
  EXPECT_EQ(cka::block_index(broken).begin, 13);
  EXPECT_EQ(cka::block_index(broken).end, 18);
}

TEST(CkaClaims, BlockIndexIsZeroWithoutABlockAndOneForAllOnes) {
  // Decaying similarity with no pair of layers above 0.9 except each layer with itself.
  SquareMatrix decay{12, std::vector<double>(144)};
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 12; ++j) decay.values[i * 12 + j] = i == j ? 1 : 0.8 / (1 + std::abs(i - j));
  const cka::BlockStructure none = cka::block_index(decay);
  EXPECT_EQ(none.fraction, 0);
  EXPECT_EQ(none.begin, none.end);
  const SquareMatrix ones{7, std::vector<double>(49, 1.0)};
  const cka::BlockStructure all = cka::block_index(ones);
  EXPECT_EQ(all.fraction, 1.0);
  EXPECT_EQ(all.begin, 0);
  EXPECT_EQ(all.end, 7);
  EXPECT_EQ(cka::block_index(SquareMatrix{}).fraction, 0);
}

TEST(CkaClaims, ProbeCrossing) {
  EXPECT_EQ(cka::probe_crossing({0.1, 0.2, 0.5, 0.9}, {0.8, 0.6, 0.4, 0.1}), std::optional<size_t>(2));
  EXPECT_EQ(cka::probe_crossing({0.1, 0.2}, {0.8, 0.6}), std::nullopt);  // never
  EXPECT_EQ(cka::probe_crossing({0.9, 0.1}, {0.1, 0.8}), std::optional<size_t>(0));
  EXPECT_EQ(cka::probe_crossing({kNaN, 0.1, 0.7}, {0.0, 0.2, 0.6}), std::optional<size_t>(2));  // NaN skipped
  EXPECT_EQ(cka::probe_crossing({0.5}, {0.5}), std::nullopt);  // equal is not below
  EXPECT_THROW(cka::probe_crossing({0.5}, {}), Error);
}

}  // namespace
}  // namespace biascka
