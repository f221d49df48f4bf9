// NIfTI-1 reading checked against nibabel (tests/fixtures/medical/
// expected.safetensors, tools/make_medical_fixtures.py): every datatype, big
// endian + gzip + qform, header extensions, the real AAL / Colin27 / head-CT
// volumes; write_nifti round trips; malformed files; volume utilities.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "galen/core/json.h"
#include "galen/data/dicom.h"
#include "galen/data/nifti.h"
#include "galen/data/transforms.h"
#include "galen/data/volume.h"
#include "medical_fixture.h"
#include "test_util.h"

using namespace galen;
namespace fs = std::filesystem;

namespace {

using namespace galen_test_medical;

const std::string kNii = kMed + "nifti/";
const std::string kSharedNii = std::string(GALEN_SHARED_DIR) + "/data/images/nifti/";

// x[::step, ::step, ...] over every dim.
Tensor every(const Tensor& x, int64_t step) {
  Tensor t = x;
  for (int64_t d = 0; d < t.dim(); ++d) t = t.slice(d, 0, t.size(d), step);
  return t.contiguous();
}

std::vector<int64_t> ints(const json::Value& m, const char* k) {
  std::vector<int64_t> out;
  for (const auto& e : m.find(k)->as_array()) out.push_back(e.as_int());
  return out;
}
std::vector<double> doubles(const json::Value& m, const char* k) {
  std::vector<double> out;
  for (const auto& e : m.find(k)->as_array()) out.push_back(e.as_double());
  return out;
}

// Header and voxels of `path` against nibabel; read in f64 the voxels must be
// exact (every datatype and scaling here is exact in double), in f32 within
// f32 rounding.
data::NiftiImage check_against_nibabel(const std::string& key, const std::string& path) {
  INFO(key << ": " << path);
  const json::Value m = meta(key);
  const int64_t step = m.find("step")->as_int();
  const data::NiftiImage img = data::read_nifti(path, DType::f64);
  CHECK(img.dims == ints(m, "dims"));
  const auto pixdim = doubles(m, "pixdim");
  REQUIRE(img.pixdim.size() == pixdim.size());
  for (size_t i = 0; i < pixdim.size(); ++i) CHECK(img.pixdim[i] == pixdim[i]);
  CHECK(img.datatype == m.find("datatype")->as_int());
  CHECK(img.bitpix == m.find("bitpix")->as_int());
  CHECK(img.vox_offset == m.find("vox_offset")->as_int());
  CHECK(img.qform_code == m.find("qform_code")->as_int());
  CHECK(img.sform_code == m.find("sform_code")->as_int());
  CHECK(img.big_endian == m.find("big_endian")->as_bool());
  Shape rev(img.dims.rbegin(), img.dims.rend());
  REQUIRE(img.data.sizes() == rev);
  REQUIRE(img.data.dtype() == DType::f64);
  REQUIRE(equal(every(img.data, step), expected().tensors.at(key + ".sub")));
  CHECK(galen::sum(img.data).item() == Approx(expected().tensors.at(key + ".sum").item()).epsilon(1e-12));
  CHECK(min(img.data).item() == m.find("min")->as_double());
  CHECK(max(img.data).item() == m.find("max")->as_double());
  // nibabel's affine is computed from the same float32 header fields in f64.
  const Tensor aff = from_vector<double>(std::vector<double>(img.affine.begin(), img.affine.end()), {4, 4});
  REQUIRE_CLOSE(aff, expected().tensors.at(key + ".affine"), 1e-9, 1e-9);

  const data::NiftiImage f = data::read_nifti(path);
  REQUIRE(f.data.dtype() == DType::f32);
  REQUIRE_CLOSE(f.data, img.data, 0.0, 6e-8);  // one f32 rounding
  return img;
}

}  // namespace

