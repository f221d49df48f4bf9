// Backend registry: one Backend per device type, registered at static-init time.
#include "galen/kernels/backend.h"

#include <array>

#include "galen/core/error.h"
#ifdef GALEN_WITH_CUDA
#include "galen/kernels/cuda/cuda_backend.h"
#endif

namespace galen::kernels {

namespace {
std::array<Backend*, 2>& registry() {
  static std::array<Backend*, 2> r{nullptr, nullptr};
  // Referencing the backends here keeps their object files in a static link
  // (self-registration alone would let the linker drop them).
  static const bool once = [] {
    r[static_cast<int>(DeviceType::CPU)] = &cpu_backend();
#ifdef GALEN_WITH_CUDA
    r[static_cast<int>(DeviceType::CUDA)] = &cuda_backend();
#endif
    return true;
  }();
  (void)once;
  return r;
}
const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "CPU" : "CUDA"; }
}  // namespace

void register_backend(Backend* b) { registry()[static_cast<int>(b->type())] = b; }

bool has_backend(DeviceType t) { return registry()[static_cast<int>(t)] != nullptr; }

Backend& backend(DeviceType t) {
  Backend* b = registry()[static_cast<int>(t)];
  GALEN_CHECK(b != nullptr, "no ", device_type_name(t),
              " backend: galen was built without CUDA support (configure with -DGALEN_CUDA=ON "
              "on a machine with nvcc, cuBLAS and cuDNN)");
  return *b;
}

void Backend::set_variant(const std::string& primitive, const std::string& variant) {
  GALEN_FAIL(name(), " backend: primitive '", primitive, "' has no selectable variant '", variant, "'");
}

void no_kernel(const char* primitive, DeviceType dev, DType dt) {
  GALEN_FAIL(primitive, ": no ", device_type_name(dev), " kernel for dtype ", dtype_name(dt));
}

Layout Layout::contiguous(const std::vector<int64_t>& sizes) {
  GALEN_CHECK(sizes.size() <= static_cast<size_t>(kMaxDims), "tensors have at most ", kMaxDims,
              " dims, got ", sizes.size());
  Layout l;
  l.ndim = static_cast<int>(sizes.size());
  int64_t s = 1;
  for (int i = l.ndim - 1; i >= 0; --i) {
    l.sizes[i] = sizes[i];
    l.strides[i] = s;
    s *= sizes[i];
  }
  return l;
}

Layout Layout::strided(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  GALEN_CHECK(sizes.size() <= static_cast<size_t>(kMaxDims), "tensors have at most ", kMaxDims,
              " dims, got ", sizes.size());
  Layout l;
  l.ndim = static_cast<int>(sizes.size());
  for (int i = 0; i < l.ndim; ++i) {
    l.sizes[i] = sizes[i];
    l.strides[i] = strides[i];
  }
  return l;
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::PowScalar: return "pow";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Square: return "square";
    case UnaryOp::Reciprocal: return "reciprocal";
    case UnaryOp::GeluGrad: return "gelu_grad";
    case UnaryOp::Step: return "step";
  }
  return "?";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
  }
  return "?";
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::ArgMin: return "argmin";
  }
  return "?";
}

}  // namespace galen::kernels

namespace galen::kernels {

// Defaults for the primitives added with the layers: a backend that lacks one
// reports it as the standard no-kernel error instead of failing to link.
void Backend::im2col(DType dt, const void*, const Conv2dGeometry&, void*) { no_kernel("im2col", type(), dt); }
void Backend::col2im(DType dt, const void*, const Conv2dGeometry&, void*) { no_kernel("col2im", type(), dt); }
void Backend::max_pool2d(DType dt, const void*, int64_t, const Conv2dGeometry&, void*, int64_t*) {
  no_kernel("max_pool2d", type(), dt);
}
void Backend::max_pool2d_backward(DType dt, const void*, const int64_t*, int64_t, const Conv2dGeometry&, void*) {
  no_kernel("max_pool2d_backward", type(), dt);
}
void Backend::avg_pool2d(DType dt, const void*, int64_t, const Conv2dGeometry&, bool, void*) {
  no_kernel("avg_pool2d", type(), dt);
}
void Backend::avg_pool2d_backward(DType dt, const void*, int64_t, const Conv2dGeometry&, bool, void*) {
  no_kernel("avg_pool2d_backward", type(), dt);
}
void Backend::channel_stats(DType dt, const void*, int64_t, int64_t, int64_t, void*, void*) {
  no_kernel("channel_stats", type(), dt);
}
void Backend::channel_affine(DType dt, const void*, int64_t, int64_t, int64_t, const void*, const void*,
                             const void*, const void*, void*) {
  no_kernel("channel_affine", type(), dt);
}
void Backend::batch_norm_backward(DType dt, const void*, const void*, int64_t, int64_t, int64_t, const void*,
                                  const void*, const void*, void*, void*, void*) {
  no_kernel("batch_norm_backward", type(), dt);
}

void Backend::adam_step(DType dt, void*, const void*, void*, void*, void*, int64_t, const AdamParams&) {
  no_kernel("adam_step", type(), dt);
}

}  // namespace galen::kernels
