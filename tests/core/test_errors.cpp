// Bad input must raise galen::Error whose message names the op and the
// offending shapes / dtypes (and file:line), never crash or return garbage.
#include <functional>
#include <string>

#include "test_util.h"

using namespace galen;
using Catch::Contains;

namespace {

// The message of the galen::Error that fn throws, or a marker that fails
// every Contains() check and says what happened instead.
std::string err_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a galen::Error: ") + e.what() + ">";
  } catch (...) {
    return "<unknown exception>";
  }
  return "<no exception>";
}

// Shapes as GALEN_CHECK streams a Shape (and as shape_str prints one).
std::string sh(const Shape& s) { return shape_str(s); }

Tensor idx(std::vector<int64_t> v, Shape s) { return from_vector<int64_t>(v, s, DType::i64); }

}  // namespace

TEST_CASE("shape_str formats like GALEN_CHECK streams a Shape", "[errors]") {
  CHECK(shape_str({2, 3}) == "[2, 3]");
  CHECK(shape_str({}) == "[]");
  const std::string m = err_of([] { GALEN_CHECK(false, "myop: got ", Shape{4, 5}); });
  CHECK_THAT(m, Contains("myop: got [4, 5]"));
  CHECK_THAT(m, Contains(".cpp:"));  // file:line of the check
}

TEST_CASE("binary ops with unbroadcastable shapes", "[errors]") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  CHECK_THAT(err_of([&] { add(a, b); }), Contains("add") && Contains(sh({2, 3})) && Contains(sh({4})));
  CHECK_THAT(err_of([&] { (void)(a + b); }), Contains("add") && Contains(sh({2, 3})));
  CHECK_THAT(err_of([&] { sub(a, b); }), Contains("sub") && Contains(sh({4})));
  CHECK_THAT(err_of([&] { mul(zeros({3, 2}), zeros({3})); }), Contains("mul") && Contains(sh({3, 2})));
  CHECK_THAT(err_of([&] { div(a, zeros({2})); }), Contains("div") && Contains(sh({2})));
  CHECK_THAT(err_of([&] { maximum(a, zeros({2, 2})); }), Contains("maximum") && Contains(sh({2, 2})));
  CHECK_THAT(err_of([&] { lt(a, b); }), Contains("lt") && Contains(sh({2, 3})));
  CHECK_THAT(err_of([&] { where(zeros({4}, DType::boolean), a, a); }),
             Contains("where") && Contains(sh({4})));
  CHECK_THAT(err_of([] { broadcast_shapes({5, 1, 3}, {4, 2}, "custom_op"); }),
             Contains("custom_op") && Contains(sh({5, 1, 3})) && Contains(sh({4, 2})));
  // and the valid ones do broadcast
  CHECK(broadcast_shapes({5, 1, 3}, {4, 1}) == Shape{5, 4, 3});
  CHECK(broadcast_shapes({}, {2}) == Shape{2});
}

TEST_CASE("matmul family: inner-dim and rank mismatches", "[errors]") {
  CHECK_THAT(err_of([] { matmul(zeros({2, 3}), zeros({4, 5})); }),
             Contains("matmul") && Contains(sh({2, 3})) && Contains(sh({4, 5})));
  CHECK_THAT(err_of([] { matmul(zeros({3}), zeros({4})); }), Contains("matmul"));
  CHECK_THAT(err_of([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 2})); }),  // batch 2 vs 3
             Contains("matmul"));
  CHECK_THAT(err_of([] { matmul(zeros({}), zeros({3})); }), Contains("matmul"));
  CHECK_THAT(err_of([] { mm(zeros({2, 3, 4}), zeros({4, 2})); }), Contains("mm") && Contains(sh({2, 3, 4})));
  CHECK_THAT(err_of([] { mm(zeros({2, 3}), zeros({2, 3})); }), Contains("mm") && Contains(sh({2, 3})));
  CHECK_THAT(err_of([] { bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }),
             Contains("bmm") && Contains(sh({2, 3, 4})) && Contains(sh({3, 4, 5})));
  CHECK_THAT(err_of([] { bmm(zeros({3, 4}), zeros({4, 5})); }), Contains("bmm"));
  CHECK_THAT(err_of([] { linear(zeros({2, 3}), zeros({5, 4})); }),
             Contains("linear") && Contains(sh({2, 3})) && Contains(sh({5, 4})));
  CHECK_THAT(err_of([] { linear(zeros({2, 4}), zeros({5, 4}), zeros({3})); }),
             Contains("linear") && Contains(sh({3})));
}

