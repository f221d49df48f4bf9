// Transforms: resize and rotate / affine against PyTorch (interpolate,
// affine_grid + grid_sample; tests/fixtures/data_parity.safetensors), crops,
// flips, normalisation, and seeded random transforms.
#include "galen/core/json.h"
#include "galen/data/image.h"
#include "galen/data/transforms.h"
#include "test_util.h"

using namespace galen;

namespace {
const SafetensorsFile& parity() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/data_parity.safetensors");
  return f;
}
json::Value params(const std::string& key) { return json::parse(parity().metadata.at(key)); }
}  // namespace

TEST_CASE("to_tensor and normalize", "[data][transforms]") {
  Tensor img = from_vector<uint8_t>({0, 255, 51, 102, 3, 4}, {1, 2, 3});  // (H=1, W=2, C=3)
  Tensor t = data::to_tensor(img);
  REQUIRE(t.sizes() == Shape{3, 1, 2});
  REQUIRE(t.dtype() == DType::f32);
  REQUIRE(t.to_vector<float>() == std::vector<float>{0.f, 102.f / 255.f, 1.f, 3.f / 255.f, 51.f / 255.f, 4.f / 255.f});
  Tensor deep = from_vector<int32_t>({0, 65535}, {1, 2});
  REQUIRE(data::to_tensor(deep).to_vector<float>() == std::vector<float>{0.f, 1.f});
  Tensor n = data::normalize(t, {0.5, 0.0, 1.0}, {0.5, 2.0, 1.0});
  REQUIRE_CLOSE(n.select(0, 0), div(sub(t.select(0, 0), 0.5), 0.5), 1e-7, 0);
  REQUIRE_CLOSE(n.select(0, 1), div(t.select(0, 1), 2.0), 1e-7, 0);
  REQUIRE_THROWS_WITH(data::normalize(t, {0.5, 0.5}, {1.0}), Catch::Contains("3 channels"));
  REQUIRE_THROWS_AS(data::resize(img, 2, 2), Error);  // u8: to_tensor first
}

TEST_CASE("resize matches torch bilinear interpolate (align_corners=False)", "[data][transforms]") {
  for (int k = 0; k < 4; ++k) {
    const std::string key = "resize." + std::to_string(k);
    INFO(key);
    const auto p = params(key);
    Tensor x = parity().tensors.at(key + ".in");
    Tensor y = data::resize(x, p.find("height")->as_int(), p.find("width")->as_int());
    REQUIRE_CLOSE(y, parity().tensors.at(key + ".out"), 1e-6, 1e-5);
    // f64 gives the same numbers (to f32 rounding), batched (N,C,H,W) too.
    REQUIRE_CLOSE(data::resize(x.to(DType::f64).unsqueeze(0), y.size(-2), y.size(-1)).squeeze(0), y, 1e-6, 1e-5);
  }
  Tensor x = rand({2, 5, 6});
  REQUIRE(equal(data::resize(x, 5, 6), x));  // same size: identity
  Tensor wide = rand({1, 10, 20});
  REQUIRE(data::resize(wide, 5).sizes() == Shape{1, 5, 10});  // shorter side -> 5
}

TEST_CASE("rotate / affine match torch affine_grid + grid_sample", "[data][transforms]") {
  for (int k = 0; k < 5; ++k) {
    const std::string key = "affine." + std::to_string(k);
    INFO(key);
    const auto p = params(key);
    Tensor x = parity().tensors.at(key + ".in");
    Tensor y = data::affine(x, p.find("degrees")->as_double(), p.find("tx")->as_double(), p.find("ty")->as_double(),
                            p.find("scale")->as_double());
    REQUIRE_CLOSE(y, parity().tensors.at(key + ".out"), 1e-9, 1e-9);
    REQUIRE_CLOSE(data::affine(x.to(DType::f32), p.find("degrees")->as_double(), p.find("tx")->as_double(),
                               p.find("ty")->as_double(), p.find("scale")->as_double()),
                  y, 1e-5, 1e-5);
  }
  // Direction: +90 degrees is counter-clockwise as displayed (y down): a dot
  // right of the centre moves above it.
  Tensor dot = zeros({1, 5, 5});
  dot.select(0, 0).select(0, 2).select(0, 4).fill_(1.0);  // row 2, column 4
  Tensor r = data::rotate(dot, 90.0);
  REQUIRE(r.select(0, 0).select(0, 0).select(0, 2).item() == Approx(1.0).margin(1e-12));  // row 0, column 2
  REQUIRE(sum(r).item() == Approx(1.0).margin(1e-6));
  // Zero rotation is the identity.
  Tensor x = rand({3, 6, 7});
  REQUIRE_CLOSE(data::rotate(x, 0.0), x, 1e-6, 0);
}

