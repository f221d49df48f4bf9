// NIfTI-1 reader / writer (see nifti.h). The 348-byte header is read field by
// field at the offsets nifti1.h defines, in the byte order sizeof_hdr reveals;
// every size is checked against the bytes present before any data is touched.
#include "galen/data/nifti.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "galen/core/error.h"
#include "galen/data/idx.h"

namespace galen::data {

namespace {

constexpr size_t kHeaderSize = 348;
constexpr int64_t kMaxVoxels = int64_t(1) << 32;

// Header field offsets (nifti1.h).
enum : size_t {
  kDim = 40,
  kDatatype = 70,
  kBitpix = 72,
  kPixdim = 76,
  kVoxOffset = 108,
  kSclSlope = 112,
  kSclInter = 116,
  kXyztUnits = 123,
  kDescrip = 148,
  kQformCode = 252,
  kSformCode = 254,
  kQuatern = 256,
  kSrow = 280,
  kMagic = 344
};

struct TypeInfo {
  int code;
  int bytes;
  const char* name;
};
constexpr TypeInfo kTypes[] = {{2, 1, "uint8"}, {256, 1, "int8"},   {4, 2, "int16"},    {512, 2, "uint16"},
                               {8, 4, "int32"}, {768, 4, "uint32"}, {16, 4, "float32"}, {64, 8, "float64"}};

const TypeInfo* find_type(int code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

std::string type_name_of(int code) {
  if (const auto* t = find_type(code)) return t->name;
  switch (code) {
    case 1:
      return "binary";
    case 32:
      return "complex64";
    case 128:
      return "rgb24";
    case 1024:
      return "int64";
    case 1280:
      return "uint64";
    case 1536:
      return "float128";
    case 1792:
      return "complex128";
    case 2048:
      return "complex256";
    case 2304:
      return "rgba32";
    default:
      return "unknown (" + std::to_string(code) + ")";
  }
}

// Reads little- or big-endian scalars out of a byte buffer.
struct Reader {
  const unsigned char* p;
  bool swap;
  template <typename T>
  T get(size_t off) const {
    unsigned char b[sizeof(T)];
    std::memcpy(b, p + off, sizeof(T));
    if (swap)
      for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
  }
};

// Rotation from the quaternion (b, c, d), a = sqrt(1 - b^2 - c^2 - d^2), then
// scale by (dx, dy, qfac * dz) and translate (nifti1.h, method 2).
std::array<double, 16> qform_matrix(double b, double c, double d, double qx, double qy, double qz, double dx, double dy,
                                    double dz, double qfac) {
  double a = 1.0 - (b * b + c * c + d * d);
  if (a < 1e-7) {  // b, c, d describe a 180-degree rotation: renormalise them
    const double n = 1.0 / std::sqrt(b * b + c * c + d * d);
    b *= n, c *= n, d *= n;
    a = 0.0;
  } else {
    a = std::sqrt(a);
  }
  const double r[3][3] = {{a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)},
                          {2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)},
                          {2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b}};
  const double s[3] = {dx, dy, qfac * dz};
  const double t[3] = {qx, qy, qz};
  std::array<double, 16> m{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) m[4 * i + j] = r[i][j] * s[j];
    m[4 * i + 3] = t[i];
  }
  m[15] = 1.0;
  return m;
}