TEST_CASE("read_nifti: every datatype, 4-D, against nibabel", "[data][medical]") {
  for (const char* t : {"uint8", "int8", "int16", "uint16", "int32", "uint32", "float32", "float64"}) {
    const std::string key = std::string("small_") + t;
    const auto img = check_against_nibabel(key, kNii + key + ".nii");
    CHECK(img.data.sizes() == Shape{2, 3, 4, 5});  // (t, z, y, x) of a (5, 4, 3, 2) file
    CHECK(img.pixdim[3] == 0.5);
    CHECK_FALSE(img.big_endian);
  }
  // Memory order: x fastest. Voxel (x=1, y=2, z=1, t=1) of the uint8 ramp
  // (value 7 * flat index mod 256, flat = x + 5 (y + 4 (z + 3 t))).
  const auto u8 = data::read_nifti(kNii + "small_uint8.nii");
  const int64_t flat = 1 + 5 * (2 + 4 * (1 + 3 * 1));
  CHECK(u8.data.select(0, 1).select(0, 1).select(0, 2).select(0, 1).item() == double((7 * flat) % 256));
}

TEST_CASE("read_nifti: big-endian gzip with scaling and a qform; header extensions", "[data][medical]") {
  const auto be = check_against_nibabel("small_be_int16", kNii + "small_be_int16.nii.gz");
  CHECK(be.big_endian);
  CHECK(be.scl_slope == 2.0);
  CHECK(be.scl_inter == -3.0);
  CHECK(be.qform_code == 1);
  CHECK(be.sform_code == 0);
  CHECK(be.affine == be.qform);
  // Stored int16 ramp * 101 - 6000, then * 2 - 3.
  CHECK(be.data.select(0, 0).select(0, 0).select(0, 0).select(0, 1).item() == (101.0 - 6000.0) * 2 - 3);
  const auto ext = check_against_nibabel("small_ext_float32", kNii + "small_ext_float32.nii");
  CHECK(ext.vox_offset == 384);
}

TEST_CASE("read_nifti: the AAL atlas against nibabel", "[data][medical]") {
  const auto aal = check_against_nibabel("aal", kNii + "aal.nii.gz");
  CHECK(aal.data.sizes() == Shape{181, 217, 181});
  CHECK(aal.sform_code == 4);
  CHECK(aal.affine[3] == -90.0);
}

TEST_CASE("read_nifti: the shared Colin27 MRI and head CT against nibabel", "[data][medical]") {
  if (!fs::exists(kSharedNii + "ch2.nii.gz")) {
    WARN("SKIPPED: " << kSharedNii << " is absent (the shared data folder beside the clone)");
    return;
  }
  const auto ch2 = check_against_nibabel("shared.ch2", kSharedNii + "ch2.nii.gz");
  CHECK(ch2.data.sizes() == Shape{181, 217, 181});
  const auto ct = check_against_nibabel("shared.ct_head", kSharedNii + "ct_head.nii.gz");
  CHECK(ct.data.sizes() == Shape{108, 256, 256});
  CHECK(min(ct.data).item() == -1024.0);  // Hounsfield units: air
  // A brain window on the middle axial slice puts air at 0 and bone at 1.
  const Tensor mid = data::middle_slice(ct.data, data::Plane::axial);
  const Tensor w = data::apply_window(mid, 40, 80);
  CHECK(min(w).item() == 0.0);
  CHECK(max(w).item() == 1.0);
}