TEST_CASE("crops and flips", "[data][transforms]") {
  Tensor x = arange(30.0, DType::f32).reshape({1, 5, 6});
  // torchvision rounding: top = round((5 - 2) / 2) = round(1.5) = 2, left = round(1.0) = 1.
  Tensor c = data::center_crop(x, 2, 4);
  REQUIRE(c.to_vector<float>() == std::vector<float>{13, 14, 15, 16, 19, 20, 21, 22});
  // Larger than the image: zero-padded, the left/top padding gets the floor half.
  Tensor big = data::center_crop(x, 7, 6);
  REQUIRE(big.sizes() == Shape{1, 7, 6});
  REQUIRE(sum(big.select(1, 0)).item() == 0);
  REQUIRE(equal(big.narrow(1, 1, 5), x));
  Tensor f = data::hflip(x);
  REQUIRE(f.select(1, 0).to_vector<float>() == std::vector<float>{5, 4, 3, 2, 1, 0});
  REQUIRE(equal(data::hflip(f), x));
  REQUIRE(equal(data::vflip(data::vflip(x)), x));
  REQUIRE(data::vflip(x).select(1, 0).to_vector<float>() == std::vector<float>{24, 25, 26, 27, 28, 29});
  Tensor cr = data::crop(x, -1, 4, 2, 3);  // partly outside
  REQUIRE(cr.to_vector<float>() == std::vector<float>{0, 0, 0, 4, 5, 0});
}

TEST_CASE("random transforms are seeded", "[data][transforms]") {
  Tensor x = rand({3, 16, 16});
  data::Generator g1(5), g2(5);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(equal(data::random_crop(x, 8, 8, 2, &g1), data::random_crop(x, 8, 8, 2, &g2)));
    REQUIRE(equal(data::random_affine(x, 30, {0.1, 0.1}, {0.9, 1.1}, &g1),
                  data::random_affine(x, 30, {0.1, 0.1}, {0.9, 1.1}, &g2)));
    REQUIRE(equal(data::random_horizontal_flip(x, 0.5, &g1), data::random_horizontal_flip(x, 0.5, &g2)));
    REQUIRE(equal(data::random_rotation(x, 20, &g1), data::random_rotation(x, 20, &g2)));
  }
  REQUIRE(equal(data::random_horizontal_flip(x, 1.0, &g1), data::hflip(x)));
  REQUIRE(equal(data::random_horizontal_flip(x, 0.0, &g1), x));
  // random_crop positions cover the whole range, crops are windows of the padded image.
  std::set<std::pair<int, int>> seen;
  Tensor idx = arange(36.0, DType::f32).reshape({1, 6, 6});
  for (int i = 0; i < 200; ++i) {
    Tensor c = data::random_crop(idx, 4, 4, 0, &g1);
    const float v = c.to_vector<float>()[0];
    seen.insert({static_cast<int>(v) / 6, static_cast<int>(v) % 6});
  }
  REQUIRE(seen.size() == 9);  // top, left in {0, 1, 2}
  // Without a generator: the global one, reproducible after manual_seed.
  manual_seed(11);
  Tensor a = data::random_rotation(x, 45);
  manual_seed(11);
  REQUIRE(equal(data::random_rotation(x, 45), a));
}
