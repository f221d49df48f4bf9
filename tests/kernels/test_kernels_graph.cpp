// Graph primitives (kernels/backend.h "graph primitives", core/graph_ops.h):
// CpuBackend against RefBackend on awkward shapes (E = 0, empty segments, one
// segment, duplicates, sorted and unsorted indices, ties and NaN for max, sizes
// large enough for the parallel path), then the core ops: f64 gradchecks,
// PyTorch parity (tests/fixtures/gnn_parity.safetensors, made by
// tools/make_gnn_fixtures.py) and argument errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

#include "galen/core/graph_ops.h"
#include "galen/core/json.h"
#include "galen/kernels/backend.h"

GALEN_COVERS_GRADCHECK(gather_rows);
GALEN_COVERS_GRADCHECK(scatter_sum);
GALEN_COVERS_GRADCHECK(scatter_mean);
GALEN_COVERS_GRADCHECK(scatter_max);
GALEN_COVERS_GRADCHECK(segment_softmax);
GALEN_COVERS_PARITY(gather_rows);
GALEN_COVERS_PARITY(scatter_sum);
GALEN_COVERS_PARITY(scatter_mean);
GALEN_COVERS_PARITY(scatter_max);
GALEN_COVERS_PARITY(segment_softmax);

namespace {

namespace gk = galen::kernels;
using galen::DType;
using galen::Tensor;
using Reduce = gk::Backend::ScatterReduce;

std::mt19937_64& rng() {
  static std::mt19937_64 r(4242);
  return r;
}

template <typename T>
std::vector<T> rand_vec(int64_t n, bool small_ints = false) {
  std::vector<T> v(static_cast<size_t>(std::max<int64_t>(n, 1)));
  for (auto& e : v)
    e = small_ints ? static_cast<T>(std::uniform_int_distribution<int>(-2, 2)(rng()))
                   : static_cast<T>(std::uniform_real_distribution<double>(-3, 3)(rng()));
  return v;
}

// E indices in [0, N): sorted or shuffled; `skip` leaves every skip-th segment empty.
std::vector<int64_t> rand_index(int64_t E, int64_t N, bool sorted, int64_t skip = 0) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(E, 1)), 0);
  for (int64_t e = 0; e < E; ++e) {
    int64_t i = std::uniform_int_distribution<int64_t>(0, N - 1)(rng());
    if (skip > 0 && i % skip == 0 && N > 1) i = (i + 1) % N;
    v[static_cast<size_t>(e)] = i;
  }
  if (sorted) std::sort(v.begin(), v.begin() + E);
  return v;
}

template <typename T>
void require_close(const std::vector<T>& a, const std::vector<T>& b, double tol, const std::string& what) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    INFO(what << " at " << i << ": cpu " << x << " ref " << y);
    if (std::isnan(y)) {
      REQUIRE(std::isnan(x));
      continue;
    }
    REQUIRE(std::fabs(x - y) <= tol + tol * std::fabs(y));
  }
}

struct Shape3 {
  int64_t E, F, N;
  bool sorted;
  int64_t skip;
};

// E = 0; one row; one segment; more segments than rows; every 3rd segment empty;
// sorted; F = 1; big enough for several threads (E*F >= 32768).
const std::vector<Shape3> kShapes = {{0, 3, 4, false, 0},   {1, 1, 1, false, 0},    {5, 2, 1, false, 0},
                                     {7, 3, 10, false, 0},  {37, 5, 11, false, 3},  {25, 4, 6, true, 0},
                                     {13, 1, 5, false, 2},  {640, 57, 97, false, 5}, {1200, 31, 40, true, 4}};

