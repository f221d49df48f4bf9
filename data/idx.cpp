// IDX reader (see idx.h).
#include "galen/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "galen/core/error.h"

namespace galen::data {

namespace {
constexpr size_t kMaxBytes = size_t(4) << 30;  // refuse to inflate past 4 GiB

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
}  // namespace

std::string read_file_maybe_gz(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GALEN_CHECK(f.good(), "read_file: cannot open '", path, "'");
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  GALEN_CHECK(!f.bad(), "read_file: I/O error reading '", path, "'");
  if (raw.size() < 2 || static_cast<unsigned char>(raw[0]) != 0x1f || static_cast<unsigned char>(raw[1]) != 0x8b)
    return raw;
  z_stream zs{};
  GALEN_CHECK(inflateInit2(&zs, 15 + 32) == Z_OK, "read_file: zlib init failed for '", path, "'");
  std::string out;
  std::vector<char> buf(1 << 20);
  zs.next_in = reinterpret_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      GALEN_FAIL("read_file: '", path, "' is a damaged or truncated gzip file (", msg, ")");
    }
    out.append(buf.data(), buf.size() - zs.avail_out);
    if (out.size() > kMaxBytes) {
      inflateEnd(&zs);
      GALEN_FAIL("read_file: '", path, "' inflates to more than 4 GiB");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      GALEN_FAIL("read_file: '", path, "' is a truncated gzip file");
    }
  }
  inflateEnd(&zs);
  return out;
}

Tensor parse_idx(const std::string& bytes, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  GALEN_CHECK(bytes.size() >= 4, "read_idx: '", what, "' is too short for an IDX header (", bytes.size(), " bytes)");
  GALEN_CHECK(p[0] == 0 && p[1] == 0, "read_idx: '", what, "' has no IDX magic (first bytes must be 0 0)");
  const int type = p[2], ndim = p[3];
  size_t esize = 0;
  DType dt = DType::u8;
  switch (type) {
    case 0x08: esize = 1; dt = DType::u8; break;
    case 0x09: esize = 1; dt = DType::i32; break;
    case 0x0B: esize = 2; dt = DType::i32; break;
    case 0x0C: esize = 4; dt = DType::i32; break;
    case 0x0D: esize = 4; dt = DType::f32; break;
    case 0x0E: esize = 8; dt = DType::f64; break;
    default: GALEN_FAIL("read_idx: '", what, "' has unknown IDX data type 0x", std::hex, type);
  }
  GALEN_CHECK(ndim >= 1 && ndim <= 8, "read_idx: '", what, "' declares ", ndim, " dims (expected 1..8)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  GALEN_CHECK(bytes.size() >= header, "read_idx: '", what, "' is truncated inside its header");
  Shape shape;
  size_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    const uint32_t s = be32(p + 4 + 4 * i);
    shape.push_back(static_cast<int64_t>(s));
    GALEN_CHECK(s == 0 || n <= kMaxBytes / s, "read_idx: '", what, "' declares an absurd size ", shape);
    n *= s;
  }
  GALEN_CHECK(n <= kMaxBytes / esize, "read_idx: '", what, "' declares an absurd size ", shape);
  const size_t need = header + n * esize;
  GALEN_CHECK(bytes.size() >= need, "read_idx: '", what, "' is truncated: shape ", shape, " needs ", need,
              " bytes, the file has ", bytes.size());
  GALEN_CHECK(bytes.size() == need, "read_idx: '", what, "' has ", bytes.size() - need,
              " trailing bytes after the data of shape ", shape);
  Tensor t = empty(shape, dt);
  const unsigned char* d = p + header;
  switch (type) {
    case 0x08: std::memcpy(t.data_ptr(), d, n); break;
    case 0x09: {
      auto* o = t.data<int32_t>();
      for (size_t i = 0; i < n; ++i) o[i] = static_cast<int8_t>(d[i]);
      break;
    }
    case 0x0B: {
      auto* o = t.data<int32_t>();
      for (size_t i = 0; i < n; ++i) o[i] = static_cast<int16_t>((d[2 * i] << 8) | d[2 * i + 1]);
      break;
    }
    case 0x0C: {
      auto* o = t.data<int32_t>();
      for (size_t i = 0; i < n; ++i) o[i] = static_cast<int32_t>(be32(d + 4 * i));
      break;
    }
    case 0x0D: {
      auto* o = t.data<float>();
      for (size_t i = 0; i < n; ++i) {
        const uint32_t v = be32(d + 4 * i);
        std::memcpy(&o[i], &v, 4);
      }
      break;
    }
    case 0x0E: {
      auto* o = t.data<double>();
      for (size_t i = 0; i < n; ++i) {
        const uint64_t v = (uint64_t(be32(d + 8 * i)) << 32) | be32(d + 8 * i + 4);
        std::memcpy(&o[i], &v, 8);
      }
      break;
    }
  }
  return t;
}

Tensor read_idx(const std::string& path) { return parse_idx(read_file_maybe_gz(path), path); }

}  // namespace galen::data
