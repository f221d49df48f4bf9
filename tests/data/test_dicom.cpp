// DICOM through DCMTK: real files in every supported transfer syntax checked
// against pydicom + GDCM (tests/fixtures/medical/expected.safetensors, made by
// tools/make_medical_fixtures.py), MONOCHROME1, multi-frame, windowing, series
// assembly, and malformed / truncated / unsupported files.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "galen/core/json.h"
#include "galen/data/dicom.h"
#include "medical_fixture.h"
#include "test_util.h"

using namespace galen;
namespace fs = std::filesystem;

namespace {

using namespace galen_test_medical;

const std::string kDcm = kMed + "dicom/";
const std::string kSharedSeries = std::string(GALEN_SHARED_DIR) + "/data/images/mri_series/";


// d.pixels[:, ::8, ::8]
Tensor sub8(const Tensor& p) { return p.slice(1, 0, p.size(1), 8).slice(2, 0, p.size(2), 8).contiguous(); }

std::optional<double> opt(const json::Value& m, const char* k) {
  const json::Value* v = m.find(k);
  if (!v || v->is_null()) return std::nullopt;
  return v->as_double();
}
std::vector<double> vec(const json::Value& m, const char* k) {
  std::vector<double> out;
  const json::Value* v = m.find(k);
  if (v && v->is_array())
    for (const auto& e : v->as_array()) out.push_back(e.as_double());
  return out;
}
template <size_t N>
std::vector<double> vec(const std::optional<std::array<double, N>>& a) {
  return a ? std::vector<double>(a->begin(), a->end()) : std::vector<double>{};
}

// Every header value and the pixels of `path` against pydicom's reading (key
// in expected.safetensors). `atol` is 0 for lossless files.
data::DicomData check_against_pydicom(const std::string& key, const std::string& path, double atol = 0.0) {
  INFO(key << ": " << path);
  const data::DicomData d = data::read_dicom(path);
  const json::Value m = meta(key);
  CHECK(d.path == path);
  CHECK(d.rows == m.find("rows")->as_int());
  CHECK(d.cols == m.find("cols")->as_int());
  CHECK(d.frames == m.find("frames")->as_int());
  CHECK(d.bits_allocated == m.find("bits_allocated")->as_int());
  CHECK(d.bits_stored == m.find("bits_stored")->as_int());
  CHECK(d.high_bit == m.find("high_bit")->as_int());
  CHECK(d.is_signed == m.find("signed")->as_bool());
  CHECK(d.photometric == m.find("photometric")->as_string());
  CHECK(d.inverted == m.find("inverted")->as_bool());
  CHECK(d.rescale_slope == m.find("slope")->as_double());
  CHECK(d.rescale_intercept == m.find("intercept")->as_double());
  CHECK(d.window_center == opt(m, "window_center"));
  CHECK(d.window_width == opt(m, "window_width"));
  CHECK(vec(d.pixel_spacing) == vec(m, "pixel_spacing"));
  CHECK(d.slice_thickness == opt(m, "slice_thickness"));
  CHECK(vec(d.image_position) == vec(m, "position"));
  CHECK(vec(d.image_orientation) == vec(m, "orientation"));
  const json::Value* inst = m.find("instance_number");
  CHECK(d.instance_number.has_value() == !inst->is_null());
  if (!inst->is_null() && d.instance_number) CHECK(*d.instance_number == inst->as_int());
  CHECK(d.modality == m.find("modality")->as_string());
  CHECK(d.patient_id == m.find("patient_id")->as_string());
  CHECK(d.study_uid == m.find("study_uid")->as_string());
  CHECK(d.series_uid == m.find("series_uid")->as_string());
  CHECK(d.transfer_syntax == m.find("transfer_syntax")->as_string());
  CHECK(!d.transfer_syntax_name.empty());

  REQUIRE(d.pixels.dtype() == DType::f32);
  REQUIRE(d.pixels.sizes() == Shape{d.frames, d.rows, d.cols});
  REQUIRE_CLOSE(sub8(d.pixels), expected().tensors.at(key + ".sub"), atol, 0.0);
  const double sum = galen::sum(d.pixels.to(DType::f64)).item();
  const double want = expected().tensors.at(key + ".sum").item();
  CHECK(sum == Approx(want).epsilon(atol == 0 ? 1e-12 : 1e-4));
  CHECK(min(d.pixels).item() == Approx(m.find("min")->as_double()).margin(atol));
  CHECK(max(d.pixels).item() == Approx(m.find("max")->as_double()).margin(atol));
  return d;
}

}  // namespace

