// DICOM reading through DCMTK (see dicom.h): DCMTK parses the file and runs its
// codecs; the stored values are unpacked, rescaled and inverted here.
#include "galen/data/dicom.h"

// DCMTK wants its configuration header first.
#include "dcmtk/config/osconfig.h"
// clang-format off
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"
// clang-format on

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/ops.h"

namespace galen::data {

namespace {

static_assert(std::endian::native == std::endian::little,
              "dicom.cpp reads DCMTK's host-order pixel words as little-endian bytes");

constexpr int64_t kMaxElements = int64_t(1) << 31;

// Decoders once per process; DCMTK's registry is itself locked, the once-flag
// keeps two threads from registering twice.
void init_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();    // JPEG baseline / extended / lossless (IJG 8, 12, 16 bit)
    DJLSDecoderRegistration::registerCodecs();  // JPEG-LS (CharLS)
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string tag_text(const DcmTagKey& tag) {
  DcmTag t(tag);
  return std::string(t.getTagName()) + " " + tag.toString().c_str();
}

// A tag's string value (first value), "" when absent.
std::string get_str(DcmDataset* ds, const DcmTagKey& tag) {
  OFString s;
  if (ds->findAndGetOFString(tag, s).bad()) return "";
  return trim(s.c_str());
}

// All values of a DS / FD / FL (or IS) attribute as doubles; empty when absent
// or empty. A value that does not parse is an error naming the attribute.
std::vector<double> get_f64s(DcmDataset* ds, const DcmTagKey& tag, const std::string& path) {
  DcmElement* e = nullptr;
  if (ds->findAndGetElement(tag, e).bad() || e == nullptr || e->getLength() == 0) return {};
  std::vector<double> out;
  const unsigned long vm = e->getVM();
  for (unsigned long i = 0; i < vm; ++i) {
    Float64 v = 0;
    OFCondition c = e->getFloat64(v, i);
    if (c.bad()) {
      Sint32 iv = 0;
      OFCondition ci = e->getSint32(iv, i);
      GALEN_CHECK(ci.good(), "read_dicom: '", path, "': ", tag_text(tag), " value ", i, " is not a number (", c.text(),
                  ")");
      v = iv;
    }
    GALEN_CHECK(std::isfinite(v), "read_dicom: '", path, "': ", tag_text(tag), " value ", i, " is not finite");
    out.push_back(v);
  }
  return out;
}

std::optional<double> get_f64(DcmDataset* ds, const DcmTagKey& tag, const std::string& path) {
  auto v = get_f64s(ds, tag, path);
  if (v.empty()) return std::nullopt;
  return v[0];
}

// An unsigned short (US) attribute; `required` ones must be present.
std::optional<int> get_us(DcmDataset* ds, const DcmTagKey& tag, const std::string& path, bool required) {
  Uint16 v = 0;
  OFCondition c = ds->findAndGetUint16(tag, v);
  if (c.good()) return static_cast<int>(v);
  GALEN_CHECK(!required, "read_dicom: '", path, "' has no usable ", tag_text(tag), " (", c.text(), ")");
  return std::nullopt;
}

template <size_t N>
std::optional<std::array<double, N>> get_fixed(DcmDataset* ds, const DcmTagKey& tag, const std::string& path) {
  auto v = get_f64s(ds, tag, path);
  if (v.empty()) return std::nullopt;
  GALEN_CHECK(v.size() == N, "read_dicom: '", path, "': ", tag_text(tag), " has ", v.size(), " values, expected ", N);
  std::array<double, N> a{};
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

// Stored values -> modality units. `bytes` is the native (decoded) Pixel Data
// in host = little-endian order.
void unpack(const uint8_t* bytes, const DicomData& d, float* out) {
  const int64_t n = d.frames * d.rows * d.cols;
  const int shift = d.high_bit + 1 - d.bits_stored;
  const uint64_t mask = (d.bits_stored >= 32) ? 0xffffffffull : ((uint64_t(1) << d.bits_stored) - 1);
  const uint64_t sign = uint64_t(1) << (d.bits_stored - 1);
  const double slope = d.rescale_slope, inter = d.rescale_intercept;
  auto value = [&](uint64_t raw) -> double {
    const uint64_t u = (raw >> shift) & mask;
    const int64_t s = (d.is_signed && (u & sign)) ? static_cast<int64_t>(u) - static_cast<int64_t>(mask) - 1
                                                  : static_cast<int64_t>(u);
    return static_cast<double>(s) * slope + inter;
  };
  switch (d.bits_allocated) {
    case 1:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(value((bytes[i >> 3] >> (i & 7)) & 1u));
      break;
    case 8:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(value(bytes[i]));
      break;
    case 16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t w;
        std::memcpy(&w, bytes + 2 * i, 2);
        out[i] = static_cast<float>(value(w));
      }
      break;
    case 32:
      for (int64_t i = 0; i < n; ++i) {
        uint32_t w;
        std::memcpy(&w, bytes + 4 * i, 4);
        out[i] = static_cast<float>(value(w));
      }
      break;
  }
}

DicomData read_one(const std::string& path, bool with_pixels) {
  init_dcmtk();
  GALEN_CHECK(dcmDataDict.isDictionaryLoaded(), "read_dicom: DCMTK's data dictionary is not loaded (is ",
              DCM_DICT_DEFAULT_PATH, " installed? DCMDICTPATH can point to dicom.dic); cannot read '", path, "'");
  std::error_code ec;
  GALEN_CHECK(std::filesystem::is_regular_file(path, ec), "read_dicom: '", path, "' does not exist or is not a file");

  DcmFileFormat file;
  // Read every value now (no lazy loading from the file later), so a truncated
  // file fails here with DCMTK's reason.
  OFCondition c = file.loadFile(OFFilename(path.c_str()), EXS_Unknown, EGL_noChange, std::numeric_limits<Uint32>::max(),
                                ERM_autoDetect);
  GALEN_CHECK(c.good(), "read_dicom: cannot parse '", path, "' as DICOM: ", c.text());
  DcmDataset* ds = file.getDataset();
  GALEN_CHECK(ds != nullptr, "read_dicom: '", path, "' has no dataset");

  DicomData d;
  d.path = path;
  const DcmXfer xfer(ds->getOriginalXfer());
  d.transfer_syntax = xfer.getXferID();
  d.transfer_syntax_name = xfer.getXferName();
  const std::string ts_text = d.transfer_syntax + " (" + d.transfer_syntax_name + ")";

  // Photometric / samples first: refuse colour before spending time decoding it.
  const int samples = get_us(ds, DCM_SamplesPerPixel, path, false).value_or(1);
  d.photometric = get_str(ds, DCM_PhotometricInterpretation);
  GALEN_CHECK(ds->tagExists(DCM_PixelData), "read_dicom: '", path, "' has no Pixel Data (7fe0,0010): not an image",
              ds->tagExists(DCM_FloatPixelData) || ds->tagExists(DCM_DoubleFloatPixelData)
                  ? " (float pixel data is not supported)"
                  : "");
  GALEN_CHECK(samples == 1 && (d.photometric == "MONOCHROME1" || d.photometric == "MONOCHROME2"), "read_dicom: '", path,
              "' is not a grayscale image (Photometric Interpretation '", d.photometric, "', ", samples,
              " samples per pixel): only MONOCHROME1 / MONOCHROME2 are supported");

  d.rows = get_us(ds, DCM_Rows, path, true).value();
  d.cols = get_us(ds, DCM_Columns, path, true).value();
  d.bits_allocated = get_us(ds, DCM_BitsAllocated, path, true).value();
  {
    Sint32 nf = 1;
    if (ds->tagExistsWithValue(DCM_NumberOfFrames)) {
      c = ds->findAndGetSint32(DCM_NumberOfFrames, nf);
      GALEN_CHECK(c.good(), "read_dicom: '", path, "': Number of Frames is not a number (", c.text(), ")");
    }
    d.frames = nf;
  }
  GALEN_CHECK(d.rows > 0 && d.cols > 0 && d.frames > 0, "read_dicom: '", path, "' declares an empty image: ", d.rows,
              " rows, ", d.cols, " columns, ", d.frames, " frames");
  GALEN_CHECK(d.rows * d.cols * d.frames <= kMaxElements, "read_dicom: '", path,
              "' declares an absurd size: ", d.frames, " frames of ", d.rows, "x", d.cols);
  GALEN_CHECK(d.bits_allocated == 1 || d.bits_allocated == 8 || d.bits_allocated == 16 || d.bits_allocated == 32,
              "read_dicom: '", path, "': Bits Allocated ", d.bits_allocated, " is not supported (1, 8, 16, 32)");

  if (xfer.isEncapsulated()) {
    c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    GALEN_CHECK(c.good() && ds->canWriteXfer(EXS_LittleEndianExplicit), "read_dicom: cannot decompress '", path,
                "' (transfer syntax ", ts_text,
                "): ", c.good() ? std::string("no DCMTK decoder for it") : std::string(c.text()));
  }
  // Read after decoding: codecs may rewrite the pixel module.
  d.bits_allocated = get_us(ds, DCM_BitsAllocated, path, true).value();
  d.bits_stored = get_us(ds, DCM_BitsStored, path, false).value_or(d.bits_allocated);
  d.high_bit = get_us(ds, DCM_HighBit, path, false).value_or(d.bits_stored - 1);
  d.is_signed = get_us(ds, DCM_PixelRepresentation, path, false).value_or(0) == 1;
  GALEN_CHECK(d.bits_stored >= 1 && d.bits_stored <= d.bits_allocated && d.high_bit >= d.bits_stored - 1 &&
                  d.high_bit < d.bits_allocated,
              "read_dicom: '", path, "': inconsistent pixel layout (Bits Allocated ", d.bits_allocated,
              ", Bits Stored ", d.bits_stored, ", High Bit ", d.high_bit, ")");

  d.rescale_slope = get_f64(ds, DCM_RescaleSlope, path).value_or(1.0);
  d.rescale_intercept = get_f64(ds, DCM_RescaleIntercept, path).value_or(0.0);
  d.window_center = get_f64(ds, DCM_WindowCenter, path);
  d.window_width = get_f64(ds, DCM_WindowWidth, path);
  if (!d.window_center || !d.window_width || *d.window_width <= 0) d.window_center.reset(), d.window_width.reset();
  d.pixel_spacing = get_fixed<2>(ds, DCM_PixelSpacing, path);
  d.slice_thickness = get_f64(ds, DCM_SliceThickness, path);
  d.image_position = get_fixed<3>(ds, DCM_ImagePositionPatient, path);
  d.image_orientation = get_fixed<6>(ds, DCM_ImageOrientationPatient, path);
  if (ds->tagExistsWithValue(DCM_InstanceNumber)) {
    Sint32 v = 0;
    if (ds->findAndGetSint32(DCM_InstanceNumber, v).good()) d.instance_number = v;
  }
  d.modality = get_str(ds, DCM_Modality);
  d.patient_id = get_str(ds, DCM_PatientID);
  d.study_uid = get_str(ds, DCM_StudyInstanceUID);
  d.series_uid = get_str(ds, DCM_SeriesInstanceUID);
  d.sop_instance_uid = get_str(ds, DCM_SOPInstanceUID);

  // The stored-value range in modality units, for MONOCHROME1 inversion.
  const int bs = d.bits_stored;
  const double lo_s = d.is_signed ? -std::ldexp(1.0, bs - 1) : 0.0;
  const double hi_s = d.is_signed ? std::ldexp(1.0, bs - 1) - 1 : std::ldexp(1.0, bs) - 1;
  const double flip = (lo_s * d.rescale_slope + d.rescale_intercept) + (hi_s * d.rescale_slope + d.rescale_intercept);
  d.inverted = d.photometric == "MONOCHROME1";
  if (d.inverted && d.window_center) d.window_center = flip - *d.window_center;

  if (!with_pixels) return d;

  DcmElement* pd = nullptr;
  c = ds->findAndGetElement(DCM_PixelData, pd);
  GALEN_CHECK(c.good() && pd != nullptr, "read_dicom: '", path, "': cannot access Pixel Data (", c.text(), ")");
  const uint8_t* bytes = nullptr;
  const size_t have = pd->getLength();
  if (pd->getVR() == EVR_OB) {
    Uint8* p = nullptr;
    c = pd->getUint8Array(p);
    bytes = p;
  } else {
    Uint16* p = nullptr;
    c = pd->getUint16Array(p);
    bytes = reinterpret_cast<const uint8_t*>(p);
  }
  GALEN_CHECK(c.good() && (bytes != nullptr || have == 0), "read_dicom: '", path, "': cannot read Pixel Data (",
              c.text(), ")");
  const int64_t n = d.frames * d.rows * d.cols;
  const size_t need = d.bits_allocated == 1 ? static_cast<size_t>((n + 7) / 8)
                                            : static_cast<size_t>(n) * static_cast<size_t>(d.bits_allocated / 8);
  GALEN_CHECK(have >= need, "read_dicom: '", path, "': Pixel Data is truncated: ", d.frames, " frame(s) of ", d.rows,
              "x", d.cols, " at ", d.bits_allocated, " bits need ", need, " bytes, the file has ", have);

  std::vector<uint8_t> swapped;
  if (d.bits_allocated == 32 && pd->getVR() != EVR_OB && DcmXfer(ds->getOriginalXfer()).isBigEndian()) {
    // DCMTK swaps OW values as 16-bit words; a 32-bit big-endian sample also
    // needs its two words exchanged.
    swapped.assign(bytes, bytes + need);
    for (size_t i = 0; i + 3 < need; i += 4) {
      std::swap(swapped[i], swapped[i + 2]);
      std::swap(swapped[i + 1], swapped[i + 3]);
    }
    bytes = swapped.data();
  }

  d.pixels = empty({d.frames, d.rows, d.cols}, DType::f32);
  float* out = d.pixels.data<float>();
  unpack(bytes, d, out);
  if (d.inverted) {
    const float f = static_cast<float>(flip);
    for (int64_t i = 0; i < n; ++i) out[i] = f - out[i];
  }
  return d;
}

}  // namespace

DicomData read_dicom(const std::string& path) { return read_one(path, true); }

Tensor apply_window(const Tensor& x, double centre, double width) {
  GALEN_CHECK(x.defined(), "apply_window: undefined tensor");
  GALEN_CHECK(std::isfinite(centre) && std::isfinite(width) && width > 0,
              "apply_window: width must be > 0 (got centre ", centre, ", width ", width, ")");
  NoGradGuard ng;
  const Tensor xf = x.detach().to(DType::f32);
  return clamp((xf - (centre - width / 2)) / width, 0.0, 1.0);
}

DicomSeries read_dicom_series(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  GALEN_CHECK(fs::is_directory(directory, ec), "read_dicom_series: '", directory, "' is not a directory");
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(directory, ec))
    if (e.is_regular_file()) paths.push_back(e.path().string());
  GALEN_CHECK(!ec, "read_dicom_series: cannot list '", directory, "': ", ec.message());
  GALEN_CHECK(!paths.empty(), "read_dicom_series: '", directory, "' holds no files");
  std::sort(paths.begin(), paths.end());
  return read_dicom_series(paths);
}

