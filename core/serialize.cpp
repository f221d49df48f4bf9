// safetensors reading and writing. The header is validated completely (dtype,
// shape, offsets, full non-overlapping coverage of the data buffer) before any
// tensor is allocated or any data byte is read; files are read tensor by tensor
// straight into their storage, and written through a temp file + fsync + rename
// so a crash never leaves a half-written file under the real name.
#include "galen/core/serialize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "galen/core/json.h"

namespace galen {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; big-endian hosts are not supported");

namespace {

// Headers beyond this are refused before allocating: real files with tens of
// thousands of tensors stay well under a few MB.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

struct DTypeName {
  const char* name;
  DType dtype;
  bool supported;
};
// Names from the safetensors spec that galen can hold; other spec names are
// recognised only to give a precise error.
constexpr DTypeName kDTypes[] = {
    {"F32", DType::f32, true},   {"F64", DType::f64, true},     {"I32", DType::i32, true},
    {"I64", DType::i64, true},   {"U8", DType::u8, true},       {"BOOL", DType::boolean, true},
    {"F16", DType::f16, false},  {"BF16", DType::bf16, false},
};
constexpr const char* kOtherSpecDTypes[] = {"I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"};

const char* safetensors_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t && d.supported) return d.name;
  return nullptr;
}

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// One validated header entry.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
};

uint64_t read_le_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Validates the JSON header against a data buffer of `data_size` bytes.
Header parse_header(std::string_view text, uint64_t data_size, const std::string& what) {
  const std::string where = "safetensors " + what + ": ";
  json::Value root;
  try {
    root = json::parse(text);
  } catch (const Error& e) {
    GALEN_FAIL(where, "invalid header JSON (", e.what(), ")");
  }
  GALEN_CHECK(root.is_object(), where, "header must be a JSON object, got ", json::type_name(root.type()));

  Header h;
  for (const auto& [name, v] : root.as_object()) {
    if (name == "__metadata__") {
      GALEN_CHECK(v.is_object(), where, "__metadata__ must be an object of strings, got ",
                  json::type_name(v.type()));
      for (const auto& [k, mv] : v.as_object()) {
        GALEN_CHECK(mv.is_string(), where, "__metadata__ value for \"", k, "\" must be a string, got ",
                    json::type_name(mv.type()));
        h.metadata[k] = mv.as_string();
      }
      continue;
    }
    const std::string tw = where + "tensor \"" + name + "\": ";
    GALEN_CHECK(v.is_object(), tw, "entry must be an object, got ", json::type_name(v.type()));
    for (const auto& kv : v.as_object())
      GALEN_CHECK(kv.first == "dtype" || kv.first == "shape" || kv.first == "data_offsets", tw,
                  "unexpected field \"", kv.first, "\"");

    Entry e;
    e.name = name;
    // dtype
    const json::Value* dt = v.find("dtype");
    GALEN_CHECK(dt, tw, "missing \"dtype\"");
    GALEN_CHECK(dt->is_string(), tw, "\"dtype\" must be a string");
    const std::string& dname = dt->as_string();
    const DTypeName* found = nullptr;
    for (const auto& d : kDTypes)
      if (dname == d.name) found = &d;
    if (!found) {
      for (const char* o : kOtherSpecDTypes)
        GALEN_CHECK(dname != o, tw, "dtype ", dname, " is not supported by galen");
      GALEN_FAIL(tw, "unknown dtype \"", dname, "\"");
    }
    GALEN_CHECK(found->supported, tw, "dtype ", dname, " is not supported yet (galen has no ",
                dname, " kernels)");
    e.dtype = found->dtype;
    // shape
    const json::Value* sh = v.find("shape");
    GALEN_CHECK(sh, tw, "missing \"shape\"");
    GALEN_CHECK(sh->is_array(), tw, "\"shape\" must be an array of non-negative integers");
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : sh->as_array()) {
      GALEN_CHECK(d.is_integer() && d.as_int() >= 0, tw,
                  "\"shape\" must be an array of non-negative integers, got ", json::write(*sh));
      e.shape.push_back(d.as_int());
      overflow |= __builtin_mul_overflow(numel, static_cast<uint64_t>(d.as_int()), &numel);
    }
    uint64_t nbytes = 0;
    overflow |= __builtin_mul_overflow(numel, static_cast<uint64_t>(element_size(e.dtype)), &nbytes);
    GALEN_CHECK(!overflow && numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), tw,
                "shape ", json::write(*sh), " is too large (element count overflows)");
    // data_offsets
    const json::Value* off = v.find("data_offsets");
    GALEN_CHECK(off, tw, "missing \"data_offsets\"");
    GALEN_CHECK(off->is_array() && off->size() == 2 && off->as_array()[0].is_integer() &&
                    off->as_array()[1].is_integer() && off->as_array()[0].as_int() >= 0 &&
                    off->as_array()[1].as_int() >= 0,
                tw, "\"data_offsets\" must be two non-negative integers, got ", json::write(*off));
    e.begin = static_cast<uint64_t>(off->as_array()[0].as_int());
    e.end = static_cast<uint64_t>(off->as_array()[1].as_int());
    GALEN_CHECK(e.begin <= e.end, tw, "data_offsets begin ", e.begin, " > end ", e.end);
    GALEN_CHECK(e.end <= data_size, tw, "data_offsets end ", e.end, " is past the data buffer (",
                data_size, " bytes)");
    GALEN_CHECK(e.end - e.begin == nbytes, tw, "data_offsets span ", e.end - e.begin,
                " bytes but dtype ", dname, " and shape ", json::write(*sh), " need ", nbytes);
    h.entries.push_back(std::move(e));
  }

  // The data buffer must be exactly tiled by the tensors: no overlap, no gap,
  // no trailing bytes.
  std::vector<const Entry*> order;
  for (const auto& e : h.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    GALEN_CHECK(e->begin >= expected, where, "tensor \"", e->name, "\" [", e->begin, ", ", e->end,
                ") overlaps tensor \"", prev ? prev->name : "", "\" (which ends at ", expected, ")");
    GALEN_CHECK(e->begin == expected, where, "data bytes [", expected, ", ", e->begin,
                ") are not covered by any tensor (before \"", e->name, "\")");
    expected = e->end;
    prev = e;
  }
  GALEN_CHECK(expected == data_size, where, "data bytes [", expected, ", ", data_size,
              ") after the last tensor are not covered by any tensor");
  return h;
}

