// Tensor-level CUDA tests: every op on CUDA against the same op on CPU (same
// inputs), forward and backward; the RNG gives the same numbers on both
// devices; device transfers round-trip. Tagged [cuda]; skipped without a GPU.
#include <functional>
#include <map>
#include <string>

#include "galen/kernels/backend.h"
#include "test_util.h"

using namespace galen;

namespace {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Case {
  std::vector<Shape> shapes;
  OpFn fn;
  bool positive = false;  // inputs must be > 0 (log, sqrt, pow)
};

std::map<std::string, Case> cases() {
  std::map<std::string, Case> c;
  auto u = [](Tensor (*f)(const Tensor&)) { return [f](const std::vector<Tensor>& v) { return f(v[0]); }; };
  c["neg"] = {{{7, 13}}, u(galen::neg)};
  c["abs"] = {{{7, 13}}, u(galen::abs)};
  c["exp"] = {{{7, 13}}, u(galen::exp)};
  c["log"] = {{{7, 13}}, u(galen::log), true};
  c["sqrt"] = {{{7, 13}}, u(galen::sqrt), true};
  c["rsqrt"] = {{{7, 13}}, u(galen::rsqrt), true};
  c["sigmoid"] = {{{1031}}, u(galen::sigmoid)};
  c["tanh"] = {{{1031}}, u(galen::tanh)};
  c["relu"] = {{{1031}}, u(galen::relu)};
  c["gelu"] = {{{1031}}, u(galen::gelu)};
  c["square"] = {{{5, 3}}, u(galen::square)};
  c["pow_scalar"] = {{{5, 3}}, [](const std::vector<Tensor>& v) { return pow(v[0], 2.5); }, true};
  c["add"] = {{{3, 1, 5}, {4, 1}}, [](const std::vector<Tensor>& v) { return add(v[0], v[1], 0.5); }};
  c["sub"] = {{{3, 1, 5}, {4, 1}}, [](const std::vector<Tensor>& v) { return v[0] - v[1]; }};
  c["mul"] = {{{3, 1, 5}, {4, 1}}, [](const std::vector<Tensor>& v) { return v[0] * v[1]; }};
  c["div"] = {{{3, 1, 5}, {4, 1}}, [](const std::vector<Tensor>& v) { return v[0] / v[1]; }, true};
  c["pow"] = {{{3, 4}, {4}}, [](const std::vector<Tensor>& v) { return pow(v[0], v[1]); }, true};
  c["maximum"] = {{{6, 7}, {7}}, [](const std::vector<Tensor>& v) { return maximum(v[0], v[1]); }};
  c["minimum"] = {{{6, 7}, {7}}, [](const std::vector<Tensor>& v) { return minimum(v[0], v[1]); }};
  c["where"] = {{{6, 7}, {6, 7}}, [](const std::vector<Tensor>& v) { return where(gt(v[0], v[1]), v[0], v[1]); }};
  c["clamp"] = {{{6, 7}}, [](const std::vector<Tensor>& v) { return clamp(v[0], -0.5, 0.7); }};
  c["sum"] = {{{5, 6, 7}}, [](const std::vector<Tensor>& v) { return sum(v[0], {0, 2}); }};
  c["mean"] = {{{5, 6, 7}}, [](const std::vector<Tensor>& v) { return mean(v[0], {1}, true); }};
  c["amax"] = {{{5, 6, 7}}, [](const std::vector<Tensor>& v) { return amax(v[0], {2}); }};
  c["max_dim"] = {{{5, 6, 7}}, [](const std::vector<Tensor>& v) { return max(v[0], 1).first; }};
  c["var"] = {{{5, 6, 7}}, [](const std::vector<Tensor>& v) { return var(v[0], {0, 1}); }};
  c["logsumexp"] = {{{5, 600}}, [](const std::vector<Tensor>& v) { return logsumexp(v[0], {1}); }};
  c["norm"] = {{{5, 6}}, [](const std::vector<Tensor>& v) { return norm(v[0], 2.0, {1}); }};
  c["sum_big"] = {{{3, 100003}}, [](const std::vector<Tensor>& v) { return sum(v[0], {1}); }};
  c["matmul"] = {{{2, 1, 5, 7}, {3, 7, 4}}, [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }};
  c["mm_t"] = {{{33, 65}, {17, 65}}, [](const std::vector<Tensor>& v) { return mm(v[0], v[1].t()); }};
  c["linear"] = {{{4, 9}, {5, 9}, {5}}, [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }};
  c["softmax"] = {{{4, 5, 6}}, [](const std::vector<Tensor>& v) { return softmax(v[0], 1); }};
  c["log_softmax"] = {{{4, 1030}}, [](const std::vector<Tensor>& v) { return log_softmax(v[0], -1); }};
  c["cat"] = {{{2, 3}, {2, 5}}, [](const std::vector<Tensor>& v) { return cat({v[0], v[1]}, 1); }};
  c["index_select"] = {{{6, 4}}, [](const std::vector<Tensor>& v) {
    return index_select(v[0], 0, tensor<int64_t>({5, 0, 0, 3}).to(v[0].device()));
  }};
  c["gather"] = {{{3, 4}}, [](const std::vector<Tensor>& v) {
    return gather(v[0], 1, from_vector<int64_t>({0, 3, 3, 1, 2, 2}, {3, 2}).to(v[0].device()));
  }};
  c["scatter_add"] = {{{3, 4}, {3, 2}}, [](const std::vector<Tensor>& v) {
    return scatter_add(v[0], 1, from_vector<int64_t>({0, 0, 3, 1, 2, 2}, {3, 2}).to(v[0].device()), v[1]);
  }};
  c["index_add"] = {{{5, 3}, {4, 3}}, [](const std::vector<Tensor>& v) {
    return index_add(v[0], 0, tensor<int64_t>({4, 0, 4, 1}).to(v[0].device()), v[1]);
  }};
  c["transpose_contiguous"] = {{{4, 5, 6}}, [](const std::vector<Tensor>& v) {
    return v[0].transpose(0, 2).contiguous() * 2.0;
  }};
  return c;
}

}  // namespace