TEST_CASE("cat and stack with mismatched inputs", "[errors]") {
  CHECK_THAT(err_of([] { cat({zeros({2, 3}), zeros({3, 4})}, 0); }),
             Contains("cat") && Contains(sh({2, 3})) && Contains(sh({3, 4})));
  CHECK_THAT(err_of([] { cat({zeros({2, 3}), zeros({2, 3, 1})}, 0); }), Contains("cat"));
  CHECK_THAT(err_of([] { cat({}, 0); }), Contains("cat"));
  CHECK_THAT(err_of([] { cat({zeros({2, 3}), zeros({2, 3})}, 2); }), Contains("cat"));
  CHECK_THAT(err_of([] { stack({zeros({2, 3}), zeros({3, 2})}, 0); }),
             Contains("stack") && Contains(sh({3, 2})));
  SECTION("mixed dtypes: an Error naming both, or torch-style promotion") {
    Tensor a = ones({2}, DType::f32), b = full({1}, 2.5, DType::f64);
    std::string msg;
    Tensor out;
    try {
      out = cat({a, b}, 0);
    } catch (const Error& e) {
      msg = e.what();
    }
    if (!msg.empty()) {
      CHECK_THAT(msg, Contains("cat") && Contains("f32") && Contains("f64"));
    } else {
      CHECK(out.dtype() == DType::f64);
      CHECK(out.to_vector<double>() == std::vector<double>{1, 1, 2.5});
    }
  }
}

TEST_CASE("indexing ops: out-of-range, negative and non-integer indices", "[errors]") {
  Tensor x = zeros({3, 4});
  SECTION("index_select") {
    CHECK_THAT(err_of([&] { index_select(x, 0, idx({0, 3}, {2})); }),
               Contains("index_select") && Contains("3"));
    CHECK_THAT(err_of([&] { index_select(x, 1, idx({-1}, {1})); }), Contains("index_select"));
    CHECK_THAT(err_of([&] { index_select(x, 0, zeros({2})); }), Contains("index_select") && Contains("f32"));
    CHECK_THAT(err_of([&] { index_select(x, 2, idx({0}, {1})); }), Contains("index_select"));
    CHECK_THAT(err_of([&] { index_select(x, 0, idx({0, 1}, {1, 2})); }), Contains("index_select"));
  }
  SECTION("gather") {
    CHECK_THAT(err_of([&] { gather(x, 1, idx({0, 4, 1}, {3, 1})); }), Contains("gather") && Contains("4"));
    CHECK_THAT(err_of([&] { gather(x, 1, idx({0, -1, 1}, {3, 1})); }), Contains("gather"));
    CHECK_THAT(err_of([&] { gather(x, 1, zeros({3, 1}, DType::f64)); }), Contains("gather") && Contains("f64"));
    CHECK_THAT(err_of([&] { gather(x, 1, idx({0, 1, 2}, {3})); }), Contains("gather"));  // rank
  }
  SECTION("scatter_add") {
    Tensor src = ones({3, 1});
    CHECK_THAT(err_of([&] { scatter_add(x, 1, idx({0, 9, 1}, {3, 1}), src); }),
               Contains("scatter_add") && Contains("9"));
    CHECK_THAT(err_of([&] { scatter_add(x, 1, idx({0, -2, 1}, {3, 1}), src); }), Contains("scatter_add"));
    CHECK_THAT(err_of([&] { scatter_add(x, 1, zeros({3, 1}), src); }), Contains("scatter_add") && Contains("f32"));
    CHECK_THAT(err_of([&] { scatter_add(x, 1, idx({0, 1, 2}, {3, 1}), ones({3, 1}, DType::f64)); }),
               Contains("scatter_add"));  // src dtype differs from x, like torch
  }
  SECTION("index_add") {
    CHECK_THAT(err_of([&] { index_add(x, 0, idx({3}, {1}), ones({1, 4})); }), Contains("index_add"));
    CHECK_THAT(err_of([&] { index_add(x, 0, idx({0}, {1}), ones({1, 5})); }),
               Contains("index_add") && Contains(sh({1, 5})));
    CHECK_THAT(err_of([&] { index_add(x, 0, zeros({1}), ones({1, 4})); }), Contains("index_add"));
  }
  SECTION("masked_fill and where need boolean masks") {
    CHECK_THAT(err_of([&] { masked_fill(x, zeros({3, 4}), 1.0); }), Contains("masked_fill"));
    CHECK_THAT(err_of([&] { masked_fill(x, zeros({5}, DType::boolean), 1.0); }),
               Contains("masked_fill") && Contains(sh({5})));
    CHECK_THAT(err_of([&] { where(zeros({3, 4}), x, x); }), Contains("where"));
  }
}