TEST_CASE("read_dicom: uncompressed little / big endian, implicit / explicit VR match pydicom", "[data][medical]") {
  // CT: stored 128..2191 with intercept -1024 -> Hounsfield units.
  const auto ct = check_against_pydicom("CT_small", kDcm + "CT_small.dcm");
  CHECK(ct.modality == "CT");
  CHECK(ct.transfer_syntax == "1.2.840.10008.1.2.1");
  CHECK(ct.rescale_intercept == -1024.0);
  CHECK(min(ct.pixels).item() == -896.0);
  CHECK(max(ct.pixels).item() == 1167.0);

  const auto mr = check_against_pydicom("MR_small", kDcm + "MR_small.dcm");
  CHECK(mr.window_center == 600.0);
  CHECK(mr.window_width == 1600.0);
  const auto il = check_against_pydicom("implicit_little", kDcm + "implicit_little.dcm");
  CHECK(il.transfer_syntax == "1.2.840.10008.1.2");
  // The big-endian copy of MR_small holds the same pixels.
  const auto be = check_against_pydicom("MR_small_bigendian", kDcm + "MR_small_bigendian.dcm");
  CHECK(be.transfer_syntax == "1.2.840.10008.1.2.2");
  REQUIRE(equal(be.pixels, mr.pixels));
}

TEST_CASE("read_dicom: JPEG lossless / extended, JPEG-LS and RLE decode as GDCM does", "[data][medical]") {
  // Chest CT topogram, JPEG lossless SV1, signed 16-bit with negative values.
  const auto jl = check_against_pydicom("jpeg_lossless_sel1", kDcm + "jpeg_lossless_sel1.dcm");
  CHECK(jl.transfer_syntax == "1.2.840.10008.1.2.4.70");
  CHECK(jl.rows == 400);
  CHECK(jl.cols == 512);
  CHECK(min(jl.pixels).item() == -196.0);

  const auto mr = data::read_dicom(kDcm + "MR_small.dcm");
  const auto ls = check_against_pydicom("MR_small_jpeg_ls_lossless", kDcm + "MR_small_jpeg_ls_lossless.dcm");
  CHECK(ls.transfer_syntax == "1.2.840.10008.1.2.4.80");
  REQUIRE(equal(ls.pixels, mr.pixels));
  const auto rle = check_against_pydicom("MR_small_RLE", kDcm + "MR_small_RLE.dcm");
  CHECK(rle.transfer_syntax == "1.2.840.10008.1.2.5");
  REQUIRE(equal(rle.pixels, mr.pixels));

  // 12-bit lossy JPEG (extended, process 2 & 4): IJG in both DCMTK and GDCM.
  const auto jx = check_against_pydicom("JPGExtended", kDcm + "JPGExtended.dcm");
  CHECK(jx.transfer_syntax == "1.2.840.10008.1.2.4.51");
  CHECK(jx.bits_stored == 12);
}

TEST_CASE("read_dicom: multi-frame 32-bit (both byte orders) and 12-in-16-bit with rescale", "[data][medical]") {
  const auto rd = check_against_pydicom("rtdose", kDcm + "rtdose.dcm");
  CHECK(rd.frames == 15);
  CHECK(rd.bits_allocated == 32);
  const auto rb = check_against_pydicom("rtdose_expb", kDcm + "rtdose_expb.dcm");
  REQUIRE(equal(rb.pixels, rd.pixels));

  // Three frames (MR_small, its transpose, its vertical flip), unsigned 12 bits
  // stored, slope 2, intercept -100.
  const auto mf = check_against_pydicom("MR_small_3frame", kDcm + "MR_small_3frame.dcm");
  CHECK(mf.frames == 3);
  CHECK_FALSE(mf.is_signed);
  const auto mr = data::read_dicom(kDcm + "MR_small.dcm");
  const Tensor f0 = mr.pixels.select(0, 0) * 2.0 - 100.0;
  REQUIRE(equal(mf.pixels.select(0, 0), f0));
  REQUIRE(equal(mf.pixels.select(0, 1), f0.t().contiguous()));
  REQUIRE(equal(mf.pixels.select(0, 2), data::vflip(f0)));
}

