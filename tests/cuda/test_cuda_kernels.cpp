// Every CudaBackend method (and both gemm variants) against the reference
// backend on awkward shapes: size 1, primes, empty, non-contiguous, broadcast,
// large. Plain C++: device memory only through the Backend interface.
#ifdef GALEN_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "galen/kernels/backend.h"
#include "galen/kernels/cuda/cuda_backend.h"
#include "test_util.h"

namespace {

using galen::DType;
using galen::DeviceType;
using galen::kernels::Backend;
using galen::kernels::BinaryOp;
using galen::kernels::Layout;
using galen::kernels::RandomDist;
using galen::kernels::ReduceOp;
using galen::kernels::UnaryOp;

Backend& gpu() { return galen::kernels::backend(DeviceType::CUDA); }
Backend& ref() { return galen::kernels::ref_backend(); }

const DType kAllTypes[] = {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean};

// ---- host buffers ----------------------------------------------------------------------
struct Buf {
  DType dt = DType::f32;
  int64_t n = 0;
  std::vector<unsigned char> bytes;

  Buf() = default;
  Buf(DType d, int64_t count)
      : dt(d), n(count), bytes(static_cast<size_t>(count) * galen::element_size(d) + 8, 0) {}
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  size_t nbytes() const { return static_cast<size_t>(n) * galen::element_size(dt); }

  double get(int64_t i) const {
    const unsigned char* p = bytes.data() + static_cast<size_t>(i) * galen::element_size(dt);
    switch (dt) {
      case DType::f32: { float v; std::memcpy(&v, p, 4); return v; }
      case DType::f64: { double v; std::memcpy(&v, p, 8); return v; }
      case DType::i32: { int32_t v; std::memcpy(&v, p, 4); return v; }
      case DType::i64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      case DType::u8: return *p;
      case DType::boolean: return *p ? 1.0 : 0.0;
      default: return 0;
    }
  }
  void set(int64_t i, double x) {
    unsigned char* p = bytes.data() + static_cast<size_t>(i) * galen::element_size(dt);
    switch (dt) {
      case DType::f32: { const float v = static_cast<float>(x); std::memcpy(p, &v, 4); break; }
      case DType::f64: std::memcpy(p, &x, 8); break;
      case DType::i32: { const int32_t v = static_cast<int32_t>(x); std::memcpy(p, &v, 4); break; }
      case DType::i64: { const int64_t v = static_cast<int64_t>(x); std::memcpy(p, &v, 8); break; }
      case DType::u8: *p = static_cast<uint8_t>(static_cast<int64_t>(x)); break;
      case DType::boolean: *p = x != 0.0 ? 1 : 0; break;
      default: break;
    }
  }
};

uint64_t mix(uint64_t x) {  // splitmix64 step
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// n values in [lo, hi): uniform for floats, integers (floor) otherwise, 0/1 for bool.
Buf random_buf(DType dt, int64_t n, uint64_t seed, double lo, double hi) {
  Buf b(dt, n);
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(mix(seed * 1000003ull + static_cast<uint64_t>(i)) >> 11) *
                     (1.0 / 9007199254740992.0);
    double v = lo + (hi - lo) * u;
    if (!galen::is_floating(dt)) v = std::floor(v);
    if (dt == DType::boolean) v = u < 0.5 ? 0 : 1;
    b.set(i, v);
  }
  return b;
}

// ---- device buffers --------------------------------------------------------------------
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Dev(size_t nbytes) : bytes(nbytes) { p = gpu().allocate(nbytes, 0); }
  ~Dev() { gpu().deallocate(p, bytes, 0); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

std::unique_ptr<Dev> upload(const Buf& b) {
  auto d = std::make_unique<Dev>(b.nbytes());
  gpu().copy_from_host(d->p, b.data(), b.nbytes(), 0);
  return d;
}

Buf download(const Dev& d, DType dt, int64_t n) {
  Buf b(dt, n);
  gpu().copy_to_host(b.data(), d.p, b.nbytes(), 0);
  return b;
}

// Elements a buffer needs to back a strided layout.
int64_t span(const Layout& l) {
  int64_t s = 1;
  for (int d = 0; d < l.ndim; ++d) {
    if (l.sizes[d] == 0) return 0;
    s += (l.sizes[d] - 1) * l.strides[d];
  }
  return s;
}

Layout lay(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides = {}) {
  return strides.empty() ? Layout::contiguous(sizes) : Layout::strided(sizes, strides);
}

// |got - want| <= atol + rtol * |want|; NaN faces NaN, infinities match exactly.
void expect_close(const Buf& got, const Buf& want, double atol, double rtol, const std::string& what) {
  REQUIRE(got.n == want.n);
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < got.n; ++i) {
    const double a = got.get(i), b = want.get(i);
    bool ok;
    if (std::isnan(b)) ok = std::isnan(a);
    else if (std::isinf(b)) ok = a == b;
    else ok = std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad) {
    INFO(what << ": " << bad << " of " << got.n << " differ; first at " << first << ": got "
              << got.get(first) << ", expected " << want.get(first));
    CHECK(bad == 0);
  }
}

void expect_equal(const Buf& got, const Buf& want, const std::string& what) {
  REQUIRE(got.n == want.n);
  REQUIRE(got.dt == want.dt);
  int64_t bad = 0, first = -1;
  const size_t es = galen::element_size(got.dt);
  for (int64_t i = 0; i < got.n; ++i) {
    if (std::memcmp(got.bytes.data() + i * es, want.bytes.data() + i * es, es) != 0) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad) {
    INFO(what << ": " << bad << " of " << got.n << " differ bitwise; first at " << first
              << ": got " << got.get(first) << ", expected " << want.get(first));
    CHECK(bad == 0);
  }
}

double tol_for(DType dt, double f32_tol, double f64_tol) {
  if (dt == DType::f32) return f32_tol;
  if (dt == DType::f64) return f64_tol;
  return 0;
}

}  // namespace