TEST_CASE("view ops with bad arguments", "[errors]") {
  Tensor x = zeros({2, 3});
  // the input may be described by its shape or, like torch, by its size
  CHECK_THAT(err_of([&] { x.reshape({4}); }),
             Contains("reshape") && (Contains(sh({2, 3})) || Contains("6")) && Contains(sh({4})));
  CHECK_THAT(err_of([&] { x.view({5, -1}); }),
             Contains("view") && (Contains(sh({2, 3})) || Contains("6")) && Contains(sh({5, -1})));
  CHECK_THAT(err_of([&] { x.t().view({6}); }), Contains("view"));
  CHECK_THAT(err_of([&] { x.narrow(1, 2, 2); }), Contains("narrow"));
  CHECK_THAT(err_of([&] { x.narrow(1, -4, 1); }), Contains("narrow"));  // -1 is valid, like torch
  CHECK(x.narrow(1, -1, 1).storage_offset() == 2);
  CHECK_THAT(err_of([&] { x.narrow(2, 0, 1); }), Contains("narrow"));
  CHECK_THAT(err_of([&] { x.select(0, 2); }), Contains("select"));
  CHECK_THAT(err_of([&] { x.select(0, -3); }), Contains("select"));
  CHECK_THAT(err_of([&] { x.slice(1, 0, 3, 0); }), Contains("slice"));
  CHECK_THAT(err_of([&] { x.slice(1, 0, 3, -1); }), Contains("slice"));
  CHECK_THAT(err_of([&] { x.permute({0, 0}); }), Contains("permute"));
  CHECK_THAT(err_of([&] { x.permute({0}); }), Contains("permute"));
  CHECK_THAT(err_of([&] { x.permute({0, 2}); }), Contains("permute"));
  CHECK_THAT(err_of([&] { x.transpose(0, 2); }), Contains("transpose"));
  CHECK_THAT(err_of([&] { x.unsqueeze(4); }), Contains("unsqueeze"));
  CHECK_THAT(err_of([&] { x.squeeze(-3); }), Contains("squeeze"));
  CHECK_THAT(err_of([&] { x.flatten(1, 0); }), Contains("flatten"));
  CHECK_THAT(err_of([&] { x.expand({3, 3}); }), Contains("expand") && Contains(sh({2, 3})));
  CHECK_THAT(err_of([&] { x.expand({3}); }), Contains("expand"));  // fewer dims
  CHECK_THAT(err_of([&] { (void)x.size(2); }), Contains("2"));
  CHECK_THAT(err_of([&] { (void)x.stride(-3); }), Contains("-3"));
}