TEST_CASE("read_dicom: MONOCHROME1 is inverted, and so is its window", "[data][medical]") {
  const auto m1 = check_against_pydicom("MR_small_mono1", kDcm + "MR_small_mono1.dcm");
  const auto m2 = data::read_dicom(kDcm + "MR_small.dcm");
  REQUIRE(m1.inverted);
  CHECK_FALSE(m2.inverted);
  // Signed 16 bits: the stored range is [-32768, 32767], so v' = -1 - v.
  REQUIRE(equal(m1.pixels, -1.0 - m2.pixels));
  REQUIRE(m1.window_center == -1.0 - 600.0);
  REQUIRE(m1.window_width == 1600.0);
  // Windowed with its own window, the MONOCHROME1 image is the negative of the
  // MONOCHROME2 one: what was displayed dark is now bright.
  const Tensor w1 = data::apply_window(m1.pixels, *m1.window_center, *m1.window_width);
  const Tensor w2 = data::apply_window(m2.pixels, *m2.window_center, *m2.window_width);
  REQUIRE_CLOSE(w1, 1.0 - w2, 1e-6, 0.0);
}

TEST_CASE("apply_window: linear ramp clamped to [0, 1]", "[data][medical]") {
  const Tensor x = tensor<double>({-1000, -160, 0, 40, 239, 240, 1000});
  const Tensor w = data::apply_window(x, 40, 400);
  REQUIRE(w.dtype() == DType::f32);
  REQUIRE_CLOSE(w, tensor<float>({0.f, 0.f, 0.4f, 0.5f, 0.9975f, 1.f, 1.f}), 1e-7, 0.0);
  REQUIRE_THROWS_WITH(data::apply_window(x, 40, 0), Catch::Contains("width must be > 0"));
  REQUIRE_THROWS_WITH(data::apply_window(x, 40, -5), Catch::Contains("width must be > 0"));
}

TEST_CASE("read_dicom_series: slices sorted along the normal, spacing from positions", "[data][medical]") {
  const std::string dir = kMed + "series/";
  // Given out of order: sorted by position along the normal.
  const auto s = data::read_dicom_series(
      std::vector<std::string>{dir + "brain_004.dcm", dir + "brain_002.dcm", dir + "brain_003.dcm"});
  REQUIRE(s.volume.sizes() == Shape{3, 256, 256});
  REQUIRE(s.slices.size() == 3);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "brain_00" + std::to_string(i + 2);
    INFO(name);
    CHECK(s.slices[i].path == dir + name + ".dcm");
    CHECK(*s.slices[i].instance_number == i + 2);
    CHECK_FALSE(s.slices[i].pixels.defined());
    REQUIRE(equal(s.volume.select(0, i), data::read_dicom(dir + name + ".dcm").pixels.select(0, 0)));
  }
  // Expected spacing: positions projected on row x column cosines (pydicom's values).
  const auto o = vec(meta("shared.brain_002"), "orientation");
  double nx = o[1] * o[5] - o[2] * o[4], ny = o[2] * o[3] - o[0] * o[5], nz = o[0] * o[4] - o[1] * o[3];
  const double len = std::sqrt(nx * nx + ny * ny + nz * nz);
  nx /= len, ny /= len, nz /= len;
  auto key = [&](const char* k) {
    const auto p = vec(meta(k), "position");
    return p[0] * nx + p[1] * ny + p[2] * nz;
  };
  const double dz = (key("shared.brain_004") - key("shared.brain_002")) / 2;
  CHECK(s.spacing[0] == Approx(dz).epsilon(1e-12));
  CHECK(dz == Approx(7.0).margin(0.1));
  CHECK(s.spacing[1] == 0.859375);
  CHECK(s.spacing[2] == 0.859375);
  CHECK(vec(s.origin) == vec(meta("shared.brain_002"), "position"));
  CHECK(vec(s.orientation) == o);

  // A directory gives the same volume.
  const auto sd = data::read_dicom_series(dir);
  REQUIRE(equal(sd.volume, s.volume));
}