// ---- memory ------------------------------------------------------------------------------

TEST_CASE("cuda: backend registration and device count", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  Backend& b = gpu();
  CHECK(&b == &galen::kernels::cuda_backend());
  CHECK(b.type() == DeviceType::CUDA);
  CHECK(std::string(b.name()) == "cuda");
  CHECK(b.device_count() >= 1);
}

TEST_CASE("cuda: caching allocator reuses blocks and reports OOM", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  Backend& b = gpu();
  void* p = b.allocate(1000, 0);
  REQUIRE(p != nullptr);
  b.deallocate(p, 1000, 0);
  const auto before = galen::kernels::cuda_memory_stats();
  void* q = b.allocate(700, 0);  // same 1024-byte bucket
  CHECK(q == p);
  CHECK(galen::kernels::cuda_memory_stats().device_mallocs == before.device_mallocs);
  b.deallocate(q, 700, 0);

  void* z = b.allocate(0, 0);  // empty tensors still get a valid pointer
  CHECK(z != nullptr);
  b.deallocate(z, 0, 0);
  b.deallocate(nullptr, 0, 0);

  // Far beyond any GPU: galen::Error naming the size, not an abort.
  try {
    b.allocate(size_t(1) << 50, 0);
    FAIL("allocating 1 PiB should throw");
  } catch (const galen::Error& e) {
    CHECK(std::string(e.what()).find("out of memory") != std::string::npos);
  }
  // The backend still works afterwards.
  Buf h = random_buf(DType::f32, 777, 1, -1, 1);
  auto d = upload(h);
  expect_equal(download(*d, DType::f32, 777), h, "round trip after OOM");

  galen::kernels::cuda_empty_cache();
  CHECK(galen::kernels::cuda_memory_stats().cached_bytes == 0);

  void* pinned = galen::kernels::cuda_host_alloc(4096);
  REQUIRE(pinned != nullptr);
  std::memset(pinned, 7, 4096);
  galen::kernels::cuda_host_free(pinned);
  CHECK(galen::kernels::cuda_host_alloc(0) == nullptr);
  galen::kernels::cuda_host_free(nullptr);
}

TEST_CASE("cuda: host/device byte copies", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (int64_t n : {int64_t(1), int64_t(13), int64_t(1 << 20) + 7}) {
    Buf h = random_buf(DType::f64, n, 2, -5, 5);
    auto a = upload(h);
    Dev c(h.nbytes());
    gpu().copy_device(c.p, a->p, h.nbytes(), 0);
    gpu().synchronize(0);
    expect_equal(download(c, DType::f64, n), h, "copy_device");
  }
}

// ---- elementwise -----------------------------------------------------------------------

TEST_CASE("cuda: copy casts every dtype pair through strided layouts", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  struct Case {
    Layout src, dst;
  };
  const std::vector<Case> cases = {
      {lay({1}), lay({1})},
      {lay({0, 3}), lay({0, 3})},
      {lay({5, 7, 3}), lay({5, 7, 3})},
      // transposed source (a (3,5,7) buffer read as (5,7,3)), contiguous destination
      {lay({5, 7, 3}, {7, 1, 35}), lay({5, 7, 3})},
      // broadcast source (stride 0) into a strided destination with a gap
      {lay({4, 1, 6}, {6, 6, 1}), lay({4, 1, 6}, {20, 6, 2})},
      {lay({4, 9, 6}, {6, 0, 1}), lay({4, 9, 6}, {1, 24, 4})},
      // size-1 dims in the middle
      {lay({2, 1, 1, 11}, {11, 5, 3, 1}), lay({2, 1, 1, 11})},
      // large, to cover several grid-stride rounds
      {lay({1031, 1029}, {1, 1031}), lay({1031, 1029})},
  };
  for (const auto& c : cases) {
    for (DType s : kAllTypes) {
      for (DType d : kAllTypes) {
        INFO("copy " << galen::dtype_name(s) << " -> " << galen::dtype_name(d) << ", numel "
                     << c.src.numel());
        // Non-negative values: float -> u8 of a negative number is not portable.
        const Buf src = random_buf(s, span(c.src), 11, 0, 120.75);
        const int64_t dspan = span(c.dst);
        Buf want = random_buf(d, dspan, 12, 0, 50);  // gaps keep their old contents
        auto dsrc = upload(src);
        auto ddst = upload(want);
        ref().copy(s, src.data(), c.src, d, want.data(), c.dst);
        gpu().copy(s, dsrc->p, c.src, d, ddst->p, c.dst);
        expect_equal(download(*ddst, d, dspan), want, "copy");
      }
    }
  }
  // Signed values between signed types and floats.
  for (DType s : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
      const Layout sl = lay({6, 5}, {1, 6}), dl = lay({6, 5});
      const Buf src = random_buf(s, 30, 13, -40.5, 40.5);
      Buf want(d, 30);
      auto dsrc = upload(src);
      Dev ddst(want.nbytes());
      ref().copy(s, src.data(), sl, d, want.data(), dl);
      gpu().copy(s, dsrc->p, sl, d, ddst.p, dl);
      expect_equal(download(ddst, d, 30), want, "signed copy");
    }
  }
}