template <typename T>
void check_scatter(Reduce op, const Shape3& s, bool ties_and_nan) {
  const DType dt = galen::dtype_v<T>;
  INFO("E=" << s.E << " F=" << s.F << " N=" << s.N << " sorted=" << s.sorted << " op=" << static_cast<int>(op)
            << " dtype=" << galen::dtype_name(dt));
  std::vector<T> src = rand_vec<T>(s.E * s.F, ties_and_nan);
  if (ties_and_nan && s.E * s.F > 4) {
    src[1] = std::numeric_limits<T>::quiet_NaN();
    src[static_cast<size_t>(s.E * s.F / 2)] = std::numeric_limits<T>::quiet_NaN();
  }
  const std::vector<int64_t> idx = rand_index(s.E, s.N, s.sorted, s.skip);
  const size_t out_n = static_cast<size_t>(std::max<int64_t>(s.N * s.F, 1));
  std::vector<T> o_cpu(out_n, T(7)), o_ref(out_n, T(-7));
  std::vector<int64_t> a_cpu(out_n, 99), a_ref(out_n, -99);
  const bool max = op == Reduce::Max;
  gk::cpu_backend().scatter_reduce(op, dt, src.data(), s.E, s.F, idx.data(), s.N, o_cpu.data(),
                                   max ? a_cpu.data() : nullptr);
  gk::ref_backend().scatter_reduce(op, dt, src.data(), s.E, s.F, idx.data(), s.N, o_ref.data(),
                                   max ? a_ref.data() : nullptr);
  // f32: the cpu kernel sums in float in row order, the ref in double.
  const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
  require_close(o_cpu, o_ref, tol, "scatter_reduce out");
  if (max) {
    REQUIRE(a_cpu == a_ref);
    // Max backward: cpu vs ref.
    const std::vector<T> g = rand_vec<T>(s.N * s.F);
    const size_t src_n = static_cast<size_t>(std::max<int64_t>(s.E * s.F, 1));
    std::vector<T> gc(src_n, T(5)), gr(src_n, T(-5));
    gk::cpu_backend().scatter_max_backward(dt, g.data(), a_ref.data(), s.N, s.F, s.E, gc.data());
    gk::ref_backend().scatter_max_backward(dt, g.data(), a_ref.data(), s.N, s.F, s.E, gr.data());
    if (s.E * s.F > 0) require_close(gc, gr, 0.0, "scatter_max_backward");
  }
  // Empty segments are 0 (and arg -1).
  std::vector<bool> hit(static_cast<size_t>(s.N), false);
  for (int64_t e = 0; e < s.E; ++e) hit[static_cast<size_t>(idx[static_cast<size_t>(e)])] = true;
  for (int64_t n = 0; n < s.N; ++n)
    if (!hit[static_cast<size_t>(n)])
      for (int64_t f = 0; f < s.F; ++f) {
        REQUIRE(o_cpu[static_cast<size_t>(n * s.F + f)] == T(0));
        if (max) REQUIRE(a_cpu[static_cast<size_t>(n * s.F + f)] == -1);
      }
}

template <typename T>
void check_softmax(const Shape3& s) {
  const DType dt = galen::dtype_v<T>;
  INFO("E=" << s.E << " F=" << s.F << " N=" << s.N << " sorted=" << s.sorted << " dtype=" << galen::dtype_name(dt));
  std::vector<T> src = rand_vec<T>(s.E * s.F);
  for (auto& v : src) v = static_cast<T>(v * 40);  // large logits: needs the max shift
  const std::vector<int64_t> idx = rand_index(s.E, s.N, s.sorted, s.skip);
  const size_t n = static_cast<size_t>(std::max<int64_t>(s.E * s.F, 1));
  std::vector<T> yc(n, T(3)), yr(n, T(-3));
  gk::cpu_backend().segment_softmax(dt, src.data(), s.E, s.F, idx.data(), s.N, yc.data());
  gk::ref_backend().segment_softmax(dt, src.data(), s.E, s.F, idx.data(), s.N, yr.data());
  const double tol = dt == DType::f64 ? 1e-12 : 1e-6;
  if (s.E * s.F > 0) require_close(yc, yr, tol, "segment_softmax");
  // Each segment's column sums to 1.
  std::vector<double> tot(static_cast<size_t>(s.N * s.F), 0.0);
  for (int64_t e = 0; e < s.E; ++e)
    for (int64_t f = 0; f < s.F; ++f) tot[static_cast<size_t>(idx[static_cast<size_t>(e)] * s.F + f)] += yc[e * s.F + f];
  for (int64_t e = 0; e < s.E; ++e)
    for (int64_t f = 0; f < s.F; ++f)
      REQUIRE(std::fabs(tot[static_cast<size_t>(idx[static_cast<size_t>(e)] * s.F + f)] - 1.0) < 1e-5);
  const std::vector<T> gy = rand_vec<T>(s.E * s.F);
  std::vector<T> gc(n, T(3)), gr(n, T(-3));
  gk::cpu_backend().segment_softmax_backward(dt, yr.data(), gy.data(), s.E, s.F, idx.data(), s.N, gc.data());
  gk::ref_backend().segment_softmax_backward(dt, yr.data(), gy.data(), s.E, s.F, idx.data(), s.N, gr.data());
  if (s.E * s.F > 0) require_close(gc, gr, tol, "segment_softmax_backward");
}

}  // namespace

