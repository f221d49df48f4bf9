// Image I/O: real PNG / JPEG / BMP decodes checked against PIL's pixels
// (tests/fixtures/data_parity.safetensors), PNG round trips in 8 and 16 bits,
// malformed files and atomic writes.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "galen/data/image.h"
#include "test_util.h"

using namespace galen;
namespace fs = std::filesystem;

namespace {
const std::string kImages = std::string(GALEN_FIXTURES_DIR) + "/images/";

const SafetensorsFile& parity() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/data_parity.safetensors");
  return f;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("galen_img_" + std::to_string(::getpid()) + "_" + std::to_string(rand_id()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int rand_id() {
    static int n = 0;
    return ++n;
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Every 8th row and column, as the fixture stores it.
Tensor sub8(const Tensor& img) { return img.slice(0, 0, img.size(0), 8).slice(1, 0, img.size(1), 8).contiguous(); }
}  // namespace

TEST_CASE("read_image: real RGB and palette PNGs match PIL's pixels", "[data][image]") {
  Tensor t1 = data::read_image(kImages + "BrainT1Slice.png");
  REQUIRE(t1.dtype() == DType::u8);
  REQUIRE(t1.sizes() == Shape{217, 181, 3});
  REQUIRE(equal(sub8(t1), parity().tensors.at("img.t1.sub")));
  REQUIRE(sum(t1.to(DType::f64)).item() == parity().tensors.at("img.t1.sum").item());

  // A palette PNG expands to RGB, like PIL's convert("RGB").
  Tensor pd = data::read_image(kImages + "BrainProtonDensitySlice.png");
  REQUIRE(pd.sizes() == Shape{217, 181, 3});
  REQUIRE(equal(sub8(pd), parity().tensors.at("img.pd.sub")));
  REQUIRE(sum(pd.to(DType::f64)).item() == parity().tensors.at("img.pd.sum").item());

  // Channel conversion on request.
  Tensor g = data::read_image(kImages + "BrainT1Slice.png", 1);
  REQUIRE(g.sizes() == Shape{217, 181, 1});
  Tensor rgba = data::read_image(kImages + "BrainT1Slice.png", 4);
  REQUIRE(rgba.sizes() == Shape{217, 181, 4});
  REQUIRE(amin(rgba.select(2, 3)).item() == 255);
  REQUIRE(equal(rgba.narrow(2, 0, 3), t1));

  auto info = data::image_info(kImages + "BrainT1Slice.png");
  REQUIRE(info.width == 181);
  REQUIRE(info.height == 217);
  REQUIRE(info.channels == 3);
  REQUIRE(info.bit_depth == 8);
}

TEST_CASE("read_image: real JPEG and BMP", "[data][image]") {
  Tensor bmp = data::read_image(kImages + "retina_crop.bmp");
  REQUIRE(bmp.sizes() == Shape{48, 48, 3});
  REQUIRE(equal(bmp, parity().tensors.at("img.bmp")));
  // JPEG decoders differ in their IDCT and chroma upsampling: close, not equal.
  Tensor jpg = data::read_image(kImages + "retina_crop.jpg");
  REQUIRE(jpg.sizes() == Shape{48, 48, 3});
  Tensor diff = abs(sub(jpg.to(DType::f32), parity().tensors.at("img.jpg").to(DType::f32)));
  CHECK(amax(diff).item() <= 8);
  CHECK(mean(diff).item() <= 1.5);
}

TEST_CASE("write_png round-trips 8-bit images of 1-4 channels and 16-bit images", "[data][image]") {
  TempDir dir;
  for (int64_t c = 1; c <= 4; ++c) {
    Tensor img = randint(0, 256, {5, 7, c}, DType::u8);
    const std::string p = dir / ("u8_" + std::to_string(c) + ".png");
    data::write_png(p, img);
    REQUIRE(equal(data::read_image(p), img));
  }
  // (H, W) is gray; a non-contiguous view is written as its logical content.
  Tensor gray = randint(0, 256, {9, 4}, DType::u8);
  data::write_png(dir / "gray.png", gray.t());
  REQUIRE(equal(data::read_image(dir / "gray.png"), gray.t().unsqueeze(2)));

  // 16-bit: i32 values 0..65535, including both extremes.
  Tensor deep = randint(0, 65536, {6, 5, 3}, DType::i32);
  deep.select(0, 0).select(0, 0).fill_(65535);
  deep.select(0, 0).select(0, 1).fill_(0);
  data::write_png(dir / "deep.png", deep);
  auto info = data::image_info(dir / "deep.png");
  REQUIRE(info.bit_depth == 16);
  REQUIRE(info.channels == 3);
  Tensor back = data::read_image(dir / "deep.png");
  REQUIRE(back.dtype() == DType::i32);
  REQUIRE(equal(back, deep));
  // A 16-bit gray PNG made from a real image (T1 slice scaled to 16 bits).
  Tensor t1 = data::read_image(kImages + "BrainT1Slice.png", 1).to(DType::i32);
  Tensor t16 = mul(t1, 257.0).to(DType::i32);
  data::write_png(dir / "t1_16.png", t16);
  REQUIRE(equal(data::read_image(dir / "t1_16.png"), t16));

  REQUIRE_THROWS_WITH(data::write_png(dir / "x.png", full({2, 2, 1}, 70000, DType::i32)),
                      Catch::Contains("outside 0..65535"));
  REQUIRE_THROWS_WITH(data::write_png(dir / "x.png", zeros({2, 2, 5}, DType::u8)), Catch::Contains("channels"));
  REQUIRE_THROWS_WITH(data::write_png(dir / "x.png", zeros({2, 2, 1}, DType::f32)), Catch::Contains("dtype"));
}

TEST_CASE("read_image: malformed, truncated and missing files are Errors naming the file", "[data][image]") {
  TempDir dir;
  const std::string png = slurp(kImages + "BrainT1Slice.png");
  spit(dir / "half.png", png.substr(0, png.size() / 2));
  REQUIRE_THROWS_WITH(data::read_image(dir / "half.png"), Catch::Contains("half.png"));
  spit(dir / "head.png", png.substr(0, 40));
  REQUIRE_THROWS_WITH(data::read_image(dir / "head.png"), Catch::Contains("head.png"));
  spit(dir / "junk.png", "this is not an image at all");
  REQUIRE_THROWS_WITH(data::read_image(dir / "junk.png"), Catch::Contains("junk.png"));
  REQUIRE_THROWS_WITH(data::image_info(dir / "junk.png"), Catch::Contains("junk.png"));
  spit(dir / "empty.png", "");
  REQUIRE_THROWS_WITH(data::read_image(dir / "empty.png"), Catch::Contains("empty.png") && Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(data::read_image(dir / "missing.png"), Catch::Contains("cannot open") && Catch::Contains("missing.png"));
  const std::string jpg = slurp(kImages + "retina_crop.jpg");
  spit(dir / "cut.jpg", jpg.substr(0, 200));
  REQUIRE_THROWS_WITH(data::read_image(dir / "cut.jpg"), Catch::Contains("cut.jpg"));
  // A damaged byte inside the compressed data (CRCs are not checked by
  // stb_image, but the zlib stream breaks).
  std::string bad = png;
  for (size_t i = 200; i < 400; ++i) bad[i] = static_cast<char>(0xAA);
  spit(dir / "bad.png", bad);
  REQUIRE_THROWS_WITH(data::read_image(dir / "bad.png"), Catch::Contains("bad.png"));
  REQUIRE_THROWS_AS(data::read_image(kImages + "BrainT1Slice.png", 5), Error);
}

TEST_CASE("write_png is atomic: a failed write leaves the old file", "[data][image]") {
  TempDir dir;
  const std::string p = dir / "keep.png";
  Tensor a = full({3, 3, 1}, 7, DType::u8);
  data::write_png(p, a);
  // Block the temporary file's path with a directory: the write must fail
  // before touching `p`.
  fs::create_directory(p + ".tmp." + std::to_string(::getpid()));
  REQUIRE_THROWS_WITH(data::write_png(p, full({3, 3, 1}, 9, DType::u8)), Catch::Contains("keep.png"));
  REQUIRE(equal(data::read_image(p), a));
  REQUIRE_THROWS_AS(data::write_png(dir / "no/such/dir/x.png", a), Error);
}
