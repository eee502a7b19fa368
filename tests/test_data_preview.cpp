// The contact sheet: it is written, has the expected size, and shows green and red frames.
#include <cstddef>
#include <filesystem>
#include <string>

#include "data/image_io.h"
#include "data/preview.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;

int count_colour(const data::Image& img, int r, int g, int b) {
  int n = 0;
  for (size_t i = 0; i < img.pixels.size(); i += 3)
    n += img.pixels[i] == r && img.pixels[i + 1] == g && img.pixels[i + 2] == b;
  return n;
}

TEST(DataPreview, WritesASheetWithAlignedAndConflictingFrames) {
  const std::string dir = test::temp_dir("data_preview");
  test::write_random_split(dir + "/split", 60, 3);
  const std::string summary = data::make_preview(dir + "/split", dir + "/sheet.png", {.per_class = 5});
  EXPECT_NE(summary.find("60 images"), std::string::npos) << summary;
  const data::Image sheet = data::decode_image(dir + "/sheet.png");
  EXPECT_GT(sheet.width, 5 * 8 * 3);
  EXPECT_GT(sheet.height, 3 * 8 * 3);
  EXPECT_GT(count_colour(sheet, 34, 150, 60), 100);  // green frames
  EXPECT_GT(count_colour(sheet, 215, 38, 38), 100);  // red frames
  test::expect_error([&] { data::make_preview(dir + "/nope", dir + "/x.png"); }, {dir + "/nope"});
}

}  // namespace
}  // namespace biascka
