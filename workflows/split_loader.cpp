#include "workflows/split_loader.h"

#include "data/normalize.h"

namespace biascka::workflows {

data::LoaderOptions split_loader_options(const std::string& named_from, const ImageOptions& image,
                                         int64_t batch, int64_t max_samples, SplitOrder order,
                                         uint64_t seed) {
  data::LoaderOptions lo;
  lo.batch = batch;
  lo.shuffle = order != SplitOrder::Fixed;
  lo.drop_last_single = order == SplitOrder::Training;
  lo.seed = seed;
  lo.workers = image.workers;
  lo.image_size = image.image_size;
  lo.norm = data::normalization_for(named_from, image.normalization);
  lo.max_samples = max_samples;
  return lo;
}

}  // namespace biascka::workflows
