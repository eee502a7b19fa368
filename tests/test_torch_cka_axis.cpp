// --layers torch_cka (models/torch_cka_axis.h): the table is the list torch-cka 0.21 itself produced on
// torchvision's resnet18 (bench/peers/torch_cka_axis.tsv, made by bench/peers/torch_cka_axis.py), every
// row is one of our layers, and CKA over that axis repeats layers faithfully: each cell equals the cell of
// the two layers it really is.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "data/disent.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "engine/error.h"
#include "models/resnet18.h"
#include "models/torch_cka_axis.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"
#include "workflows/cka_model.h"

namespace biascka {
namespace {

// The rows of the committed list: (torch-cka's name, our layer), in its order.
std::vector<TorchCkaRow> committed_rows() {
  const std::string path = std::string(BIASCKA_SOURCE_DIR) + "/bench/peers/torch_cka_axis.tsv";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<TorchCkaRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("row\t", 0) == 0) continue;
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      f.push_back(line.substr(start, tab - start));
    f.push_back(line.substr(start));
    EXPECT_EQ(f.size(), 4u) << line;
    if (f.size() != 4) continue;
    EXPECT_EQ(f[0], std::to_string(rows.size())) << line;
    rows.push_back({f[1], f[2]});
  }
  return rows;
}

TEST(TorchCkaAxis, MatchesTheListTorchCkaProduced) {
  const std::vector<std::string> names = ResNet18({}, 0).layer_names();
  const std::vector<TorchCkaRow> want = committed_rows();
  const std::vector<TorchCkaRow> axis = torch_cka_axis(names);
  ASSERT_EQ(want.size(), 68u);
  ASSERT_EQ(axis.size(), want.size());
  for (size_t i = 0; i < axis.size(); ++i) {
    EXPECT_EQ(axis[i].torch_cka, want[i].torch_cka) << "row " << i;
    EXPECT_EQ(axis[i].ours, want[i].ours) << "row " << i;
    EXPECT_NE(std::find(names.begin(), names.end(), axis[i].ours), names.end()) << axis[i].ours;
  }
  std::vector<std::string> ours;
  for (const TorchCkaRow& r : axis) ours.push_back(r.ours);
  EXPECT_EQ(select_layers(names, "torch_cka"), ours);
  std::vector<std::string> distinct = ours;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(distinct.size(), 43u);  // what the header promises: 26 of our 69 layers never appear

  EXPECT_EQ(torch_cka_axis_labels(axis, "torch_cka")[1], "bn1");
  EXPECT_EQ(torch_cka_axis_labels(axis, "ours")[1], "relu");
  EXPECT_EQ(torch_cka_axis_labels(axis, "both")[1], "bn1 (= relu)");
  EXPECT_EQ(torch_cka_axis_labels(axis, "both")[0], "conv1");
  EXPECT_EQ(torch_cka_axis_labels(axis, "both").back(), "(root) (= fc)");
  EXPECT_THROW(torch_cka_axis_labels(axis, "paper"), Error);
}

TEST(TorchCkaAxis, RootIsTheModelsOutputAndTheCifarStemHasNoAxis) {
  ResNet18Config nll;
  nll.log_softmax_head = true;
  EXPECT_EQ(torch_cka_axis(ResNet18(nll, 0).layer_names()).back().ours, "log_softmax");
  ResNet18Config cifar;
  cifar.cifar_stem = true;
  EXPECT_THROW(select_layers(ResNet18(cifar, 0).layer_names(), "torch_cka"), Error);
}

TEST(TorchCkaAxis, RepeatedRowsCarryTheirLayersCka) {
  const std::string dir = test::cka_image_split("torch_cka_axis");
  ResNet18 model({}, 5);
  data::LoaderOptions lo;
  lo.batch = 10;
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  data::Loader loader(data::scan_split(dir), lo);
  workflows::CkaModelOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  o.cka.bootstrap = 0;
  const cka::CkaReport all = workflows::cka_of_models(model, nullptr, loader, o);
  o.layers = "torch_cka";
  const cka::CkaReport axis = workflows::cka_of_models(model, nullptr, loader, o);
  const std::vector<TorchCkaRow> rows = torch_cka_axis(model.layer_names());
  ASSERT_EQ(axis.matrix.shape(), (Shape{68, 68}));
  EXPECT_EQ(axis.layers, torch_cka_axis_labels(rows, "torch_cka"));
  EXPECT_EQ(axis.layers_b, axis.layers);
  const auto at = [&](const std::string& n) {
    return std::find(all.layers.begin(), all.layers.end(), n) - all.layers.begin();
  };
  for (int64_t i = 0; i < 68; ++i)
    for (int64_t k = 0; k < 68; ++k)
      EXPECT_NEAR(axis.matrix.data<double>()[i * 68 + k],
                  all.matrix.data<double>()[at(rows[i].ours) * 69 + at(rows[k].ours)], 1e-12)
          << rows[i].torch_cka << " x " << rows[k].torch_cka;
  // Rows that are one layer have CKA 1: layer1.0.relu and layer1.0 (layer1.0.relu2), layer1.1.relu and
  // layer1 (layer1.1.relu2).
  EXPECT_EQ(rows[6].ours, rows[9].ours);
  EXPECT_NEAR(axis.matrix.data<double>()[6 * 68 + 9], 1.0, 1e-12);
  EXPECT_EQ(rows[12].ours, rows[16].ours);
  EXPECT_NEAR(axis.matrix.data<double>()[12 * 68 + 16], 1.0, 1e-12);

  o.axis_labels = "ours";
  EXPECT_EQ(workflows::cka_of_models(model, nullptr, loader, o).layers,
            select_layers(model.layer_names(), "torch_cka"));
}

}  // namespace
}  // namespace biascka