TEST_CASE("reductions and softmax with dims out of range", "[errors]") {
  Tensor x = zeros({2, 3, 4});
  CHECK_THAT(err_of([&] { sum(x, {3}); }), Contains("sum"));
  CHECK_THAT(err_of([&] { sum(x, {-4}); }), Contains("sum"));
  CHECK_THAT(err_of([&] { mean(x, {0, 0}); }), Contains("mean"));  // repeated dim
  CHECK_THAT(err_of([&] { amax(x, {5}); }), Contains("amax"));
  CHECK_THAT(err_of([&] { max(x, 3); }), Contains("max"));
  CHECK_THAT(err_of([&] { prod(x, -4); }), Contains("prod"));
  CHECK_THAT(err_of([&] { softmax(x, 3); }), Contains("softmax"));
  CHECK_THAT(err_of([&] { log_softmax(x, -4); }), Contains("log_softmax"));
  CHECK_THAT(err_of([&] { argmax(x, 3); }), Contains("argmax"));
  CHECK_THAT(err_of([&] { max(zeros({0})); }), Contains("max"));  // no identity for an empty max
  CHECK_THAT(err_of([&] { split(x, 0, 0); }), Contains("split"));
  CHECK_THAT(err_of([&] { split(x, std::vector<int64_t>{1, 1}, 1); }), Contains("split"));  // 1+1 != 3
}

TEST_CASE("creation with bad arguments", "[errors]") {
  CHECK_THAT(err_of([] { zeros({2, -1}); }), Contains(sh({2, -1})));
  CHECK_THAT(err_of([] { from_vector<float>({1, 2, 3}, {2, 2}); }), Contains(sh({2, 2})));
  CHECK_THAT(err_of([] { arange(0, 5, 0.0); }), Contains("arange"));
  CHECK_THAT(err_of([] { arange(0, 5, -1.0); }), Contains("arange"));
  CHECK_THAT(err_of([] { linspace(0, 1, -2); }), Contains("linspace"));
  CHECK_THAT(err_of([] { randint(5, 5, {3}); }), Contains("randint"));
  CHECK_THAT(err_of([] { eye(-1); }), Contains("eye"));
  CHECK_THAT(err_of([] { zeros({2}).item(); }), Contains("item"));
  CHECK_THAT(err_of([] { (void)zeros({2}).data<int64_t>(); }), Contains("f32") && Contains("i64"));
}

TEST_CASE("tensors on a device that is not there", "[errors]") {
  if (cuda_is_available()) {
    // mixing devices in one op names the op and both devices
    Tensor a = zeros({2}), b = zeros({2}, Device{DeviceType::CUDA});
    CHECK_THAT(err_of([&] { add(a, b); }), Contains("add") && Contains("cpu") && Contains("cuda"));
    CHECK_THAT(err_of([&] { matmul(zeros({2, 2}), zeros({2, 2}, Device{DeviceType::CUDA})); }),
               Contains("matmul") && Contains("cuda"));
    CHECK_THAT(err_of([&] { cat({a, b}, 0); }), Contains("cat"));
    CHECK_THAT(err_of([&] { index_select(b, 0, idx({0}, {1})); }), Contains("index_select"));
  } else {
    // no GPU (or no CUDA backend): asking for one is an Error, not a crash
    CHECK_THAT(err_of([] { zeros({2}, Device{DeviceType::CUDA}); }), Contains("cuda") || Contains("CUDA"));
    CHECK_THAT(err_of([] { zeros({2}).cuda(); }), Contains("cuda") || Contains("CUDA"));
    CHECK_THAT(err_of([] { zeros({2}, Device{DeviceType::CUDA, 7}); }), Contains("cuda") || Contains("CUDA"));
  }
  CHECK_THAT(err_of([] { Device::parse("tpu"); }), Contains("tpu"));
  CHECK(Device::parse("cuda:1") == Device(DeviceType::CUDA, 1));
  CHECK(Device::parse("cpu") == Device(DeviceType::CPU));
}

