// Tensor creation: empty/zeros/ones/full, ranges, eye, random (Philox), and
// wrapping host data. Small deterministic ranges are built on the host and
// moved; random numbers are generated on the target device by the backend.
#include <cmath>
#include <cstring>
#include <algorithm>

#include "galen/core/internal.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"

namespace galen {

using detail::make_empty;

namespace {
Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
void check_creatable(const char* op, const TensorOptions& o) {
  GALEN_CHECK(o.dtype != DType::f16 && o.dtype != DType::bf16, op, ": dtype ", dtype_name(o.dtype),
              " is a storage-only placeholder; no kernels exist for it yet");
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions o) {
  return finish(make_empty(shape, o.dtype, o.device), o);
}

Tensor full(const Shape& shape, double value, TensorOptions o) {
  check_creatable("full", o);
  Tensor t = make_empty(shape, o.dtype, o.device);
  if (t.numel() > 0) detail::backend_of(t).fill(o.dtype, t.data_ptr(), t.numel(), value);
  return finish(t, o);
}

Tensor zeros(const Shape& shape, TensorOptions o) { return full(shape, 0.0, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return full(shape, 1.0, o); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor full_like(const Tensor& t, double v) { return full(t.sizes(), v, TensorOptions(t.dtype(), t.device())); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), TensorOptions(t.dtype(), t.device())); }
Tensor scalar_tensor(double value, TensorOptions o) { return full({}, value, o); }

namespace {
// Builds a 1-D f64 host tensor from a generator, then converts.
template <typename F>
Tensor host_build(int64_t n, const TensorOptions& o, F&& f) {
  Tensor h = make_empty({n}, DType::f64, Device{});
  double* p = static_cast<double*>(h.data_ptr());
  for (int64_t i = 0; i < n; ++i) p[i] = f(i);
  return finish(h.to(o.dtype).to(o.device), o);  // h is fresh: no copy needed when it is already right
}
}  // namespace

Tensor arange(double end, TensorOptions o) { return arange(0.0, end, 1.0, o); }

Tensor arange(double start, double end, double step, TensorOptions o) {
  check_creatable("arange", o);
  GALEN_CHECK(step != 0.0, "arange: step must be nonzero");
  GALEN_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite");
  GALEN_CHECK((end - start) / step >= 0 || start == end, "arange: upper bound and step sign are inconsistent (start ",
              start, ", end ", end, ", step ", step, ")");
  const int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  return host_build(std::max<int64_t>(n, 0), o, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions o) {
  check_creatable("linspace", o);
  GALEN_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Symmetric evaluation (from both ends) as PyTorch does, so the end is exact.
  const int64_t half = steps / 2;
  return host_build(steps, o, [&](int64_t i) {
    return i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
  });
}

Tensor eye(int64_t n, int64_t m, TensorOptions o) {
  check_creatable("eye", o);
  if (m < 0) m = n;
  GALEN_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  Tensor h = host_build(n * m, TensorOptions(o.dtype, o.device), [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
  return finish(h.reshape({n, m}), o);
}

namespace {
Tensor random_tensor(const char* op, kernels::RandomDist dist, const Shape& shape, TensorOptions o, double a, double b) {
  check_creatable(op, o);
  if (dist != kernels::RandomDist::RandInt)
    GALEN_CHECK(is_floating(o.dtype), op, ": dtype must be floating point, got ", dtype_name(o.dtype));
  Tensor t = make_empty(shape, o.dtype, o.device);
  const int64_t n = t.numel();
  if (n > 0) {
    const GeneratorState st = get_rng_state();
    const uint64_t offset = rng_reserve(static_cast<uint64_t>(n));
    detail::backend_of(t).random(dist, o.dtype, t.data_ptr(), n, st.seed, offset, a, b);
  }
  return finish(t, o);
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions o) {
  return random_tensor("rand", kernels::RandomDist::Uniform, shape, o, 0.0, 1.0);
}
Tensor randn(const Shape& shape, TensorOptions o) {
  return random_tensor("randn", kernels::RandomDist::Normal, shape, o, 0.0, 1.0);
}
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions o) {
  GALEN_CHECK(lo <= hi, "uniform: lo ", lo, " > hi ", hi);
  return random_tensor("uniform", kernels::RandomDist::Uniform, shape, o, lo, hi);
}
Tensor normal(const Shape& shape, double mean, double stdv, TensorOptions o) {
  GALEN_CHECK(stdv >= 0, "normal: std must be non-negative, got ", stdv);
  return random_tensor("normal", kernels::RandomDist::Normal, shape, o, mean, stdv);
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions o) {
  GALEN_CHECK(low < high, "randint: expected low < high, got low ", low, ", high ", high);
  GALEN_CHECK(o.dtype != DType::boolean, "randint: dtype bool is not supported");
  return random_tensor("randint", kernels::RandomDist::RandInt, shape, o, static_cast<double>(low),
                       static_cast<double>(high));
}

Tensor randperm(int64_t n, TensorOptions o) {
  GALEN_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor u = random_tensor("randperm", kernels::RandomDist::Uniform, {n}, TensorOptions(DType::f64), 0.0, 1.0);
  const double* r = static_cast<const double*>(u.data_ptr());
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = std::min<int64_t>(static_cast<int64_t>(r[i] * static_cast<double>(i + 1)), i);
    std::swap(p[i], p[j]);
  }
  return from_vector<int64_t>(p, {n}, o);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions o) {
  const int64_t n = detail::numel_of(shape);
  GALEN_CHECK(static_cast<int64_t>(values.size()) == n, "from_vector: ", values.size(),
              " values do not fill shape ", shape, " (", n, " elements)");
  Tensor h = make_empty(shape, dtype_v<T>, Device{});
  if constexpr (std::is_same_v<T, bool>) {
    bool* p = static_cast<bool*>(h.data_ptr());
    for (int64_t i = 0; i < n; ++i) p[i] = values[static_cast<size_t>(i)];
  } else {
    if (n > 0) std::memcpy(h.data_ptr(), values.data(), static_cast<size_t>(n) * sizeof(T));
  }
  Tensor t = h.to(o.dtype).to(o.device);
  return finish(t, o);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, TensorOptions);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, TensorOptions);

Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device, std::function<void(void*)> deleter) {
  return from_blob(data, shape, detail::contiguous_strides(shape), dtype, device, std::move(deleter));
}

Tensor from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype, Device device,
                 std::function<void(void*)> deleter) {
  GALEN_CHECK(shape.size() == strides.size(), "from_blob: shape ", shape, " and strides ", strides,
              " differ in length");
  GALEN_CHECK(data != nullptr || detail::numel_of(shape) == 0, "from_blob: null data pointer");
  int64_t extent = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    GALEN_CHECK(shape[i] >= 0 && strides[i] >= 0, "from_blob: negative size or stride (shape ", shape, ", strides ",
                strides, ")");
    if (shape[i] > 0) extent += (shape[i] - 1) * strides[i];
  }
  auto impl = std::make_shared<TensorImpl>();
  const size_t nbytes = detail::numel_of(shape) == 0 ? 0 : static_cast<size_t>(extent + 1) * element_size(dtype);
  impl->storage = std::make_shared<Storage>(data, nbytes, device, std::move(deleter));
  impl->sizes = shape;
  impl->strides = strides;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

const char* version() {
#ifdef GALEN_VERSION_STRING
  return GALEN_VERSION_STRING;
#else
  return "unknown";
#endif
}

}  // namespace galen