DicomSeries read_dicom_series(const std::vector<std::string>& paths) {
  GALEN_CHECK(!paths.empty(), "read_dicom_series: no files given");
  std::vector<DicomData> sl;
  sl.reserve(paths.size());
  for (const auto& p : paths) {
    sl.push_back(read_dicom(p));
    GALEN_CHECK(sl.back().frames == 1, "read_dicom_series: '", p, "' has ", sl.back().frames,
                " frames; a series is built from single-frame files (read multi-frame files with read_dicom)");
  }
  const DicomData& first = sl[0];
  for (const auto& s : sl) {
    GALEN_CHECK(s.rows == first.rows && s.cols == first.cols, "read_dicom_series: '", s.path, "' is ", s.rows, "x",
                s.cols, " but '", first.path, "' is ", first.rows, "x", first.cols);
    GALEN_CHECK(s.series_uid == first.series_uid, "read_dicom_series: '", s.path, "' belongs to series ", s.series_uid,
                ", '", first.path, "' to ", first.series_uid);
  }
  const bool geometric = std::all_of(sl.begin(), sl.end(), [](const DicomData& s) {
    return s.image_position.has_value() && s.image_orientation.has_value();
  });
  std::vector<double> key(sl.size());
  std::array<double, 3> normal{0, 0, 1};
  if (geometric) {
    const auto& o = *first.image_orientation;
    normal = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    const double len = std::sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
    GALEN_CHECK(len > 1e-6, "read_dicom_series: '", first.path, "' has degenerate Image Orientation (Patient)");
    for (auto& v : normal) v /= len;
    for (size_t i = 0; i < sl.size(); ++i) {
      const auto& oi = *sl[i].image_orientation;
      for (int k = 0; k < 6; ++k)
        GALEN_CHECK(std::fabs(oi[k] - o[k]) <= 1e-4, "read_dicom_series: '", sl[i].path,
                    "' has a different Image Orientation (Patient) from '", first.path, "' (",
                    std::vector(oi.begin(), oi.end()), " vs ", std::vector(o.begin(), o.end()), ")");
      const auto& p = *sl[i].image_position;
      key[i] = p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
    }
  } else {
    for (size_t i = 0; i < sl.size(); ++i) {
      GALEN_CHECK(sl[i].instance_number.has_value(), "read_dicom_series: cannot order '", sl[i].path,
                  "': it has neither Image Position / Orientation (Patient) nor Instance Number");
      key[i] = static_cast<double>(*sl[i].instance_number);
    }
  }
  std::vector<size_t> order(sl.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
  for (size_t i = 1; i < order.size(); ++i)
    GALEN_CHECK(key[order[i]] - key[order[i - 1]] > 1e-6, "read_dicom_series: '", sl[order[i]].path, "' and '",
                sl[order[i - 1]].path, "' are at the same ", geometric ? "position" : "instance number", " (",
                key[order[i]], ")");

  DicomSeries out;
  const int64_t D = static_cast<int64_t>(sl.size()), H = first.rows, W = first.cols;
  out.volume = empty({D, H, W}, DType::f32);
  float* v = out.volume.data<float>();
  for (int64_t z = 0; z < D; ++z) {
    DicomData& s = sl[order[z]];
    std::memcpy(v + z * H * W, s.pixels.data<float>(), sizeof(float) * H * W);
    s.pixels = Tensor();
    out.slices.push_back(std::move(s));
  }
  if (first.pixel_spacing) {
    out.spacing[1] = (*first.pixel_spacing)[0];
    out.spacing[2] = (*first.pixel_spacing)[1];
  }
  if (geometric && D > 1) {
    out.spacing[0] = (key[order[D - 1]] - key[order[0]]) / static_cast<double>(D - 1);
  } else {
    // Spacing Between Slices is not kept in DicomData; thickness is the fallback.
    if (first.slice_thickness && *first.slice_thickness > 0) out.spacing[0] = *first.slice_thickness;
  }
  if (geometric) {
    out.origin = out.slices[0].image_position;
    out.orientation = out.slices[0].image_orientation;
  }
  return out;
}

}  // namespace galen::data