TEST_CASE("cuda: copy with offsets beyond 32 bits uses 64-bit indexing", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  // A u8 view whose last element sits past 2^31: 3 rows 2^30 + 1 apart.
  const int64_t row = (int64_t(1) << 30) + 1;
  const int64_t total = 2 * row + 5;
  Dev big(static_cast<size_t>(total));
  gpu().fill(DType::u8, big.p, total, 0);
  for (int r = 0; r < 3; ++r) {
    uint8_t vals[5];
    for (int j = 0; j < 5; ++j) vals[j] = static_cast<uint8_t>(10 * r + j + 1);
    gpu().copy_from_host(static_cast<uint8_t*>(big.p) + r * row, vals, 5, 0);
  }
  Dev out(15 * 8);
  gpu().copy(DType::u8, big.p, lay({3, 5}, {row, 1}), DType::i64, out.p, lay({3, 5}));
  Buf got = download(out, DType::i64, 15);
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 5; ++j) CHECK(got.get(r * 5 + j) == 10 * r + j + 1);
}

TEST_CASE("cuda: fill", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (DType dt : kAllTypes) {
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(1000003)}) {
      for (double v : {0.0, 3.0, -2.5, 1.0}) {
        if (dt == DType::u8 && v < 0) continue;
        INFO("fill " << galen::dtype_name(dt) << " n " << n << " value " << v);
        Buf want(dt, n);
        ref().fill(dt, want.data(), n, v);
        Dev d(want.nbytes());
        gpu().fill(dt, d.p, n, v);
        expect_equal(download(d, dt, n), want, "fill");
      }
    }
  }
}

namespace {

bool unary_int_ok(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square;
}

// Inputs inside each op's domain.
void unary_range(UnaryOp op, double& lo, double& hi) {
  switch (op) {
    case UnaryOp::Log:
    case UnaryOp::Sqrt:
    case UnaryOp::Rsqrt:
    case UnaryOp::PowScalar: lo = 0.05; hi = 9; return;
    case UnaryOp::Reciprocal: lo = 0.25; hi = 4; return;
    case UnaryOp::Exp: lo = -20; hi = 20; return;
    default: lo = -6; hi = 6; return;
  }
}

}  // namespace

TEST_CASE("cuda: unary ops against the reference", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const UnaryOp ops[] = {UnaryOp::Neg,   UnaryOp::Abs,        UnaryOp::Exp,       UnaryOp::Log,
                         UnaryOp::Sqrt,  UnaryOp::Rsqrt,      UnaryOp::Sigmoid,   UnaryOp::Tanh,
                         UnaryOp::Relu,  UnaryOp::Gelu,       UnaryOp::PowScalar, UnaryOp::Sign,
                         UnaryOp::Square, UnaryOp::Reciprocal, UnaryOp::GeluGrad, UnaryOp::Step};
  const std::vector<Layout> layouts = {lay({1}), lay({37}), lay({0, 4}),
                                       lay({65, 129}, {1, 65}),  // transposed
                                       lay({3, 1, 5, 7}, {35, 9, 7, 1}), lay({1 << 18})};
  for (UnaryOp op : ops) {
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
      const bool is_float = galen::is_floating(dt);
      if (!is_float && !unary_int_ok(op)) continue;
      for (const Layout& l : layouts) {
        INFO(galen::kernels::unary_name(op) << " " << galen::dtype_name(dt) << " numel " << l.numel());
        double lo, hi;
        unary_range(op, lo, hi);
        if (!is_float) { lo = -1000; hi = 1000; }
        const Buf x = random_buf(dt, span(l), 21, lo, hi);
        Buf want(dt, l.numel());
        ref().unary(op, dt, x.data(), l, want.data(), 2.5);
        auto dx = upload(x);
        Dev dout(want.nbytes());
        gpu().unary(op, dt, dx->p, l, dout.p, 2.5);
        const double rtol = tol_for(dt, 2e-6, 1e-13);
        expect_close(download(dout, dt, l.numel()), want, rtol, rtol, "unary");
      }
    }
  }
  // NaN goes through relu, abs and neg.
  Buf x(DType::f32, 3);
  x.set(0, std::nan(""));
  x.set(1, -1);
  x.set(2, 2);
  auto dx = upload(x);
  Dev dout(x.nbytes());
  gpu().unary(UnaryOp::Relu, DType::f32, dx->p, lay({3}), dout.p, 0);
  Buf r = download(dout, DType::f32, 3);
  CHECK(std::isnan(r.get(0)));
  CHECK(r.get(1) == 0);
  CHECK(r.get(2) == 2);

  // Unsupported (op, dtype) pairs are galen::Errors.
  CHECK_THROWS_AS(gpu().unary(UnaryOp::Exp, DType::i32, dx->p, lay({3}), dout.p, 0), galen::Error);
  CHECK_THROWS_AS(gpu().unary(UnaryOp::Neg, DType::u8, dx->p, lay({3}), dout.p, 0), galen::Error);
  CHECK_THROWS_AS(gpu().unary(UnaryOp::Abs, DType::boolean, dx->p, lay({3}), dout.p, 0), galen::Error);
  CHECK_THROWS_AS(gpu().unary(UnaryOp::Gelu, DType::i64, dx->p, lay({3}), dout.p, 0), galen::Error);
}