TEST_CASE("write_nifti: round trips in every datatype, gzip, scaling, geometry", "[data][medical]") {
  TempDir tmp;
  struct Case {
    int code;
    double lo, hi;
  };
  const Case cases[] = {{2, 0, 255},
                        {256, -128, 127},
                        {4, -32768, 32767},
                        {512, 0, 65535},
                        {8, -2147483648.0, 2147483647.0},
                        {768, 0, 4294967295.0},
                        {16, -1e6, 1e6},
                        {64, -1e6, 1e6}};
  int k = 0;
  for (const auto& c : cases) {
    INFO("datatype " << c.code);
    Tensor x = uniform({2, 3, 4, 5}, c.lo, c.hi, DType::f64);
    if (c.code != 16 && c.code != 64) x = x.to(DType::i64).to(DType::f64);  // whole numbers
    if (c.code == 16) x = x.to(DType::f32).to(DType::f64);                  // representable in f32
    data::NiftiWriteOptions o;
    o.datatype = c.code;
    o.pixdim = {0.5, 0.75, 2.0, 3.0};
    o.affine = std::array<double, 16>{0.5, 0, 0, -10, 0, 0.75, 0, 20, 0, 0, 2, 30, 0, 0, 0, 1};
    for (const char* ext : {".nii", ".nii.gz"}) {
      const std::string p = tmp / ("rt" + std::to_string(k++) + ext);
      data::write_nifti(p, x, o);
      const auto back = data::read_nifti(p, DType::f64);
      REQUIRE(back.datatype == c.code);
      REQUIRE(back.dims == std::vector<int64_t>{5, 4, 3, 2});
      REQUIRE(back.pixdim == std::vector<double>{0.5, 0.75, 2.0, 3.0});
      REQUIRE(back.sform_code == 2);
      REQUIRE(back.affine == *o.affine);
      REQUIRE(equal(back.data, x));
    }
  }
  // Default datatypes from the tensor: u8, i32, f32.
  {
    const Tensor u = randint(0, 256, {3, 7}, DType::i64).to(DType::u8);
    data::write_nifti(tmp / "u8.nii", u);
    const auto b = data::read_nifti(tmp / "u8.nii");
    CHECK(b.datatype == 2);
    CHECK(b.sform_code == 0);
    CHECK(b.dims == std::vector<int64_t>{7, 3});
    REQUIRE(equal(b.data, u.to(DType::f32)));
    const Tensor f = randn({4, 2, 3});
    data::write_nifti(tmp / "f.nii.gz", f);
    REQUIRE(equal(data::read_nifti(tmp / "f.nii.gz").data, f));
  }
  // CT-like f32 values stored as int16 with slope 0.5, intercept -1024.
  {
    Tensor hu = (randint(0, 8000, {3, 5, 6}, DType::i64).to(DType::f32) * 0.5f) - 1024.0f;
    data::NiftiWriteOptions o;
    o.datatype = 4;
    o.scl_slope = 0.5;
    o.scl_inter = -1024;
    data::write_nifti(tmp / "hu.nii.gz", hu, o);
    const auto b = data::read_nifti(tmp / "hu.nii.gz");
    CHECK(b.datatype == 4);
    CHECK(b.scl_slope == 0.5);
    REQUIRE(equal(b.data, hu));
  }
  // The AAL atlas written back in its own geometry reads back identical.
  {
    const auto aal = data::read_nifti(kNii + "aal.nii.gz");
    data::NiftiWriteOptions o = data::NiftiWriteOptions::like(aal);
    o.datatype = 2;
    data::write_nifti(tmp / "aal2.nii.gz", aal.data, o);
    const auto b = data::read_nifti(tmp / "aal2.nii.gz");
    REQUIRE(equal(b.data, aal.data));
    REQUIRE(b.affine == aal.affine);
    REQUIRE(b.sform_code == 4);
  }
  // Errors name the file.
  data::NiftiWriteOptions o8;
  o8.datatype = 2;
  REQUIRE_THROWS_WITH(data::write_nifti(tmp / "bad.nii", tensor<float>({1.f, 300.f}), o8),
                      Catch::Contains("bad.nii") && Catch::Contains("300") && Catch::Contains("uint8"));
  o8.datatype = 32;
  REQUIRE_THROWS_WITH(data::write_nifti(tmp / "bad.nii", tensor<float>({1.f}), o8), Catch::Contains("complex64"));
  REQUIRE_THROWS_WITH(data::write_nifti(tmp / "bad.nii", zeros({1, 1, 1, 1, 2})), Catch::Contains("1-D to 4-D"));
  REQUIRE_THROWS_WITH(data::write_nifti(tmp / "no/such/dir/x.nii", zeros({2, 2})), Catch::Contains("x.nii"));
  CHECK_FALSE(fs::exists(tmp / "bad.nii"));
}