TEST_CASE("graph kernels: cpu scatter_reduce matches ref (sum, mean, max; awkward shapes)", "[kernels][graph]") {
  for (const Shape3& s : kShapes)
    for (Reduce op : {Reduce::Sum, Reduce::Mean, Reduce::Max}) {
      check_scatter<float>(op, s, false);
      check_scatter<double>(op, s, false);
    }
  // Ties (small integers) and NaN: first maximum / first NaN wins on both.
  for (const Shape3& s : kShapes) {
    check_scatter<float>(Reduce::Max, s, true);
    check_scatter<double>(Reduce::Max, s, true);
  }
}

TEST_CASE("graph kernels: cpu segment_softmax matches ref, segments sum to 1", "[kernels][graph]") {
  for (const Shape3& s : kShapes) {
    check_softmax<float>(s);
    check_softmax<double>(s);
  }
}

TEST_CASE("graph kernels: unsupported dtype is a no-kernel error", "[kernels][graph]") {
  std::vector<int64_t> src = {1, 2}, idx = {0, 0}, out = {0};
  REQUIRE_THROWS_AS(gk::cpu_backend().scatter_reduce(Reduce::Sum, DType::i64, src.data(), 2, 1, idx.data(), 1,
                                                     out.data(), nullptr),
                    galen::Error);
  REQUIRE_THROWS_AS(gk::ref_backend().segment_softmax(DType::i64, src.data(), 2, 1, idx.data(), 1, out.data()),
                    galen::Error);
}

// ---- core ops ---------------------------------------------------------------------------------

using namespace galen;

namespace {
Tensor idx_t(const std::vector<int64_t>& v) { return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}); }

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("graph ops: f64 gradchecks (duplicates, empty segments, trailing dims)", "[ops][graph][gradcheck]") {
  manual_seed(11);
  const Tensor idx = idx_t({3, 0, 6, 3, 2, 0, 4, 3, 6, 2});  // segments 1 and 5 empty
  const TensorOptions f64(DType::f64);
  Tensor x = randn({7, 4}, f64).requires_grad_();
  Tensor s = randn({10, 4}, f64).requires_grad_();
  Tensor s3 = randn({10, 2, 3}, f64).requires_grad_();
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gather_rows(v[0], idx); }, {x});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_sum(v[0], idx, 7); }, {s});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_sum(v[0], idx, 9); }, {s3});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_mean(v[0], idx, 7); }, {s});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_mean(v[0], idx, 8); }, {s3});
  // max: random values have no ties, so the max is differentiable at the point.
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_max(v[0], idx, 7); }, {s});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return scatter_max(v[0], idx, 8); }, {s3});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return segment_softmax(v[0], idx, 7); }, {s});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return segment_softmax(v[0], idx); }, {s3});
  Tensor s1 = randn({10}, f64).requires_grad_();
  expect_gradcheck([&](const std::vector<Tensor>& v) { return segment_softmax(mul(v[0], 3.0), idx, 7); }, {s1});
}

TEST_CASE("graph ops: E = 0, dim_size inference, gradient of max goes to the first maximum", "[ops][graph]") {
  const Tensor empty_idx = from_vector<int64_t>({}, {0});
  Tensor s = zeros({0, 3}).requires_grad_();
  Tensor out = scatter_sum(s, empty_idx, 4);
  REQUIRE(out.sizes() == Shape{4, 3});
  REQUIRE(sum(abs(out)).item() == 0.0);
  REQUIRE(scatter_max(s, empty_idx, 2).sizes() == Shape{2, 3});
  REQUIRE(scatter_mean(s, empty_idx).sizes() == Shape{0, 3});  // inferred: no segments
  REQUIRE(segment_softmax(s, empty_idx, 5).sizes() == Shape{0, 3});
  sum(scatter_mean(s, empty_idx, 4)).backward();
  REQUIRE(s.grad().sizes() == Shape{0, 3});
  REQUIRE(gather_rows(randn({3, 2}), empty_idx).sizes() == Shape{0, 2});

  REQUIRE(scatter_sum(ones({3, 1}), idx_t({0, 4, 4})).sizes() == Shape{5, 1});  // max + 1
  // Ties: 2 = 2 in segment 0: all gradient to row 0 (the first), none to row 2.
  Tensor v = from_vector<double>({2, 1, 2, 5}, {4, 1}, DType::f64).requires_grad_();
  auto [m, arg] = scatter_max_with_arg(v, idx_t({0, 0, 0, 2}), 3);
  REQUIRE(m.to_vector<double>() == std::vector<double>{2, 0, 5});
  REQUIRE(arg.to_vector<int64_t>() == std::vector<int64_t>{0, -1, 3});
  sum(m).backward();
  REQUIRE(v.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 1});
  // i32 index accepted.
  REQUIRE(equal(scatter_sum(ones({3, 1}), idx_t({0, 1, 1}).to(DType::i32), 2),
                from_vector<float>({1, 2}, {2, 1})));
}