TEST_CASE("read_dicom_series: instance-number fallback and clear errors", "[data][medical]") {
  const std::string dir = kMed + "series/";
  TempDir tmp;
  // Without Image Position (Patient) (its tag renamed to an unknown element),
  // the slices are ordered by Instance Number.
  std::vector<std::string> nopos;
  for (int i : {4, 2, 3}) {
    std::string b = slurp(dir + "brain_00" + std::to_string(i) + ".dcm");
    const std::string tag(
        "\x20\x00\x32\x00"
        "DS",
        6);
    const size_t at = b.find(tag);
    REQUIRE(at != std::string::npos);
    b[at + 2] = '\x31';  // (0020,0031): not a standard attribute
    nopos.push_back(tmp / ("nopos_" + std::to_string(i) + ".dcm"));
    spit(nopos.back(), b);
  }
  const auto s = data::read_dicom_series(nopos);
  REQUIRE(s.volume.size(0) == 3);
  CHECK(*s.slices[0].instance_number == 2);
  CHECK(*s.slices[2].instance_number == 4);
  CHECK_FALSE(s.origin.has_value());
  CHECK(s.spacing[0] == 5.0);  // Slice Thickness without positions

  // A different orientation in one slice.
  {
    std::string b = slurp(dir + "brain_003.dcm");
    const std::string from = "0.990960\\0.134158", to = "0.134158\\0.990960";
    // The value of (0020,0037) Image Orientation (Patient), not the retired (0020,0035).
    const size_t tag =
        b.find(std::string("\x20\x00\x37\x00"
                           "DS",
                           6));
    REQUIRE(tag != std::string::npos);
    const size_t at = b.find(from, tag);
    REQUIRE(at != std::string::npos);
    b.replace(at, from.size(), to);
    spit(tmp / "tilted.dcm", b);
    REQUIRE_THROWS_WITH(data::read_dicom_series(std::vector<std::string>{dir + "brain_002.dcm", tmp / "tilted.dcm"}),
                        Catch::Contains("different Image Orientation") && Catch::Contains("tilted.dcm"));
  }
  // Different sizes.
  REQUIRE_THROWS_WITH(data::read_dicom_series(std::vector<std::string>{dir + "brain_002.dcm", kDcm + "CT_small.dcm"}),
                      Catch::Contains("CT_small.dcm") && Catch::Contains("128x128") && Catch::Contains("256x256"));
  // The same slice twice.
  REQUIRE_THROWS_WITH(data::read_dicom_series(std::vector<std::string>{dir + "brain_002.dcm", dir + "brain_002.dcm"}),
                      Catch::Contains("same position"));
  // Multi-frame files do not make a series; an empty list / directory is an error.
  REQUIRE_THROWS_WITH(data::read_dicom_series(std::vector<std::string>{kDcm + "rtdose.dcm"}),
                      Catch::Contains("15 frames"));
  REQUIRE_THROWS_WITH(data::read_dicom_series(std::vector<std::string>{}), Catch::Contains("no files"));
  fs::create_directories(tmp.path / "empty");
  REQUIRE_THROWS_WITH(data::read_dicom_series(tmp / "empty"), Catch::Contains("holds no files"));
  REQUIRE_THROWS_WITH(data::read_dicom_series(tmp / "nowhere"), Catch::Contains("is not a directory"));
}

TEST_CASE("read_dicom: the whole shared MRI series (20 slices) against pydicom", "[data][medical]") {
  if (!fs::exists(kSharedSeries + "brain_001.dcm")) {
    WARN("SKIPPED: " << kSharedSeries << " is absent (the shared data folder beside the clone)");
    return;
  }
  std::vector<std::string> paths;
  for (int i = 20; i >= 1; --i) {
    char name[32];
    std::snprintf(name, sizeof name, "brain_%03d", i);
    paths.push_back(kSharedSeries + name + ".dcm");
    check_against_pydicom(std::string("shared.") + name, paths.back());
  }
  const auto s = data::read_dicom_series(paths);
  REQUIRE(s.volume.sizes() == Shape{20, 256, 256});
  for (int i = 0; i < 20; ++i) {
    CHECK(*s.slices[i].instance_number == i + 1);
    char key[32];
    std::snprintf(key, sizeof key, "shared.brain_%03d", i + 1);
    CHECK(galen::sum(s.volume.select(0, i).to(DType::f64)).item() ==
          expected().tensors.at(std::string(key) + ".sum").item());
  }
  CHECK(s.spacing[0] == Approx(7.0).margin(0.1));
}