TEST_CASE("read_nifti: truncated, garbage and unsupported files name the file and the reason", "[data][medical]") {
  TempDir tmp;
  const std::string good = slurp(kNii + "small_int16.nii");
  auto patched = [&](const std::string& name, size_t off, const std::string& bytes) {
    std::string b = good;
    b.replace(off, bytes.size(), bytes);
    spit(tmp / name, b);
    return tmp / name;
  };
  REQUIRE_THROWS_WITH(data::read_nifti(tmp / "absent.nii"), Catch::Contains("absent.nii"));
  spit(tmp / "short.nii", good.substr(0, 100));
  REQUIRE_THROWS_WITH(data::read_nifti(tmp / "short.nii"),
                      Catch::Contains("short.nii") && Catch::Contains("too short"));
  spit(tmp / "cut.nii", good.substr(0, good.size() - 1));
  REQUIRE_THROWS_WITH(data::read_nifti(tmp / "cut.nii"), Catch::Contains("cut.nii") && Catch::Contains("truncated"));
  // A truncated gzip stream.
  const std::string gz = slurp(kNii + "aal.nii.gz");
  spit(tmp / "cut.nii.gz", gz.substr(0, gz.size() / 2));
  REQUIRE_THROWS_WITH(data::read_nifti(tmp / "cut.nii.gz"),
                      Catch::Contains("cut.nii.gz") && Catch::Contains("truncated"));
  spit(tmp / "text.nii", std::string(400, 'x'));
  REQUIRE_THROWS_WITH(data::read_nifti(tmp / "text.nii"),
                      Catch::Contains("text.nii") && Catch::Contains("not a NIfTI-1"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("magic.nii", 344, std::string("xx1\0", 4))), Catch::Contains("magic"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("pair.nii", 344, std::string("ni1\0", 4))),
                      Catch::Contains(".hdr/.img"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("dim0.nii", 40, std::string("\0\0", 2))), Catch::Contains("dim[0] = 0"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("dim2.nii", 44, std::string("\0\0", 2))), Catch::Contains("dim[2] = 0"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("int64.nii", 70, std::string("\x00\x04", 2))),
                      Catch::Contains("int64") && Catch::Contains("not supported"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("vox.nii", 108, std::string("\0\0\x20\x41", 4))),  // 10.0f
                      Catch::Contains("vox_offset"));
  REQUIRE_THROWS_WITH(data::read_nifti(patched("nifti2.nii", 0, std::string("\x1c\x02\0\0", 4))),  // 540
                      Catch::Contains("NIfTI-2"));
  REQUIRE_THROWS_WITH(data::read_nifti(kNii + "small_complex64.nii"), Catch::Contains("complex64"));
  // 5-D with a real fifth dim.
  REQUIRE_THROWS_WITH(data::read_nifti(patched(
                          "5d.nii", 40, std::string("\x05\0", 2) + std::string("\x05\0\x04\0\x03\0\x02\0\x02\0", 10))),
                      Catch::Contains("up to 4-D"));
  REQUIRE_THROWS_WITH(data::read_nifti(kNii + "small_int16.nii", DType::i32), Catch::Contains("f32 or f64"));
}

