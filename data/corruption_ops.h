#pragma once
// Image helpers behind the corruptions (data/corruptions.h), each a small native stand-in for the
// library call Hendrycks' make_cifar_c.py makes: scipy.ndimage filters and interpolation, skimage's HSV
// conversions, ImageMagick's motion blur, the plasma fractal of the fog. Internal to data/.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace biascka::data::corruption {

// A float image, row-major HWC, values nominally in [0, 1].
struct Image {
  int w = 0, h = 0, c = 0;
  std::vector<float> px;
  Image() = default;
  Image(int w_, int h_, int c_, float v = 0.f) : w(w_), h(h_), c(c_), px(size_t(w_) * h_ * c_, v) {}
  float& at(int x, int y, int ch = 0) { return px[(size_t(y) * w + x) * c + ch]; }
  float at(int x, int y, int ch = 0) const { return px[(size_t(y) * w + x) * c + ch]; }
};

Image to_float(const uint8_t* rgb, int w, int h);  // /255
std::vector<uint8_t> to_u8(const Image& img);      // clip to [0,1], *255, truncated as np.uint8 does

// Deterministic generator: splitmix64 over a counter, so a corruption is a pure function of its seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  double uniform();  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal(double mean, double std);  // Box-Muller
  int randint(int n);                      // [0, n)

 private:
  uint64_t state_;
  bool has_spare_ = false;
  double spare_ = 0;
};
uint64_t mix64(uint64_t x);  // splitmix64's finaliser, for deriving seeds

// Out-of-range index handling. Reflect is scipy's "reflect" (d c b a | a b c d), Reflect101 OpenCV's
// default (d c b | a b c d), Nearest repeats the edge.
enum class Border { Nearest, Reflect, Reflect101 };
int border_index(int i, int n, Border b);

// scipy.ndimage.gaussian_filter per channel: separable, radius int(truncate*sigma + 0.5).
void gaussian_filter(Image& img, double sigma, Border border, double truncate = 4.0);
// OpenCV cv2.blur with a 3x3 box (BORDER_REFLECT_101).
void box_blur3(Image& img);

// Bilinear sample at (x, y) in pixel coordinates, out-of-range neighbours mapped by `border`.
float sample_bilinear(const Image& img, double x, double y, int ch, Border border);

// Hendrycks' clipped_zoom: crop the centre ceil(n/zoom), enlarge with scipy.ndimage.zoom (order 1,
// corners aligned), trim back to n.
Image clipped_zoom(const Image& img, double zoom);

// ImageMagick's MotionBlurImage on one channel: a one-sided Gaussian of width 2*ceil(radius)+1 along
// `angle_deg`, edge pixels repeated.
Image motion_blur(const Image& img, double radius, double sigma, double angle_deg);

// Diamond-square height map of side `size` (a power of two) in [0, 1], as Hendrycks' plasma_fractal.
std::vector<double> plasma_fractal(int size, double wibble_decay, Rng& rng);

// skimage.color.rgb2hsv / hsv2rgb in place on a 3-channel image.
void rgb_to_hsv(Image& img);
void hsv_to_rgb(Image& img);

// cv2.COLOR_RGB2GRAY luma.
inline float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

}  // namespace biascka::data::corruption

namespace biascka::data::corruption {

// The corruptions with files of their own.
Image spatter(const Image& x, int severity, Rng& rng);  // corruption_spatter.cpp
std::vector<uint8_t> jpeg_round_trip(const uint8_t* rgb, int w, int h, int quality);  // corruption_jpeg.cpp
Image frost_texture(int w, int h, Rng& rng);                                          // corruption_frost.cpp
// PIL's Image.resize(..., Image.BOX) of an RGB8 image: horizontal pass, then vertical, 8-bit in between.
std::vector<uint8_t> resize_box(const uint8_t* rgb, int w, int h, int out_w,
                                int out_h);  // corruption_pixelate.cpp

}  // namespace biascka::data::corruption