TEST_CASE("read_dicom: missing, garbage, truncated and unsupported files name the file and the reason",
          "[data][medical]") {
  TempDir tmp;
  REQUIRE_THROWS_WITH(data::read_dicom(tmp / "absent.dcm"),
                      Catch::Contains("absent.dcm") && Catch::Contains("does not exist"));
  spit(tmp / "empty.dcm", "");
  REQUIRE_THROWS_WITH(data::read_dicom(tmp / "empty.dcm"), Catch::Contains("empty.dcm"));
  spit(tmp / "text.dcm", "this is not a DICOM file at all, just some text that goes on for a while\n");
  REQUIRE_THROWS_WITH(data::read_dicom(tmp / "text.dcm"), Catch::Contains("text.dcm"));
  {
    std::string junk(4096, '\0');
    uint32_t x = 12345;
    for (auto& c : junk) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
    spit(tmp / "junk.dcm", junk);
    REQUIRE_THROWS_WITH(data::read_dicom(tmp / "junk.dcm"), Catch::Contains("junk.dcm"));
  }
  // Truncated copies, cut in the meta header, the dataset and the pixel data.
  for (const char* name : {"CT_small.dcm", "implicit_little.dcm", "jpeg_lossless_sel1.dcm", "MR_small_RLE.dcm",
                           "MR_small_jpeg_ls_lossless.dcm"}) {
    const std::string full = slurp(kDcm + name);
    for (size_t len : {size_t(100), size_t(200), size_t(700), full.size() / 2, full.size() - 100, full.size() - 1}) {
      const std::string p = tmp / ("cut_" + std::to_string(len) + "_" + name);
      spit(p, full.substr(0, len));
      INFO(p);
      REQUIRE_THROWS_WITH(data::read_dicom(p), Catch::Contains(p));
    }
  }
  // pydicom's MR_truncated: the file ends inside Pixel Data; DCMTK's parser says so.
  REQUIRE_THROWS_WITH(data::read_dicom(kDcm + "MR_truncated.dcm"),
                      Catch::Contains("MR_truncated.dcm") && Catch::Contains("cannot parse"));
  // A well-formed Pixel Data element too short for the declared size: MR_small
  // with Rows 64 -> 65 (explicit VR LE: tag (0028,0010), "US", length 2, value).
  {
    std::string b = slurp(kDcm + "MR_small.dcm");
    const std::string rows(
        "\x28\x00\x10\x00"
        "US\x02\x00\x40\x00",
        10);
    const size_t at = b.find(rows);
    REQUIRE(at != std::string::npos);
    b[at + 8] = '\x41';
    spit(tmp / "rows65.dcm", b);
    REQUIRE_THROWS_WITH(data::read_dicom(tmp / "rows65.dcm"),
                        Catch::Contains("rows65.dcm") && Catch::Contains("Pixel Data is truncated") &&
                            Catch::Contains("need 8320 bytes, the file has 8192"));
  }
  // JPEG 2000: no decoder in DCMTK.
  REQUIRE_THROWS_WITH(data::read_dicom(kDcm + "JPEG2000.dcm"), Catch::Contains("JPEG2000.dcm") &&
                                                                   Catch::Contains("1.2.840.10008.1.2.4.91") &&
                                                                   Catch::Contains("cannot decompress"));
  // Colour.
  REQUIRE_THROWS_WITH(data::read_dicom(kDcm + "SC_rgb_rle.dcm"),
                      Catch::Contains("SC_rgb_rle.dcm") && Catch::Contains("RGB") && Catch::Contains("grayscale"));
}

TEST_CASE("read_dicom: concurrent reads from several threads decode correctly", "[data][medical]") {
  const Tensor want = data::read_dicom(kDcm + "MR_small.dcm").pixels;
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        const char* files[] = {"MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
                               "MR_small.dcm"};
        for (int r = 0; r < 5; ++r) ok[t] += equal(data::read_dicom(kDcm + files[(t + r) % 4]).pixels, want);
      } catch (...) {
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(ok[t] == 5);
}