TEST_CASE("cuda: binary ops with broadcasting against the reference", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub,     BinaryOp::Mul,     BinaryOp::Div,
                          BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Eq,
                          BinaryOp::Ne,  BinaryOp::Lt,      BinaryOp::Le,      BinaryOp::Gt,
                          BinaryOp::Ge};
  struct Case {
    Layout a, b;
  };
  // Layouts share the output shape; stride 0 marks a broadcast dim.
  const std::vector<Case> cases = {
      {lay({1}), lay({1})},
      {lay({0, 5}), lay({0, 5}, {0, 1})},
      {lay({13}), lay({13}, {0})},  // tensor op scalar
      {lay({4, 5, 6}, {6, 0, 1}), lay({4, 5, 6}, {0, 6, 1})},
      {lay({7, 11}, {1, 7}), lay({7, 11})},  // transposed a
      {lay({3, 1, 17}, {17, 17, 1}), lay({3, 1, 17}, {0, 0, 1})},
      {lay({513, 1027}), lay({513, 1027}, {1, 0})},  // row broadcast, large
  };
  for (BinaryOp op : ops) {
    const bool cmp = galen::kernels::is_comparison(op);
    for (DType dt : kAllTypes) {
      const bool fl = galen::is_floating(dt);
      if ((op == BinaryOp::Div || op == BinaryOp::Pow) && !fl) continue;
      if (dt == DType::boolean && !cmp) continue;
      for (const auto& c : cases) {
        INFO(galen::kernels::binary_name(op) << " " << galen::dtype_name(dt) << " numel "
                                             << c.a.numel());
        double lo = -8, hi = 8;
        if (op == BinaryOp::Pow) { lo = 0.1; hi = 3; }
        if (dt == DType::u8) { lo = 0; hi = 15; }
        // Few distinct integer values, so comparisons see plenty of ties.
        if (!fl) { lo = std::max(lo, -4.0); hi = std::min(hi, 5.0); }
        Buf a = random_buf(dt, span(c.a), 31, lo, hi);
        Buf b = random_buf(dt, span(c.b), 32, op == BinaryOp::Div ? 0.5 : lo, hi);
        if (fl && (op == BinaryOp::Maximum || op == BinaryOp::Minimum) && a.n > 3) {
          a.set(1, std::nan(""));
          b.set(2, std::nan(""));
        }
        const DType odt = cmp ? DType::boolean : dt;
        const int64_t n = c.a.numel();
        Buf want(odt, n);
        ref().binary(op, dt, a.data(), c.a, b.data(), c.b, want.data());
        auto da = upload(a);
        auto db = upload(b);
        Dev dout(want.nbytes());
        gpu().binary(op, dt, da->p, c.a, db->p, c.b, dout.p);
        const double tol = cmp ? 0 : tol_for(dt, 2e-6, 1e-14);
        expect_close(download(dout, odt, n), want, tol, tol, "binary");
      }
    }
  }
  Dev d(64);
  CHECK_THROWS_AS(gpu().binary(BinaryOp::Div, DType::i32, d.p, lay({2}), d.p, lay({2}), d.p),
                  galen::Error);
  CHECK_THROWS_AS(gpu().binary(BinaryOp::Add, DType::boolean, d.p, lay({2}), d.p, lay({2}), d.p),
                  galen::Error);
}