template <typename S>
void convert(const unsigned char* src, int64_t n, bool swap, double slope, double inter, bool scaled, DType dtype,
             void* dst) {
  auto load = [&](int64_t i) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, src + i * sizeof(S), sizeof(S));
    if (swap)
      for (size_t k = 0; k < sizeof(S) / 2; ++k) std::swap(b[k], b[sizeof(S) - 1 - k]);
    S v;
    std::memcpy(&v, b, sizeof(S));
    const double x = static_cast<double>(v);
    return scaled ? x * slope + inter : x;
  };
  if (dtype == DType::f32) {
    float* o = static_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(load(i));
  } else {
    double* o = static_cast<double*>(dst);
    for (int64_t i = 0; i < n; ++i) o[i] = load(i);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    GALEN_FAIL("write_nifti: cannot create '", tmp, "' (for '", path, "'): ", std::strerror(err));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      GALEN_FAIL("write_nifti: writing '", tmp, "' (for '", path, "') failed: ", std::strerror(err));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GALEN_FAIL("write_nifti: flushing '", tmp, "' (for '", path, "') failed: ", std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GALEN_FAIL("write_nifti: cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

std::string gzip(const std::string& raw, const std::string& path) {
  z_stream zs{};
  GALEN_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
              "write_nifti: zlib init failed for '", path, "'");
  std::string out(deflateBound(&zs, static_cast<uLong>(raw.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  GALEN_CHECK(rc == Z_STREAM_END, "write_nifti: gzip compression failed for '", path, "' (zlib ", rc, ")");
  out.resize(produced);
  return out;
}

template <typename T>
void put(std::string& h, size_t off, T v) {
  std::memcpy(h.data() + off, &v, sizeof(T));
}

}  // namespace

NiftiImage parse_nifti(const std::string& bytes, const std::string& what, DType dtype) {
  GALEN_CHECK(dtype == DType::f32 || dtype == DType::f64, "read_nifti: dtype must be f32 or f64, got ",
              dtype_name(dtype));
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  GALEN_CHECK(bytes.size() >= kHeaderSize, "read_nifti: '", what, "' is too short for a NIfTI-1 header (", bytes.size(),
              " bytes, need 348)");
  int32_t sz;
  std::memcpy(&sz, p, 4);
  const int32_t sz_swapped = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(sz)));
  GALEN_CHECK(sz != 540 && sz_swapped != 540, "read_nifti: '", what, "' is NIfTI-2 (sizeof_hdr 540), not supported");
  GALEN_CHECK(sz == 348 || sz_swapped == 348, "read_nifti: '", what,
              "' is not a NIfTI-1 file (sizeof_hdr is neither 348 nor 348 byte-swapped)");
  const Reader r{p, sz != 348};
  NiftiImage img;
  img.big_endian = r.swap;  // this reader assumes a little-endian host (x86, ARM)
  const char* magic = reinterpret_cast<const char*>(p + kMagic);
  GALEN_CHECK(std::memcmp(magic, "ni1", 4) != 0, "read_nifti: '", what,
              "' is the header of a two-file (.hdr/.img) NIfTI pair; only single-file .nii is supported");
  GALEN_CHECK(std::memcmp(magic, "n+1", 4) == 0, "read_nifti: '", what, "' has no NIfTI-1 magic \"n+1\"");

  const int ndim = r.get<int16_t>(kDim);
  GALEN_CHECK(ndim >= 1 && ndim <= 7, "read_nifti: '", what, "': dim[0] = ", ndim, " (must be 1..7)");
  std::vector<int64_t> dims;
  for (int i = 1; i <= ndim; ++i) {
    const int64_t d = r.get<int16_t>(kDim + 2 * i);
    GALEN_CHECK(d >= 1, "read_nifti: '", what, "': dim[", i, "] = ", d, " (must be >= 1)");
    dims.push_back(d);
  }
  while (dims.size() > 1 && dims.back() == 1) dims.pop_back();
  GALEN_CHECK(dims.size() <= 4, "read_nifti: '", what, "' has ", dims.size(), " dims ", dims,
              "; only up to 4-D (x, y, z, t) is supported");
  img.dims = dims;
  img.qfac = r.get<float>(kPixdim);
  if (img.qfac != -1.0) img.qfac = 1.0;  // 0 or anything else means 1 (nifti1.h)
  for (size_t i = 1; i <= dims.size(); ++i) img.pixdim.push_back(r.get<float>(kPixdim + 4 * i));

  img.datatype = r.get<int16_t>(kDatatype);
  img.bitpix = r.get<int16_t>(kBitpix);
  const TypeInfo* ti = find_type(img.datatype);
  GALEN_CHECK(ti != nullptr, "read_nifti: '", what, "' has datatype ", type_name_of(img.datatype),
              ", which is not supported (uint8, int8, int16, uint16, int32, uint32, float32, float64)");

  const double vox = r.get<float>(kVoxOffset);
  GALEN_CHECK(std::isfinite(vox) && vox >= static_cast<double>(kHeaderSize) && vox == std::floor(vox) && vox < 1e12,
              "read_nifti: '", what, "': vox_offset ", vox, " is not a whole number >= 348");
  img.vox_offset = static_cast<int64_t>(vox);
  img.scl_slope = r.get<float>(kSclSlope);
  img.scl_inter = r.get<float>(kSclInter);
  img.xyzt_units = p[kXyztUnits];
  img.description.assign(reinterpret_cast<const char*>(p + kDescrip),
                         strnlen(reinterpret_cast<const char*>(p + kDescrip), 80));

  img.qform_code = r.get<int16_t>(kQformCode);
  img.sform_code = r.get<int16_t>(kSformCode);
  const double pd[3] = {img.pixdim.size() > 0 ? img.pixdim[0] : 1.0, img.pixdim.size() > 1 ? img.pixdim[1] : 1.0,
                        img.pixdim.size() > 2 ? img.pixdim[2] : 1.0};
  img.qform = qform_matrix(r.get<float>(kQuatern), r.get<float>(kQuatern + 4), r.get<float>(kQuatern + 8),
                           r.get<float>(kQuatern + 12), r.get<float>(kQuatern + 16), r.get<float>(kQuatern + 20), pd[0],
                           pd[1], pd[2], img.qfac);
  for (int i = 0; i < 12; ++i) img.sform[i] = r.get<float>(kSrow + 4 * i);
  img.sform[15] = 1.0;
  if (img.sform_code > 0) {
    img.affine = img.sform;
  } else if (img.qform_code > 0) {
    img.affine = img.qform;
  } else {
    img.affine = {pd[0], 0, 0, 0, 0, pd[1], 0, 0, 0, 0, pd[2], 0, 0, 0, 0, 1};
  }

  int64_t n = 1;
  for (int64_t d : dims) {
    GALEN_CHECK(n <= kMaxVoxels / d, "read_nifti: '", what, "' declares an absurd size ", dims);
    n *= d;
  }
  const uint64_t need = static_cast<uint64_t>(img.vox_offset) + static_cast<uint64_t>(n) * ti->bytes;
  GALEN_CHECK(bytes.size() >= need, "read_nifti: '", what, "' is truncated: ", dims, " ", ti->name,
              " voxels at offset ", img.vox_offset, " need ", need, " bytes, the file has ", bytes.size());

  const bool scaled = img.scl_slope != 0.0 && std::isfinite(img.scl_slope);
  const double slope = img.scl_slope, inter = std::isfinite(img.scl_inter) ? img.scl_inter : 0.0;
  Shape shape(dims.rbegin(), dims.rend());
  img.data = empty(shape, dtype);
  const unsigned char* src = p + img.vox_offset;
  void* dst = img.data.data_ptr();
  switch (img.datatype) {
    case 2:
      convert<uint8_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 256:
      convert<int8_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 4:
      convert<int16_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 512:
      convert<uint16_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 8:
      convert<int32_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 768:
      convert<uint32_t>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 16:
      convert<float>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
    case 64:
      convert<double>(src, n, r.swap, slope, inter, scaled, dtype, dst);
      break;
  }
  return img;
}

NiftiImage read_nifti(const std::string& path, DType dtype) {
  return parse_nifti(read_file_maybe_gz(path), path, dtype);
}

NiftiWriteOptions NiftiWriteOptions::like(const NiftiImage& img) {
  NiftiWriteOptions o;
  o.pixdim = img.pixdim;
  o.affine = img.affine;
  o.sform_code = img.sform_code > 0 ? img.sform_code : (img.qform_code > 0 ? img.qform_code : 2);
  o.xyzt_units = img.xyzt_units;
  return o;
}

static std::string encode(const Tensor& data, const NiftiWriteOptions& o, const std::string& what) {
  GALEN_CHECK(data.defined() && data.dim() >= 1 && data.dim() <= 4, "write_nifti: '", what,
              "': data must be 1-D to 4-D (t, z, y, x), got ", data.defined() ? data.sizes() : Shape{});
  for (int64_t s : data.sizes())
    GALEN_CHECK(s >= 1 && s <= 32767, "write_nifti: '", what,
                "': every dim must be 1..32767 (NIfTI-1 stores shorts), got ", data.sizes());
  int code = o.datatype;
  if (code == 0) {
    switch (data.dtype()) {
      case DType::u8:
      case DType::boolean:
        code = 2;
        break;
      case DType::i32:
      case DType::i64:
        code = 8;
        break;
      case DType::f32:
        code = 16;
        break;
      case DType::f64:
        code = 64;
        break;
      default:
        GALEN_FAIL("write_nifti: '", what, "': no NIfTI datatype for ", dtype_name(data.dtype()),
                   "; set options.datatype");
    }
  }
  const TypeInfo* ti = find_type(code);
  GALEN_CHECK(ti != nullptr, "write_nifti: '", what, "': datatype ", type_name_of(code),
              " is not supported for writing");
  GALEN_CHECK(o.pixdim.size() <= 4, "write_nifti: '", what, "': pixdim has ", o.pixdim.size(),
              " entries (at most x, y, z, t)");
  GALEN_CHECK(std::isfinite(o.scl_slope) && std::isfinite(o.scl_inter), "write_nifti: '", what,
              "': scl_slope / scl_inter must be finite");

  const int64_t nd = data.dim();
  std::string h(352, '\0');  // header + 4 zero extension bytes
  put<int32_t>(h, 0, 348);
  put<int16_t>(h, kDim, static_cast<int16_t>(nd));
  for (int64_t i = 0; i < nd; ++i) put<int16_t>(h, kDim + 2 * (i + 1), static_cast<int16_t>(data.size(nd - 1 - i)));
  for (int64_t i = nd + 1; i <= 7; ++i) put<int16_t>(h, kDim + 2 * i, 1);
  put<int16_t>(h, kDatatype, static_cast<int16_t>(code));
  put<int16_t>(h, kBitpix, static_cast<int16_t>(8 * ti->bytes));
  put<float>(h, kPixdim, 1.0f);
  for (int i = 1; i <= 7; ++i) {
    const double v = static_cast<size_t>(i) <= o.pixdim.size() ? o.pixdim[i - 1] : 1.0;
    GALEN_CHECK(std::isfinite(v), "write_nifti: '", what, "': pixdim must be finite");
    put<float>(h, kPixdim + 4 * i, static_cast<float>(v));
  }
  put<float>(h, kVoxOffset, 352.0f);
  put<float>(h, kSclSlope, static_cast<float>(o.scl_slope));
  put<float>(h, kSclInter, static_cast<float>(o.scl_inter));
  h[kXyztUnits] = static_cast<char>(o.xyzt_units);
  std::memcpy(h.data() + kDescrip, o.description.data(), std::min<size_t>(o.description.size(), 79));
  if (o.affine) {
    GALEN_CHECK(o.sform_code >= 1 && o.sform_code <= 4, "write_nifti: '", what, "': sform_code must be 1..4, got ",
                o.sform_code);
    put<int16_t>(h, kSformCode, static_cast<int16_t>(o.sform_code));
    for (int i = 0; i < 12; ++i) {
      GALEN_CHECK(std::isfinite((*o.affine)[i]), "write_nifti: '", what, "': the affine must be finite");
      put<float>(h, kSrow + 4 * i, static_cast<float>((*o.affine)[i]));
    }
  }
  std::memcpy(h.data() + kMagic, "n+1\0", 4);

  const Tensor src = data.detach().cpu().to(DType::f64).contiguous();
  const double* v = src.data<double>();
  const int64_t n = src.numel();
  const bool scaled = o.scl_slope != 0.0;
  std::string body(static_cast<size_t>(n) * ti->bytes, '\0');
  auto store_int = [&](auto tag) {
    using T = decltype(tag);
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    for (int64_t i = 0; i < n; ++i) {
      const double x = std::nearbyint(scaled ? (v[i] - o.scl_inter) / o.scl_slope : v[i]);
      GALEN_CHECK(x >= lo && x <= hi, "write_nifti: '", what, "': value ", v[i], " at flat index ", i, " does not fit ",
                  ti->name, scaled ? " after scaling" : "");
      const T t = static_cast<T>(x);
      std::memcpy(body.data() + i * sizeof(T), &t, sizeof(T));
    }
  };
  auto store_float = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      const T t = static_cast<T>(scaled ? (v[i] - o.scl_inter) / o.scl_slope : v[i]);
      std::memcpy(body.data() + i * sizeof(T), &t, sizeof(T));
    }
  };
  switch (code) {
    case 2:
      store_int(uint8_t{});
      break;
    case 256:
      store_int(int8_t{});
      break;
    case 4:
      store_int(int16_t{});
      break;
    case 512:
      store_int(uint16_t{});
      break;
    case 8:
      store_int(int32_t{});
      break;
    case 768:
      store_int(uint32_t{});
      break;
    case 16:
      store_float(float{});
      break;
    case 64:
      store_float(double{});
      break;
  }
  return h + body;
}

std::string encode_nifti(const Tensor& data, const NiftiWriteOptions& options) {
  return encode(data, options, "<memory>");
}

void write_nifti(const std::string& path, const Tensor& data, const NiftiWriteOptions& options) {
  const std::string bytes = encode(data, options, path);
  const bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  write_file_atomic(path, gz ? gzip(bytes, path) : bytes);
}

}  // namespace galen::data
