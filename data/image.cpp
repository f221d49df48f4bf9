// Image reading and PNG writing (see image.h). stb_image / stb_image_write are
// compiled into this file only, with static linkage (STB_*_STATIC), so a user
// program with its own copy of stb links without clashes.
#include "galen/data/image.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "galen/core/error.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // every read goes through memory (decode_image)
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace galen::data {

namespace {

std::string read_bytes(const std::string& path, const char* who) {
  std::ifstream f(path, std::ios::binary);
  GALEN_CHECK(f.good(), who, ": cannot open '", path, "'");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  GALEN_CHECK(!f.bad(), who, ": I/O error reading '", path, "'");
  return s;
}

const char* reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

void check_len(const std::string& bytes, const std::string& what, const char* who) {
  GALEN_CHECK(!bytes.empty(), who, ": '", what, "' is empty");
  GALEN_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), who, ": '", what,
              "' is larger than 2 GiB");
}

// Writes `bytes` to `path` through "<path>.tmp.<pid>", fsync, rename.
void write_file_atomic(const std::string& path, const std::string& bytes, const char* who) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    GALEN_FAIL(who, ": cannot create '", tmp, "' (for '", path, "'): ", std::strerror(err));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      GALEN_FAIL(who, ": writing '", tmp, "' (for '", path, "') failed: ", std::strerror(err));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GALEN_FAIL(who, ": flushing '", tmp, "' (for '", path, "') failed: ", std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GALEN_FAIL(who, ": cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

void put_be32(std::string& s, uint32_t v) {
  for (int k = 24; k >= 0; k -= 8) s.push_back(static_cast<char>((v >> k) & 0xff));
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  put_be32(out, static_cast<uint32_t>(
                    ::crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

// A 16-bit PNG (stb_image_write only writes 8-bit): filter type 0 on every
// row, big-endian samples, one zlib-compressed IDAT.
std::string encode_png16(const int32_t* px, int h, int w, int c) {
  static const int kColorType[5] = {0, 0, 4, 2, 6};  // by channel count
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(w));
  put_be32(ihdr, static_cast<uint32_t>(h));
  ihdr += {16, static_cast<char>(kColorType[c]), 0, 0, 0};
  const size_t row = 1 + static_cast<size_t>(w) * c * 2;
  std::string raw(row * static_cast<size_t>(h), '\0');
  for (int y = 0; y < h; ++y) {
    char* r = raw.data() + row * y + 1;
    for (int64_t i = 0; i < static_cast<int64_t>(w) * c; ++i) {
      const int32_t v = px[static_cast<int64_t>(y) * w * c + i];
      r[2 * i] = static_cast<char>((v >> 8) & 0xff);
      r[2 * i + 1] = static_cast<char>(v & 0xff);
    }
  }
  uLongf zlen = ::compressBound(static_cast<uLong>(raw.size()));
  std::string z(zlen, '\0');
  GALEN_CHECK(::compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                          static_cast<uLong>(raw.size()), 6) == Z_OK,
              "write_png: zlib compression failed");
  z.resize(zlen);
  std::string out("\x89PNG\r\n\x1a\n", 8);
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

ImageInfo image_info(const std::string& path) {
  const std::string bytes = read_bytes(path, "image_info");
  check_len(bytes, path, "image_info");
  const auto* p = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  ImageInfo info;
  if (!stbi_info_from_memory(p, len, &info.width, &info.height, &info.channels))
    GALEN_FAIL("image_info: cannot read '", path, "': ", reason());
  info.bit_depth = stbi_is_16_bit_from_memory(p, len) ? 16 : 8;
  return info;
}

Tensor decode_image(const std::string& bytes, const std::string& what, int channels) {
  GALEN_CHECK(channels >= 0 && channels <= 4, "read_image: channels must be 0 (as stored), 1, 2, 3 or 4, got ",
              channels);
  check_len(bytes, what, "read_image");
  const auto* p = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, stored = 0;
  if (!stbi_info_from_memory(p, len, &w, &h, &stored))
    GALEN_FAIL("read_image: cannot decode '", what, "': ", reason());
  const bool wide = stbi_is_16_bit_from_memory(p, len) != 0;
  int c = 0;
  if (wide) {
    stbi_us* px = stbi_load_16_from_memory(p, len, &w, &h, &c, channels);
    if (!px) GALEN_FAIL("read_image: cannot decode '", what, "': ", reason());
    const int oc = channels ? channels : c;
    Tensor t = empty({h, w, oc}, DType::i32);
    int32_t* o = t.data<int32_t>();
    const int64_t n = static_cast<int64_t>(h) * w * oc;
    for (int64_t i = 0; i < n; ++i) o[i] = px[i];
    stbi_image_free(px);
    return t;
  }
  stbi_uc* px = stbi_load_from_memory(p, len, &w, &h, &c, channels);
  if (!px) GALEN_FAIL("read_image: cannot decode '", what, "': ", reason());
  const int oc = channels ? channels : c;
  Tensor t = empty({h, w, oc}, DType::u8);
  std::memcpy(t.data_ptr(), px, static_cast<size_t>(h) * w * oc);
  stbi_image_free(px);
  return t;
}

Tensor read_image(const std::string& path, int channels) {
  return decode_image(read_bytes(path, "read_image"), path, channels);
}

std::string encode_png(const Tensor& image) {
  GALEN_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3),
              "write_png: image must be (H, W) or (H, W, C), got ", image.defined() ? image.sizes() : Shape{});
  Tensor img = image.detach().cpu().contiguous();
  if (img.dim() == 2) img = img.unsqueeze(2);
  const int64_t h = img.size(0), w = img.size(1), c = img.size(2);
  GALEN_CHECK(c >= 1 && c <= 4, "write_png: channels must be 1..4, got shape ", image.sizes());
  GALEN_CHECK(h >= 1 && w >= 1 && h < (1 << 24) && w < (1 << 24), "write_png: bad image size ", image.sizes());
  if (img.dtype() == DType::i32) {
    const int32_t* px = img.data<int32_t>();
    for (int64_t i = 0; i < img.numel(); ++i)
      GALEN_CHECK(px[i] >= 0 && px[i] <= 65535, "write_png: 16-bit (i32) pixel value ", px[i],
                  " at flat index ", i, " is outside 0..65535");
    return encode_png16(px, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c));
  }
  GALEN_CHECK(img.dtype() == DType::u8, "write_png: dtype must be u8 (8-bit) or i32 (16-bit), got ",
              dtype_name(img.dtype()));
  std::string out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, static_cast<int>(w), static_cast<int>(h),
                                        static_cast<int>(c), img.data_ptr(), static_cast<int>(w * c));
  GALEN_CHECK(ok && !out.empty(), "write_png: stb_image_write failed to encode a ", image.sizes(), " image");
  return out;
}

void write_png(const std::string& path, const Tensor& image) {
  write_file_atomic(path, encode_png(image), "write_png");
}

}  // namespace galen::data