TEST_CASE("every op on CUDA matches CPU, forward and backward", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-11;
    for (auto& [name, cs] : cases()) {
      INFO("op " << name << " dtype " << dtype_name(dt));
      manual_seed(42);
      std::vector<Tensor> cpu_in, gpu_in;
      for (const Shape& s : cs.shapes) {
        Tensor t = cs.positive ? uniform(s, 0.5, 2.0, dt) : randn(s, dt);
        cpu_in.push_back(t.clone().requires_grad_());
        gpu_in.push_back(t.cuda().requires_grad_());
      }
      Tensor yc = cs.fn(cpu_in), yg = cs.fn(gpu_in);
      REQUIRE(yg.device().is_cuda());
      REQUIRE_CLOSE(yg, yc, tol, tol);
      Tensor w = randn(yc.sizes(), dt);
      (yc * w).sum().backward();
      (yg * w.cuda()).sum().backward();
      for (size_t i = 0; i < cpu_in.size(); ++i) REQUIRE_CLOSE(gpu_in[i].grad(), cpu_in[i].grad(), tol, tol);
    }
  }
}

TEST_CASE("CUDA gemm variants agree with CPU through matmul", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  auto& be = kernels::backend(DeviceType::CUDA);
  const std::string before = be.variant("gemm");
  manual_seed(3);
  Tensor a = randn({2, 67, 129}), b = randn({129, 35});
  Tensor ref = matmul(a, b);
  for (const std::string& v : be.variants("gemm")) {
    INFO("variant " << v);
    be.set_variant("gemm", v);
    REQUIRE_CLOSE(matmul(a.cuda(), b.cuda()), ref, 1e-4, 1e-4);
    REQUIRE_CLOSE(matmul(a.cuda().transpose(1, 2).contiguous().transpose(1, 2), b.cuda()), ref, 1e-4, 1e-4);
  }
  be.set_variant("gemm", before);
}

TEST_CASE("the RNG gives the same numbers on CPU and CUDA", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64}) {
    manual_seed(7);
    Tensor c = rand({1000, 3}, dt);
    manual_seed(7);
    Tensor g = rand({1000, 3}, TensorOptions(dt, Device{DeviceType::CUDA, 0}));
    REQUIRE(equal(g.cpu(), c));
    manual_seed(8);
    Tensor cn = randn({4097}, dt);
    manual_seed(8);
    Tensor gn = randn({4097}, TensorOptions(dt, Device{DeviceType::CUDA, 0}));
    REQUIRE_CLOSE(gn, cn, 1e-12, dt == DType::f32 ? 1e-6 : 1e-12);
  }
  manual_seed(9);
  Tensor ci = randint(-5, 17, {3001});
  manual_seed(9);
  Tensor gi = randint(-5, 17, {3001}, TensorOptions(DType::i64, Device{DeviceType::CUDA, 0}));
  REQUIRE(equal(gi.cpu(), ci));
}

TEST_CASE("device transfers round-trip every dtype and views", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  manual_seed(1);
  Tensor x = randn({5, 7, 3});
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    Tensor t = (x * 3.0).to(dt);
    REQUIRE(equal(t.cuda().cpu(), t));
    REQUIRE(equal(t.cuda().permute({2, 0, 1}).contiguous().cpu(), t.permute({2, 0, 1}).contiguous()));
  }
  Tensor g = x.cuda();
  REQUIRE(g.device() == Device(DeviceType::CUDA, 0));
  REQUIRE_THROWS_WITH(add(g, x), Catch::Contains("different devices"));
}