// Decodes the 8-byte prefix and checks the header length against the total.
uint64_t header_length(const unsigned char* prefix, uint64_t total, const std::string& what) {
  const uint64_t n = read_le_u64(prefix);
  GALEN_CHECK(n <= kMaxHeaderBytes, "safetensors ", what, ": header length ", n,
              " is implausible (limit ", kMaxHeaderBytes, " bytes)");
  GALEN_CHECK(n <= total - 8, "safetensors ", what, ": header length ", n, " exceeds the ",
              total - 8, " bytes after the length prefix (truncated file?)");
  return n;
}

// The contiguous CPU forms of the tensors and the padded header describing them.
struct Plan {
  std::string header;  // includes the 8-byte length prefix and padding
  std::vector<std::pair<Tensor, size_t>> data;  // tensor, byte count (name order)
  uint64_t data_bytes = 0;
};

Plan make_plan(const std::map<std::string, Tensor>& tensors,
               const std::map<std::string, std::string>& metadata) {
  Plan p;
  json::Value root = json::Object{};
  if (!metadata.empty()) {
    json::Value md = json::Object{};
    for (const auto& [k, v] : metadata) md.as_object().emplace_back(k, json::Value(v));
    root.as_object().emplace_back("__metadata__", std::move(md));
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {  // std::map: already sorted by name
    GALEN_CHECK(name != "__metadata__", "save_safetensors: \"__metadata__\" is reserved, not a tensor name");
    GALEN_CHECK(t.defined(), "save_safetensors: tensor \"", name, "\" is undefined");
    const char* dname = safetensors_name(t.dtype());
    GALEN_CHECK(dname, "save_safetensors: tensor \"", name, "\" has dtype ", dtype_name(t.dtype()),
                ", which galen cannot store yet");
    Tensor c = t.detach().cpu().contiguous();
    const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    json::Value e = json::Object{};
    e["dtype"] = dname;
    json::Value shape = json::Array{};
    for (int64_t s : c.sizes()) shape.push_back(json::Value(s));
    e["shape"] = std::move(shape);
    json::Value offs = json::Array{};
    offs.push_back(json::Value(static_cast<int64_t>(offset)));
    offs.push_back(json::Value(static_cast<int64_t>(offset + nbytes)));
    e["data_offsets"] = std::move(offs);
    root.as_object().emplace_back(name, std::move(e));
    offset += nbytes;
    p.data.emplace_back(std::move(c), nbytes);
  }
  std::string text = json::write(root);
  // Pad with spaces so the data buffer starts 8-byte aligned in the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  p.header.resize(8);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) p.header[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  p.header += text;
  p.data_bytes = offset;
  return p;
}

// write(2) until done, retrying on EINTR; false with errno set on failure.
bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// read(2) at an offset until done; false on error or early end of file.
bool read_all_at(int fd, void* data, size_t n, uint64_t offset, int* err) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (r == 0) {
      *err = 0;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

}  // namespace

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  Plan p = make_plan(tensors, metadata);
  std::string out = std::move(p.header);
  out.reserve(out.size() + p.data_bytes);
  for (const auto& [t, n] : p.data)
    if (n) out.append(static_cast<const char*>(t.data_ptr()), n);
  return out;
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what) {
  GALEN_CHECK(bytes.size() >= 8, "safetensors ", what, ": ", bytes.size(),
              " bytes is too short for the 8-byte header length");
  const auto* base = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t n = header_length(base, bytes.size(), what);
  const uint64_t data_size = bytes.size() - 8 - n;
  Header h = parse_header(std::string_view(bytes).substr(8, n), data_size, what);
  SafetensorsFile f;
  f.metadata = std::move(h.metadata);
  const char* data = bytes.data() + 8 + n;
  for (const auto& e : h.entries) {
    Tensor t = empty(e.shape, TensorOptions(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    f.tensors.emplace(e.name, std::move(t));
  }
  return f;
}

SafetensorsFile load_safetensors(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    GALEN_FAIL("load_safetensors: cannot open \"", path, "\": ", errno_text(err));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    GALEN_FAIL("load_safetensors: cannot stat \"", path, "\": ", errno_text(err));
  }
  GALEN_CHECK(S_ISREG(st.st_mode), "load_safetensors: \"", path, "\" is not a regular file");
  const uint64_t total = static_cast<uint64_t>(st.st_size);
  const std::string what = "\"" + path + "\"";
  GALEN_CHECK(total >= 8, "safetensors ", what, ": ", total,
              " bytes is too short for the 8-byte header length");
  int err = 0;
  unsigned char prefix[8];
  auto read_or_fail = [&](void* dst, size_t n, uint64_t at) {
    if (!read_all_at(fd.get(), dst, n, at, &err))
      GALEN_FAIL("safetensors ", what, ": read of ", n, " bytes at offset ", at, " failed: ",
                 err ? errno_text(err) : std::string("unexpected end of file (file changed while reading?)"));
  };
  read_or_fail(prefix, 8, 0);
  const uint64_t n = header_length(prefix, total, what);
  std::string header(n, '\0');
  read_or_fail(header.data(), n, 8);
  Header h = parse_header(header, total - 8 - n, what);
  SafetensorsFile f;
  f.metadata = std::move(h.metadata);
  for (const auto& e : h.entries) {
    Tensor t = empty(e.shape, TensorOptions(e.dtype));
    if (e.end > e.begin) read_or_fail(t.data_ptr(), e.end - e.begin, 8 + n + e.begin);
    f.tensors.emplace(e.name, std::move(t));
  }
  return f;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can fail for reasons other than I/O happens before the
  // temp file exists.
  Plan p = make_plan(tensors, metadata);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    const int err = errno;
    GALEN_FAIL("save_safetensors: cannot create \"", tmp, "\" (for \"", path, "\"): ", errno_text(err));
  }
  auto fail = [&](const char* step, int err) {
    if (fd.get() >= 0) ::close(fd.release());
    ::unlink(tmp.c_str());
    GALEN_FAIL("save_safetensors: ", step, " \"", tmp, "\" (for \"", path, "\") failed: ", errno_text(err));
  };
  if (!write_all(fd.get(), p.header.data(), p.header.size())) fail("write to", errno);
  for (const auto& [t, nb] : p.data)
    if (nb && !write_all(fd.get(), t.data_ptr(), nb)) fail("write to", errno);
  if (::fsync(fd.get()) != 0) fail("fsync of", errno);
  if (::close(fd.release()) != 0) fail("close of", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GALEN_FAIL("save_safetensors: cannot rename \"", tmp, "\" to \"", path, "\": ", errno_text(err));
  }
  // Make the rename itself durable (best effort: some filesystems refuse
  // fsync on directories).
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace galen