TEST_CASE("volume: slices in three planes, resampling, normalisation", "[data][medical]") {
  const Tensor v = arange(0, 2 * 3 * 4, 1, DType::f32).reshape({2, 3, 4});  // (D, H, W)
  const Tensor ax = data::extract_slice(v, data::Plane::axial, 1);
  REQUIRE(equal(ax, arange(12, 24, 1, DType::f32).reshape({3, 4})));
  const Tensor co = data::extract_slice(v, data::Plane::coronal, 2);  // v[:, 2, :]
  REQUIRE(equal(co, tensor<float>({8, 9, 10, 11, 20, 21, 22, 23}).reshape({2, 4})));
  const Tensor sa = data::extract_slice(v, data::Plane::sagittal, 3);  // v[:, :, 3]
  REQUIRE(equal(sa, tensor<float>({3, 7, 11, 15, 19, 23}).reshape({2, 3})));
  REQUIRE(equal(data::middle_slice(v, data::Plane::coronal), data::extract_slice(v, data::Plane::coronal, 1)));
  // A copy, not a view.
  Tensor a2 = data::extract_slice(v, data::Plane::axial, 0);
  a2.fill_(-1);
  CHECK(v.select(0, 0).select(0, 0).select(0, 0).item() == 0.0);
  REQUIRE_THROWS_WITH(data::extract_slice(v, data::Plane::sagittal, 4), Catch::Contains("sagittal index 4"));
  REQUIRE_THROWS_WITH(data::extract_slice(v, data::Plane::axial, -1), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(data::extract_slice(zeros({3, 4}), data::Plane::axial, 0), Catch::Contains("(D, H, W)"));

  // Resampling 0.5 x 1 mm pixels to 1 x 1 mm: half as many rows.
  const Tensor s = randn({6, 5});
  const Tensor r = data::resample_slice(s, 0.5, 1.0, 1.0, 1.0);
  REQUIRE(r.sizes() == Shape{3, 5});
  REQUIRE(equal(r, data::resize(s, 3, 5)));
  REQUIRE(data::resample_slice(s, 1, 1, 4, 4).sizes() == Shape{2, 1});  // rounded, at least 1
  REQUIRE_THROWS_WITH(data::resample_slice(s, 0, 1, 1, 1), Catch::Contains("positive"));

  const Tensor x = tensor<double>({-5, 0, 5, 15});
  REQUIRE_CLOSE(data::normalize_minmax(x), tensor<double>({0, 0.25, 0.5, 1}), 1e-15, 0);
  REQUIRE(equal(data::normalize_minmax(full({3}, 7.0)), zeros({3})));
  // 0..100: the 10th / 90th percentiles are 10 and 90.
  const Tensor ramp = arange(0, 101, 1, DType::f32);
  const Tensor pn = data::normalize_percentile(ramp, 10, 90);
  REQUIRE_CLOSE(pn, clamp((ramp - 10.0) / 80.0, 0.0, 1.0), 1e-7, 0);
  // Between order statistics: linear interpolation (numpy's default).
  const Tensor four = tensor<float>({0, 10, 20, 30});
  REQUIRE_CLOSE(data::normalize_percentile(four, 50, 100), tensor<float>({0, 0, 1 / 3.f, 1}), 1e-7, 0);  // p50 = 15
  REQUIRE_THROWS_WITH(data::normalize_percentile(four, 60, 40), Catch::Contains("lower <= upper"));
  REQUIRE_THROWS_WITH(data::normalize_minmax(Tensor()), Catch::Contains("non-empty"));

  // Real data: the middle coronal slice of the committed MRI series, resampled
  // from (7 mm, 0.86 mm) to 1 mm pixels.
  const auto series = data::read_dicom_series(kMed + "series");
  const Tensor cor = data::middle_slice(series.volume, data::Plane::coronal);
  REQUIRE(cor.sizes() == Shape{3, 256});
  const Tensor iso = data::resample_slice(cor, series.spacing[0], series.spacing[2], 1.0, 1.0);
  REQUIRE(iso.sizes() == Shape{21, 220});
  const Tensor n = data::normalize_percentile(iso);
  CHECK(min(n).item() == 0.0);
  CHECK(max(n).item() == 1.0);
}