TEST_CASE("cuda: where and clamp", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  struct Case {
    Layout c, a, b;
  };
  const std::vector<Case> cases = {
      {lay({1}), lay({1}), lay({1})},
      {lay({6, 7}, {0, 1}), lay({6, 7}), lay({6, 7}, {1, 6})},
      {lay({5, 1, 9}), lay({5, 1, 9}, {0, 0, 1}), lay({5, 1, 9}, {0, 0, 0})},
      {lay({301, 257}), lay({301, 257}, {257, 1}), lay({301, 257}, {1, 301})},
  };
  for (DType dt : kAllTypes) {
    for (const auto& c : cases) {
      INFO("where " << galen::dtype_name(dt) << " numel " << c.c.numel());
      const Buf cond = random_buf(DType::boolean, span(c.c), 41, 0, 1);
      const Buf a = random_buf(dt, span(c.a), 42, 0, 100);
      const Buf b = random_buf(dt, span(c.b), 43, 0, 100);
      Buf want(dt, c.c.numel());
      ref().where(dt, cond.data(), c.c, a.data(), c.a, b.data(), c.b, want.data());
      auto dc = upload(cond);
      auto da = upload(a);
      auto db = upload(b);
      Dev dout(want.nbytes());
      gpu().where(dt, dc->p, c.c, da->p, c.a, db->p, c.b, dout.p);
      expect_equal(download(dout, dt, c.c.numel()), want, "where");
    }
  }

  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(100003)}) {
      INFO("clamp " << galen::dtype_name(dt) << " n " << n);
      Buf x = random_buf(dt, n, 44, dt == DType::u8 ? 0 : -20, 20);
      if (galen::is_floating(dt) && n > 5) x.set(5, std::nan(""));
      const double lo = dt == DType::u8 ? 3 : -7, hi = 11;
      Buf want(dt, n);
      ref().clamp(dt, x.data(), n, lo, hi, want.data());
      auto dx = upload(x);
      Dev dout(want.nbytes());
      gpu().clamp(dt, dx->p, n, lo, hi, dout.p);
      expect_close(download(dout, dt, n), want, 0, 0, "clamp");
    }
  }
  // One-sided float clamp with an infinite bound.
  Buf x = random_buf(DType::f32, 1000, 45, -5, 5);
  Buf want(DType::f32, 1000);
  ref().clamp(DType::f32, x.data(), 1000, -INFINITY, 1.5, want.data());
  auto dx = upload(x);
  Dev dout(want.nbytes());
  gpu().clamp(DType::f32, dx->p, 1000, -INFINITY, 1.5, dout.p);
  expect_equal(download(dout, DType::f32, 1000), want, "clamp -inf");
}

// ---- reductions ----------------------------------------------------------------------------

TEST_CASE("cuda: reductions over (outer, len, inner)", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  struct Shape3 {
    int64_t outer, len, inner;
  };
  const std::vector<Shape3> shapes = {
      {1, 1, 1},     {3, 1, 5},        {7, 13, 1},     {1, 31, 1},   {5, 37, 129},
      {2, 600, 1},   {4, 100003, 1},   {1, 1 << 20, 1}, {1, 70001, 3}, {2, 9001, 33},
      {1000, 3, 2},  {0, 5, 3},
  };
  const ReduceOp ops[] = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max,
                          ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin};
  for (ReduceOp op : ops) {
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
      const bool arith = op == ReduceOp::Sum || op == ReduceOp::Prod;
      if (arith && dt == DType::u8) continue;  // wrap-around sums are not worth pinning down
      for (const auto& s : shapes) {
        if (op == ReduceOp::Prod && s.len > 64) continue;  // products over/underflow
        INFO(galen::kernels::reduce_name(op) << " " << galen::dtype_name(dt) << " (" << s.outer
                                             << ", " << s.len << ", " << s.inner << ")");
        const int64_t n = s.outer * s.len * s.inner, m = s.outer * s.inner;
        double lo = -3, hi = 3;
        if (op == ReduceOp::Prod) { lo = galen::is_floating(dt) ? 0.5 : -1; hi = galen::is_floating(dt) ? 1.5 : 2; }
        if (dt == DType::u8) { lo = 0; hi = 4; }  // many ties: the first index must win
        if (!galen::is_floating(dt) && !arith) { lo = std::max(lo, -2.0); hi = 3; }
        Buf x = random_buf(dt, n, 51, lo, hi);
        if (galen::is_floating(dt) && !arith && n > 40) {  // NaN wins max/min, first NaN wins
          x.set(n / 3, std::nan(""));
          x.set(n / 3 + s.inner * (s.len > 2 ? 1 : 0), std::nan(""));
        }
        const bool want_vals = !(op == ReduceOp::ArgMax || op == ReduceOp::ArgMin);
        const bool want_idx = !arith;
        Buf want(dt, m), want_i(DType::i64, m);
        ref().reduce(op, dt, x.data(), s.outer, s.len, s.inner, want_vals ? want.data() : nullptr,
                     want_idx ? static_cast<int64_t*>(want_i.data()) : nullptr);
        auto dx = upload(x);
        Dev dout(want.nbytes()), didx(want_i.nbytes());
        gpu().reduce(op, dt, dx->p, s.outer, s.len, s.inner, want_vals ? dout.p : nullptr,
                     want_idx ? static_cast<int64_t*>(didx.p) : nullptr);
        if (want_vals) {
          // Sums: the reference may add sequentially in f32; allow for its error.
          const double tol = tol_for(dt, 1e-5, 1e-13);
          const double atol =
              op == ReduceOp::Sum ? tol + tol_for(dt, 1e-6, 1e-14) * static_cast<double>(s.len) : tol;
          expect_close(download(dout, dt, m), want, atol, tol, "reduce values");
        }
        if (want_idx) expect_equal(download(didx, DType::i64, m), want_i, "reduce indices");
      }
    }
  }
  // len == 0: sum -> 0, prod -> 1, the rest have no identity.
  Dev out(64);
  Dev x(64);
  gpu().reduce(ReduceOp::Sum, DType::f32, x.p, 2, 0, 3, out.p, nullptr);
  Buf s = download(out, DType::f32, 6);
  for (int i = 0; i < 6; ++i) CHECK(s.get(i) == 0);
  gpu().reduce(ReduceOp::Prod, DType::i64, x.p, 2, 0, 3, out.p, nullptr);
  Buf p = download(out, DType::i64, 6);
  for (int i = 0; i < 6; ++i) CHECK(p.get(i) == 1);
  CHECK_THROWS_AS(gpu().reduce(ReduceOp::Max, DType::f32, x.p, 2, 0, 3, out.p, nullptr), galen::Error);
  CHECK_THROWS_AS(gpu().reduce(ReduceOp::ArgMin, DType::f32, x.p, 2, 0, 3, nullptr,
                               static_cast<int64_t*>(out.p)),
                  galen::Error);
  CHECK_THROWS_AS(gpu().reduce(ReduceOp::Sum, DType::boolean, x.p, 1, 1, 1, out.p, nullptr),
                  galen::Error);
}