TEST_CASE("graph ops: bad arguments name the op and the problem", "[ops][graph][errors]") {
  const Tensor s = randn({4, 2});
  auto msg = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  REQUIRE(msg([&] { scatter_sum(s, idx_t({0, 1, 5, 2}), 4); }).find("scatter_sum: index contains 5") !=
          std::string::npos);
  REQUIRE(msg([&] { scatter_mean(s, idx_t({0, -1, 2, 2}), 4); }).find("-1") != std::string::npos);
  REQUIRE(msg([&] { scatter_max(s, idx_t({0, 1, 2}), 4); }).find("3 entries but src has 4 rows") != std::string::npos);
  REQUIRE(msg([&] { segment_softmax(s, idx_t({0, 1, 2, 3}).reshape({2, 2}), 4); }).find("1-D") != std::string::npos);
  REQUIRE(msg([&] { scatter_sum(s.to(DType::i64), idx_t({0, 1, 2, 3}), 4); }).find("floating") != std::string::npos);
  REQUIRE(msg([&] { scatter_sum(s, from_vector<float>({0, 1, 2, 3}, {4}), 4); }).find("integer") !=
          std::string::npos);
  REQUIRE(msg([&] { gather_rows(s, idx_t({4})); }).find("gather_rows: index contains 4") != std::string::npos);
  REQUIRE_THROWS_AS(gather_rows(scalar_tensor(1.0), idx_t({0})), Error);
  REQUIRE_THROWS_AS(segment_softmax(scalar_tensor(1.0), idx_t({0}), 1), Error);
}

// ---- PyTorch parity -----------------------------------------------------------------------------

namespace {
const SafetensorsFile& gnn_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/gnn_parity.safetensors");
  return f;
}
Tensor gfx(const std::string& key) {
  auto it = gnn_fixture().tensors.find(key);
  INFO("fixture key " << key);
  REQUIRE(it != gnn_fixture().tensors.end());
  return it->second;
}
}  // namespace

TEST_CASE("graph ops: PyTorch parity (outputs and gradients, f64 and f32)", "[ops][graph][parity]") {
  int n_cases = 0;
  for (const auto& [name, text] : gnn_fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    const json::Value meta = json::parse(text);
    if (meta.find("op") == nullptr) continue;
    const std::string op = meta.find("op")->as_string();
    for (DType dt : {DType::f64, DType::f32}) {
      INFO("case " << name << " (" << op << ") in " << dtype_name(dt));
      const double tol = dt == DType::f64 ? 1e-10 : 1e-5;
      Tensor in = gfx(name + ".in0").to(dt).detach().clone().requires_grad_();
      const Tensor idx = gfx(name + ".index");
      const json::Value* ds = meta.find("dim_size");
      const int64_t n = ds != nullptr ? ds->as_int() : -1;
      Tensor out;
      if (op == "gather_rows") out = gather_rows(in, idx);
      else if (op == "scatter_sum") out = scatter_sum(in, idx, n);
      else if (op == "scatter_mean") out = scatter_mean(in, idx, n);
      else if (op == "scatter_max") out = scatter_max(in, idx, n);
      else if (op == "segment_softmax") out = segment_softmax(in, idx, n);
      else FAIL("unknown op " << op);
      REQUIRE_CLOSE(out, gfx(name + ".out"), tol, tol);
      sum(mul(out, gfx(name + ".w").to(dt))).backward();
      REQUIRE(in.grad().defined());
      REQUIRE_CLOSE(in.grad(), gfx(name + ".grad0"), tol, tol);
    }
    ++n_cases;
  }
  REQUIRE(n_cases >= 11);
}
