// Unbiased (mean over (target, bias) groups) and worst-group accuracy on a hand-made set of groups.
#include <cmath>
#include <cstdint>

#include "engine/error.h"
#include "tests/support/test_support.h"
#include "workflows/group_accuracy.h"

namespace biascka {
namespace {

void add_many(workflows::GroupAccuracy& g, int64_t target, int64_t bias, int correct, int wrong) {
  for (int i = 0; i < correct; ++i) g.add(target, bias, true);
  for (int i = 0; i < wrong; ++i) g.add(target, bias, false);
}

TEST(GroupAccuracy, UnbiasedAndWorstGroupOfHandMadeGroups) {
  workflows::GroupAccuracy g(3);
  add_many(g, 0, 0, 90, 10);  // aligned, 0.9
  add_many(g, 1, 1, 80, 0);   // aligned, 1.0
  add_many(g, 2, 2, 45, 5);   // aligned, 0.9
  add_many(g, 0, 1, 1, 3);    // conflicting, 0.25
  add_many(g, 2, 0, 1, 1);    // conflicting, 0.5
  // Groups (1, 0), (0, 2), (1, 2), (2, 1) are empty and do not count.
  EXPECT_EQ(g.groups_present(), 5);
  EXPECT_NEAR(g.unbiased(), (0.9 + 1.0 + 0.9 + 0.25 + 0.5) / 5, 1e-15);  // 0.71, not the 217/236 of all
  EXPECT_DOUBLE_EQ(g.worst_group(), 0.25);
  EXPECT_EQ(g.total()[0][1], 4);
  EXPECT_EQ(g.correct()[2][0], 1);
}

TEST(GroupAccuracy, EmptyAndOutOfRange) {
  workflows::GroupAccuracy g(2);
  EXPECT_TRUE(std::isnan(g.unbiased()));
  EXPECT_TRUE(std::isnan(g.worst_group()));
  EXPECT_THROW(g.add(2, 0, true), Error);
  EXPECT_THROW(g.add(0, -1, true), Error);
  g.add(1, 0, false);
  EXPECT_EQ(g.unbiased(), 0.0);
  EXPECT_EQ(g.worst_group(), 0.0);
}

}  // namespace
}  // namespace biascka