TEST_CASE("cuda: softmax and log_softmax, forward and backward", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {1, 1}, {7, 13}, {3, 1024}, {5, 1025}, {2, 5003}, {4099, 10}, {0, 5}};
  for (DType dt : {DType::f32, DType::f64}) {
    for (bool log : {false, true}) {
      for (auto [rows, cols] : shapes) {
        INFO((log ? "log_softmax " : "softmax ") << galen::dtype_name(dt) << " (" << rows << ", "
                                                 << cols << ")");
        const int64_t n = rows * cols;
        Buf x = random_buf(dt, n, 61, -30, 30);
        Buf want(dt, n);
        ref().softmax(dt, x.data(), rows, cols, want.data(), log);
        auto dx = upload(x);
        Dev dy(want.nbytes());
        gpu().softmax(dt, dx->p, rows, cols, dy.p, log);
        const double tol = tol_for(dt, 1e-5, 1e-12);
        expect_close(download(dy, dt, n), want, tol, tol, "softmax");

        const Buf gy = random_buf(dt, n, 62, -1, 1);
        Buf want_gx(dt, n);
        ref().softmax_backward(dt, want.data(), gy.data(), rows, cols, want_gx.data(), log);
        auto dyref = upload(want);  // same y on both sides
        auto dgy = upload(gy);
        Dev dgx(want.nbytes());
        gpu().softmax_backward(dt, dyref->p, dgy->p, rows, cols, dgx.p, log);
        expect_close(download(dgx, dt, n), want_gx, tol * 10, tol * 10, "softmax_backward");
      }
    }
  }
  Dev d(64);
  CHECK_THROWS_AS(gpu().softmax(DType::i32, d.p, 2, 2, d.p, false), galen::Error);
}

// ---- gemm --------------------------------------------------------------------------------------

TEST_CASE("cuda: gemm variants against the reference", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  Backend& g = gpu();
  const auto vs = g.variants("gemm");
  REQUIRE(vs == std::vector<std::string>{"cublas", "tiled"});
  CHECK(g.variant("gemm") == "cublas");
  CHECK_THROWS_AS(g.set_variant("gemm", "magic"), galen::Error);
  CHECK_THROWS_AS(g.set_variant("conv", "tiled"), galen::Error);

  struct Dims {
    int64_t M, N, K;
  };
  const std::vector<Dims> dims = {{1, 1, 1},    {0, 3, 4},     {3, 0, 4},    {5, 7, 0},
                                  {17, 13, 31}, {64, 64, 64},  {65, 63, 129}, {128, 257, 33},
                                  {1, 300, 1},  {300, 1, 77},  {150, 130, 700}};
  for (const std::string& v : vs) {
    g.set_variant("gemm", v);
    for (DType dt : {DType::f32, DType::f64}) {
      for (const auto& d : dims) {
        for (int t = 0; t < 4; ++t) {
          const bool ta = t & 1, tb = t & 2;
          for (int64_t batch : {int64_t(1), int64_t(3)}) {
            for (double beta : {0.0, 0.5}) {
              INFO("gemm " << v << " " << galen::dtype_name(dt) << " M " << d.M << " N " << d.N
                           << " K " << d.K << " ta " << ta << " tb " << tb << " batch " << batch
                           << " beta " << beta);
              // Padded leading dims; A shared by every batch entry (stride 0).
              const int64_t lda = (ta ? d.M : d.K) + 3, ldb = (tb ? d.K : d.N) + 1, ldc = d.N + 2;
              const int64_t a_rows = ta ? d.K : d.M, b_rows = tb ? d.N : d.K;
              const int64_t sa = 0, sb = b_rows * ldb + 5, sc = d.M * ldc + 1;
              const int64_t na = a_rows * lda + 1, nb = sb * batch + 1, nc = sc * batch + 1;
              const Buf A = random_buf(dt, na, 71, -1, 1);
              const Buf B = random_buf(dt, nb, 72, -1, 1);
              Buf C = random_buf(dt, nc, 73, -1, 1);
              if (beta == 0)  // beta == 0 must not read C
                for (int64_t i = 0; i < nc; ++i) C.set(i, std::nan(""));
              Buf want = C;
              auto dA = upload(A);
              auto dB = upload(B);
              auto dC = upload(C);
              ref().gemm(dt, ta, tb, d.M, d.N, d.K, 1.5, A.data(), lda, sa, B.data(), ldb, sb, beta,
                         want.data(), ldc, sc, batch);
              g.gemm(dt, ta, tb, d.M, d.N, d.K, 1.5, dA->p, lda, sa, dB->p, ldb, sb, beta, dC->p,
                     ldc, sc, batch);
              const double tol = tol_for(dt, 2e-5, 1e-12) * std::sqrt(static_cast<double>(d.K + 1));
              expect_close(download(*dC, dt, nc), want, tol, tol, "gemm");
            }
          }
        }
      }
    }
  }
  g.set_variant("gemm", "cublas");
  Dev d(64);
  CHECK_THROWS_AS(g.gemm(DType::i32, false, false, 1, 1, 1, 1, d.p, 1, 0, d.p, 1, 0, 0, d.p, 1, 0, 1),
                  galen::Error);
}

