#pragma once
// Numbers for the paper's qualitative claims about a layer-by-layer CKA matrix, as pure functions (no I/O).
//
// spearman(x, y): Spearman's rank correlation, the Pearson correlation of the ranks (Spearman 1904; the
//   definition of scipy.stats.spearmanr). Tied values get the mean of the ranks they span ("average"
//   ranking, as scipy). Pairs where x or y is NaN or infinite are dropped first. NaN when fewer than 2 pairs
//   remain or either rank vector is constant (the correlation is undefined, as scipy returns nan).
//
// depth_decay(M): spearman(|i - j|, M[i][j]) over the off-diagonal cells i < j of an L x L matrix (the upper
//   triangle: a self-CKA matrix is symmetric, and each pair counts once). The distances are heavily tied
//   (L - d cells have distance d): average ranks handle that. Cells that are NaN (a zero-variance layer) are
//   dropped with their distance. Negative: similarity falls with the distance between layers, the decay
//   Kornblith et al. (2019, "Similarity of neural network representations revisited", Fig. 4) and the
//   paper's Figure 1 show along the diagonal; near 0: no decay (e.g. one large block).
//
// block_index(M, tau): the block structure of Nguyen, Raghu & Kornblith (2021, "Do wide and deep networks
//   learn the same things? Uncovering how neural network representations vary with width and depth",
//   ICLR): a large set of consecutive layers whose representations are all highly similar to each other,
//   seen as a bright square on the CKA matrix's diagonal. Made precise: the longest run of consecutive
//   layers [begin, end) in which every pair (i, j) has M[i][j] >= tau and M[j][i] >= tau (NaN fails), as a
//   fraction of the depth L; runs of one layer do not count (self-CKA is 1 by construction), so a matrix
//   without any similar pair of neighbours gives 0 and an all-ones matrix gives 1. The run may lie
//   anywhere (its position is returned: Nguyen et al. find it in the later layers; `begin` says whether
//   it is). Mutual similarity, not similarity to one anchor layer, is what makes it a block. The earliest
//   of equally long runs is returned. tau = 0.9 by default: Nguyen et al.'s blocks are the regions where
//   CKA stays near 1 while it falls well below elsewhere; the threshold is a parameter, and the tests
//   check the planted block is found for any tau between its inside and outside values.
//
// probe_crossing(target, bias): for two per-layer vectors, the CKA of each layer with the target label and
//   with the bias label (linear CKA between the layer and a one-hot label, as in Kornblith et al. 2019's
//   probe use), the first layer i with bias[i] < target[i]: where the representation stops being more
//   aligned with the shortcut than with the task. Layers where either value is NaN are skipped; nullopt
//   ("never") when no layer qualifies. Layer 0 qualifies like any other.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace biascka::cka {

// A square matrix, row-major, n x n.
struct SquareMatrix {
  int64_t n = 0;
  std::vector<double> values;
  double at(int64_t i, int64_t j) const { return values[static_cast<size_t>(i * n + j)]; }
};

// Average ranks (1-based; ties get the mean of the ranks they span) of finite values.
std::vector<double> average_ranks(const std::vector<double>& v);

double spearman(const std::vector<double>& x, const std::vector<double>& y);

double depth_decay(const SquareMatrix& m);

struct BlockStructure {
  double fraction = 0;         // length / n, 0 when no run of two or more layers qualifies
  int64_t begin = 0, end = 0;  // the run [begin, end); begin == end when none
};
inline constexpr double kDefaultBlockThreshold = 0.9;
BlockStructure block_index(const SquareMatrix& m, double threshold = kDefaultBlockThreshold);

std::optional<size_t> probe_crossing(const std::vector<double>& target, const std::vector<double>& bias);

}  // namespace biascka::cka