TEST_CASE("f16 / bf16 tensors are reported as unsupported", "[errors]") {
  // dtype.h: storage slots only, no kernel handles them: creating one may be
  // refused, and any op on one must be a clear Error naming the dtype.
  for (DType dt : {DType::f16, DType::bf16}) {
    const std::string name = dtype_name(dt);
    INFO("dtype " << name);
    CHECK_THAT(err_of([&] { exp(zeros({2}, dt)); }), Contains(name));
    CHECK_THAT(err_of([&] { add(ones({2}, dt), ones({2}, dt)); }), Contains(name));
    CHECK_THAT(err_of([&] { matmul(ones({2, 2}, dt), ones({2, 2}, dt)); }), Contains(name));
    CHECK_THAT(err_of([&] { sum(ones({2}, dt)); }), Contains(name));
    CHECK_THAT(err_of([&] { ones({2}).to(dt).sum(); }), Contains(name));
  }
}

TEST_CASE("floating ops on integer / bool tensors promote like torch or refuse clearly", "[errors]") {
  // ops.h says semantics follow PyTorch, which computes exp/log/sqrt of an
  // integer or bool tensor in f32. An implementation may instead refuse; then
  // the Error must name the op and the dtype. Either way, consistently.
  struct Case {
    const char* op;
    std::function<Tensor(const Tensor&)> fn;
    double (*ref)(double);
  };
  const std::vector<Case> cases = {
      {"exp", [](const Tensor& t) { return exp(t); }, [](double v) { return std::exp(v); }},
      {"log", [](const Tensor& t) { return log(t); }, [](double v) { return std::log(v); }},
      {"sqrt", [](const Tensor& t) { return sqrt(t); }, [](double v) { return std::sqrt(v); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); },
       [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
  };
  const std::vector<Tensor> inputs = {from_vector<int64_t>({1, 4}, {2}, DType::i64),
                                      from_vector<int32_t>({1, 4}, {2}, DType::i32),
                                      tensor<int64_t>({1, 0}).to(DType::boolean)};
  for (const Case& c : cases) {
    for (const Tensor& in : inputs) {
      INFO(c.op << " on " << dtype_name(in.dtype()));
      std::string msg;
      Tensor out;
      try {
        out = c.fn(in);
      } catch (const Error& e) {
        msg = e.what();
      }
      if (!msg.empty()) {
        CHECK_THAT(msg, Contains(c.op) && Contains(dtype_name(in.dtype())));
      } else {
        REQUIRE(out.dtype() == DType::f32);
        const auto iv = in.to(DType::f64).to_vector<double>();
        const auto ov = out.to_vector<float>();
        for (size_t i = 0; i < iv.size(); ++i) {
          const double r = c.ref(iv[i]);
          if (std::isinf(r)) CHECK(std::isinf(ov[i]));
          else CHECK(ov[i] == Approx(r).epsilon(1e-6));
        }
      }
    }
  }
  // integer arithmetic stays integral, division is true division like torch
  Tensor a = tensor<int64_t>({7, -7});
  CHECK((a * a).dtype() == DType::i64);
  CHECK((a + a).to_vector<int64_t>() == std::vector<int64_t>{14, -14});
  Tensor q = div(a, tensor<int64_t>({2, 2}));
  CHECK(is_floating(q.dtype()));
  CHECK(q.to(DType::f64).to_vector<double>() == std::vector<double>{3.5, -3.5});
  CHECK(neg(a).to_vector<int64_t>() == std::vector<int64_t>{-7, 7});
  CHECK(abs(a).to_vector<int64_t>() == std::vector<int64_t>{7, 7});
}

TEST_CASE("error messages for autograd misuse name the problem", "[errors]") {
  Tensor x = ones({2, 2}, TensorOptions(DType::f64, Device{}, true));
  Tensor y = x * 2.0;
  CHECK_THAT(err_of([&] { y.backward(); }), Contains(sh({2, 2})) || Contains("scalar"));
  CHECK_THAT(err_of([&] { y.requires_grad_(false); }), Contains("leaf"));
  CHECK_THAT(err_of([&] { x.fill_(1.0); }), Contains("fill_") || Contains("requires grad"));
  CHECK_THAT(err_of([] { zeros({2}, DType::i64).requires_grad_(true); }), Contains("i64"));
  CHECK_THAT(err_of([&] { y.backward(ones({3}, DType::f64)); }), Contains(sh({3})));
}