// ---- indexing ------------------------------------------------------------------------------------

TEST_CASE("cuda: index_select and index_add", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  struct Case {
    int64_t outer, dim, inner, n;
  };
  const std::vector<Case> cases = {
      {1, 1, 1, 1}, {3, 7, 5, 11}, {1, 1000, 1, 3}, {2, 5, 4099, 9}, {4, 3, 2, 0}, {1, 50, 64, 2000}};
  for (DType dt : kAllTypes) {
    for (const auto& c : cases) {
      INFO("index ops " << galen::dtype_name(dt) << " (" << c.outer << ", " << c.dim << ", "
                        << c.inner << ") n " << c.n);
      Buf idx(DType::i64, c.n);
      for (int64_t j = 0; j < c.n; ++j)
        idx.set(j, static_cast<double>(mix(static_cast<uint64_t>(j) + 99) % static_cast<uint64_t>(c.dim)));
      auto didx = upload(idx);
      const int64_t* dip = static_cast<const int64_t*>(didx->p);
      const int64_t* hip = static_cast<const int64_t*>(idx.data());

      const Buf x = random_buf(dt, c.outer * c.dim * c.inner, 81, 0, 100);
      Buf want(dt, c.outer * c.n * c.inner);
      ref().index_select(dt, x.data(), c.outer, c.dim, c.inner, hip, c.n, want.data());
      auto dx = upload(x);
      Dev dout(want.nbytes());
      gpu().index_select(dt, dx->p, c.outer, c.dim, c.inner, dip, c.n, dout.p);
      expect_equal(download(dout, dt, want.n), want, "index_select");

      if (dt == DType::boolean) continue;
      // Duplicate indices make the atomics collide.
      const Buf src = random_buf(dt, c.outer * c.n * c.inner, 82, 0, 9);
      Buf dst = random_buf(dt, c.outer * c.dim * c.inner, 83, 0, 9);
      auto ddst = upload(dst);
      auto dsrc = upload(src);
      ref().index_add(dt, dst.data(), c.outer, c.dim, c.inner, hip, c.n, src.data());
      gpu().index_add(dt, ddst->p, c.outer, c.dim, c.inner, dip, c.n, dsrc->p);
      const double tol = tol_for(dt, 1e-5, 1e-12);
      expect_close(download(*ddst, dt, dst.n), dst, tol * 10, tol, "index_add");
    }
  }
}

TEST_CASE("cuda: gather and scatter_add", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (DType dt : kAllTypes) {
    for (int axis = 0; axis < 3; ++axis) {
      INFO("gather/scatter_add " << galen::dtype_name(dt) << " axis " << axis);
      // x (4, 6, 5) transposed storage; index (3, 4, 5) but smaller along axis' neighbours.
      const Layout xl = lay({4, 6, 5}, {1, 20, 4});
      const int64_t xsz[3] = {4, 6, 5};
      int64_t isz[3] = {3, 4, 5};
      isz[axis] = 7;  // more picks than the axis has: duplicates
      // index stored transposed too: strides of a (isz2, isz1, isz0) buffer
      const Layout il = lay({isz[0], isz[1], isz[2]}, {1, isz[0], isz[0] * isz[1]});
      Buf idx(DType::i64, span(il));
      for (int64_t j = 0; j < idx.n; ++j)
        idx.set(j, static_cast<double>(mix(static_cast<uint64_t>(j) + 7) % static_cast<uint64_t>(xsz[axis])));
      auto didx = upload(idx);
      const Buf x = random_buf(dt, span(xl), 91, 0, 50);
      auto dx = upload(x);
      Buf want(dt, il.numel());
      ref().gather(dt, x.data(), xl, axis, static_cast<const int64_t*>(idx.data()), il, want.data());
      Dev dout(want.nbytes());
      gpu().gather(dt, dx->p, xl, axis, static_cast<const int64_t*>(didx->p), il, dout.p);
      expect_equal(download(dout, dt, want.n), want, "gather");

      if (dt == DType::boolean) continue;
      // src broadcast along dim 2 (stride 0), dst contiguous (4, 6, 5).
      const Layout sl = lay({isz[0], isz[1], isz[2]}, {isz[1], 1, 0});
      const Layout dl = lay({4, 6, 5});
      const Buf src = random_buf(dt, span(sl), 92, 0, 9);
      Buf dst = random_buf(dt, 120, 93, 0, 9);
      auto ddst = upload(dst);
      auto dsrc = upload(src);
      ref().scatter_add(dt, dst.data(), dl, axis, static_cast<const int64_t*>(idx.data()), il,
                        src.data(), sl);
      gpu().scatter_add(dt, ddst->p, dl, axis, static_cast<const int64_t*>(didx->p), il, dsrc->p, sl);
      const double tol = tol_for(dt, 1e-5, 1e-12);
      expect_close(download(*ddst, dt, 120), dst, tol * 10, tol, "scatter_add");
    }
  }
}

TEST_CASE("cuda: minmax_i64", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (int64_t n : {int64_t(1), int64_t(33), int64_t(1000003)}) {
    Buf x = random_buf(DType::i64, n, 101, -1e12, 1e12);
    if (n > 100) {
      x.set(n - 1, -9.2e18);
      x.set(n / 2, 9.2e18);
    }
    int64_t want_mn = 0, want_mx = 0;
    ref().minmax_i64(static_cast<const int64_t*>(x.data()), n, &want_mn, &want_mx);
    auto dx = upload(x);
    int64_t mn = 0, mx = 0;  // host outputs
    gpu().minmax_i64(static_cast<const int64_t*>(dx->p), n, &mn, &mx);
    CHECK(mn == want_mn);
    CHECK(mx == want_mx);
  }
}

// ---- random --------------------------------------------------------------------------------------

TEST_CASE("cuda: random matches the reference stream", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const uint64_t seeds[] = {0, 42, 0xDEADBEEFCAFEF00Dull};
  const uint64_t offsets[] = {0, 12345, (uint64_t(1) << 40) + 3};
  const int64_t n = 100003;
  for (uint64_t seed : seeds) {
    for (uint64_t off : offsets) {
      INFO("seed " << seed << " offset " << off);
      // Uniform: (b - a) a power of two makes the product exact, so the host
      // result does not depend on whether its compiler fuses a + (b - a) * u.
      for (DType dt : {DType::f32, DType::f64}) {
        for (auto [a, b] : {std::pair{0.0, 1.0}, std::pair{-2.0, 2.0}, std::pair{3.0, 3.5}}) {
          Buf want(dt, n);
          ref().random(RandomDist::Uniform, dt, want.data(), n, seed, off, a, b);
          Dev d(want.nbytes());
          gpu().random(RandomDist::Uniform, dt, d.p, n, seed, off, a, b);
          expect_equal(download(d, dt, n), want, "uniform");
        }
        // Any range: at most an ulp apart.
        Buf want(dt, n);
        ref().random(RandomDist::Uniform, dt, want.data(), n, seed, off, -0.3, 1.7);
        Dev d(want.nbytes());
        gpu().random(RandomDist::Uniform, dt, d.p, n, seed, off, -0.3, 1.7);
        expect_close(download(d, dt, n), want, 0, tol_for(dt, 2.5e-7, 5e-16), "uniform");
      }
      for (DType dt : {DType::i32, DType::i64, DType::u8, DType::f32, DType::f64}) {
        const double lo = dt == DType::u8 ? 0 : -5, hi = dt == DType::u8 ? 256 : 1000003;
        Buf want(dt, n);
        ref().random(RandomDist::RandInt, dt, want.data(), n, seed, off, lo, hi);
        Dev d(want.nbytes());
        gpu().random(RandomDist::RandInt, dt, d.p, n, seed, off, lo, hi);
        expect_equal(download(d, dt, n), want, "randint");
      }
      for (DType dt : {DType::f32, DType::f64}) {
        Buf want(dt, n);
        ref().random(RandomDist::Normal, dt, want.data(), n, seed, off, 1.5, 2.0);
        Dev d(want.nbytes());
        gpu().random(RandomDist::Normal, dt, d.p, n, seed, off, 1.5, 2.0);
        // log/cos/sqrt of CUDA and glibc differ by an ulp or two.
        expect_close(download(d, dt, n), want, tol_for(dt, 1e-6, 1e-13),
                     tol_for(dt, 1e-6, 1e-13), "normal");
      }
    }
  }
  Dev d(64);
  CHECK_THROWS_AS(gpu().random(RandomDist::Normal, DType::i32, d.p, 4, 1, 0, 0, 1), galen::Error);
  CHECK_THROWS_AS(gpu().random(RandomDist::RandInt, DType::boolean, d.p, 4, 1, 0, 0, 2), galen::Error);
}

#endif  // GALEN_WITH_CUDA
