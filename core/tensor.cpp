// Tensor and Storage: metadata, views (with their backward), device/dtype
// conversion, element access, printing and the in-place helpers.
#include "galen/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <numeric>
#include <optional>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::make_empty;

// ---- Storage ------------------------------------------------------------------

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = kernels::backend(device.type).allocate(nbytes, device.index);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)), owned_(false) {}

Storage::~Storage() {
  if (owned_) {
    if (data_) kernels::backend(device_.type).deallocate(data_, nbytes_, device_.index);
  } else if (deleter_) {
    deleter_(data_);
  }
}

// ---- helpers --------------------------------------------------------------------

namespace detail {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

Tensor make_empty(const Shape& sizes, DType dtype, Device device) {
  for (int64_t v : sizes) GALEN_CHECK(v >= 0, "empty: negative size in shape ", sizes);
  GALEN_CHECK(sizes.size() <= static_cast<size_t>(kernels::kMaxDims), "empty: at most ",
              kernels::kMaxDims, " dims supported, got shape ", sizes);
  auto impl = std::make_shared<TensorImpl>();
  const size_t nbytes = static_cast<size_t>(numel_of(sizes)) * element_size(dtype);
  impl->storage = std::make_shared<Storage>(nbytes, device);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

kernels::Layout layout_of(const Tensor& t) {
  if (t.dim() == 0) return kernels::Layout::strided({1}, {1});
  return kernels::Layout::strided(t.sizes(), t.strides());
}

kernels::Layout broadcast_layout(const Tensor& t, const Shape& shape) {
  Shape sizes = shape.empty() ? Shape{1} : shape;
  Shape strides(sizes.size(), 0);
  const int64_t off = static_cast<int64_t>(sizes.size()) - t.dim();
  for (int64_t i = 0; i < t.dim(); ++i) {
    const int64_t s = t.size(i);
    strides[off + i] = s == 1 ? 0 : t.stride(i);  // size 1: broadcast (or a single index)
  }
  return kernels::Layout::strided(sizes, strides);
}

void check_defined(const char* op, const Tensor& t, const char* what) {
  GALEN_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t || !t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    GALEN_CHECK(t->device() == first->device(), op, ": tensors are on different devices (",
                first->device().str(), " and ", t->device().str(), ")");
  }
}

int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  GALEN_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " out of range for a ", ndim, "-D tensor");
  return dim < 0 ? dim + n : dim;
}

}  // namespace detail

namespace {

using detail::contiguous_strides;
using detail::numel_of;

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->offset = offset;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// Strides that let `shape` view memory laid out as (old_sizes, old_strides), if any.
std::optional<Shape> view_strides(const Shape& old_sizes, const Shape& old_strides, const Shape& shape) {
  if (numel_of(old_sizes) == 0 || old_sizes.empty()) return contiguous_strides(shape);
  Shape out(shape.size(), 1);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[d];
    if (d == 0 || (old_sizes[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const char* op, const Shape& shape, const Shape& input) {
  const int64_t numel = numel_of(input);
  Shape out = shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      GALEN_CHECK(infer < 0, op, ": only one dimension can be -1, got shape ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      GALEN_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    GALEN_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape,
                " is invalid for input of shape ", input, " (", numel, " elements)");
    out[infer] = numel / known;
  }
  GALEN_CHECK(numel_of(out) == numel, op, ": shape ", shape, " is invalid for input of shape ", input, " (", numel,
              " elements)");
  return out;
}

// Scatter `grad` (shape of a view) back into zeros of the base's shape through
// the same view transformation.
Tensor view_backward_into_zeros(const Tensor& grad, const Shape& base_sizes,
                                const std::function<Tensor(const Tensor&)>& make_view_of) {
  Tensor z = zeros(base_sizes, TensorOptions(grad.dtype(), grad.device()));
  Tensor v = make_view_of(z);
  v.copy_(grad);
  return z;
}

}  // namespace

// ---- metadata ---------------------------------------------------------------------

#define GALEN_CHECK_DEFINED(op) GALEN_CHECK(impl_ != nullptr, op, ": tensor is undefined")

const Shape& Tensor::sizes() const { GALEN_CHECK_DEFINED("sizes"); return impl_->sizes; }
const Shape& Tensor::strides() const { GALEN_CHECK_DEFINED("strides"); return impl_->strides; }
int64_t Tensor::dim() const { GALEN_CHECK_DEFINED("dim"); return static_cast<int64_t>(impl_->sizes.size()); }
int64_t Tensor::size(int64_t d) const {
  GALEN_CHECK(dim() > 0, "size: a 0-d tensor has no dims");
  return impl_->sizes[detail::wrap_dim("size", d, dim())];
}
int64_t Tensor::stride(int64_t d) const {
  GALEN_CHECK(dim() > 0, "stride: a 0-d tensor has no dims");
  return impl_->strides[detail::wrap_dim("stride", d, dim())];
}
int64_t Tensor::numel() const { GALEN_CHECK_DEFINED("numel"); return numel_of(impl_->sizes); }
int64_t Tensor::storage_offset() const { GALEN_CHECK_DEFINED("storage_offset"); return impl_->offset; }
DType Tensor::dtype() const { GALEN_CHECK_DEFINED("dtype"); return impl_->dtype; }
Device Tensor::device() const { GALEN_CHECK_DEFINED("device"); return impl_->storage->device(); }

bool Tensor::is_contiguous() const {
  GALEN_CHECK_DEFINED("is_contiguous");
  if (numel() == 0) return true;
  int64_t expect = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->sizes[i] == 1) continue;
    if (impl_->strides[i] != expect) return false;
    expect *= impl_->sizes[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  GALEN_CHECK_DEFINED("data_ptr");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
}

double Tensor::item() const {
  GALEN_CHECK_DEFINED("item");
  GALEN_CHECK(numel() == 1, "item: tensor with ", numel(), " elements (shape ", sizes(),
              ") cannot be converted to a scalar");
  Tensor c = to(DType::f64).cpu();
  return *static_cast<const double*>(c.data_ptr());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  GALEN_CHECK_DEFINED("to_vector");
  Tensor c = to(dtype_v<T>).cpu().contiguous();
  std::vector<T> out(static_cast<size_t>(c.numel()));
  if constexpr (std::is_same_v<T, bool>) {
    const auto* p = static_cast<const bool*>(c.data_ptr());
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  } else {
    if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size() * sizeof(T));
  }
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

// ---- conversion ----------------------------------------------------------------------

Tensor Tensor::to(Device device) const {
  GALEN_CHECK_DEFINED("to");
  const Device src = this->device();
  if (src == device) return *this;
  if (device.is_cuda())
    GALEN_CHECK(kernels::has_backend(DeviceType::CUDA), "to(", device.str(),
                "): galen was built without the CUDA backend");
  Tensor c = contiguous();
  Tensor out = make_empty(sizes(), dtype(), device);
  const size_t nbytes = static_cast<size_t>(numel()) * element_size();
  if (nbytes > 0) {
    if (src.is_cpu()) {
      kernels::backend(device.type).copy_from_host(out.data_ptr(), c.data_ptr(), nbytes, device.index);
    } else if (device.is_cpu()) {
      kernels::backend(src.type).copy_to_host(out.data_ptr(), c.data_ptr(), nbytes, src.index);
    } else {  // CUDA -> other CUDA device, through the host
      std::vector<char> host(nbytes);
      kernels::backend(src.type).copy_to_host(host.data(), c.data_ptr(), nbytes, src.index);
      kernels::backend(device.type).copy_from_host(out.data_ptr(), host.data(), nbytes, device.index);
    }
  }
  return record("to_device", out, {*this}, {}, [src](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.to(src)};
  });
}

Tensor Tensor::to(DType dt) const {
  GALEN_CHECK_DEFINED("to");
  if (dt == dtype()) return *this;
  GALEN_CHECK(dt != DType::f16 && dt != DType::bf16 && dtype() != DType::f16 && dtype() != DType::bf16,
              "to: conversion ", dtype_name(dtype()), " -> ", dtype_name(dt),
              " is not supported yet (f16/bf16 are storage-only placeholders)");
  Tensor out = make_empty(sizes(), dt, device());
  if (numel() > 0)
    detail::backend_of(*this).copy(dtype(), data_ptr(), detail::layout_of(*this), dt, out.data_ptr(),
                                   detail::layout_of(out));
  if (!is_floating(dt)) return out;
  const DType src = dtype();
  return record("to_dtype", out, {*this}, {}, [src](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.to(src)};
  });
}

Tensor Tensor::contiguous() const {
  GALEN_CHECK_DEFINED("contiguous");
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  GALEN_CHECK_DEFINED("clone");
  Tensor out = make_empty(sizes(), dtype(), device());
  if (numel() > 0)
    detail::backend_of(*this).copy(dtype(), data_ptr(), detail::layout_of(*this), dtype(), out.data_ptr(),
                                   detail::layout_of(out));
  return record("clone", out, {*this}, {}, [](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g};
  });
}

// ---- views ------------------------------------------------------------------------------

Tensor Tensor::view(const Shape& shape) const {
  GALEN_CHECK_DEFINED("view");
  const Shape s = infer_shape("view", shape, sizes());
  auto st = view_strides(sizes(), strides(), s);
  GALEN_CHECK(st.has_value(), "view: size ", s, " is not compatible with input sizes ", sizes(),
              " and strides ", strides(), "; use reshape() (which copies) instead");
  Tensor out = make_view(*this, s, *st, storage_offset());
  const Shape in = sizes();
  return record("view", out, {*this}, {}, [in](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.reshape(in)};
  });
}

Tensor Tensor::reshape(const Shape& shape) const {
  GALEN_CHECK_DEFINED("reshape");
  const Shape s = infer_shape("reshape", shape, sizes());
  if (view_strides(sizes(), strides(), s).has_value()) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  GALEN_CHECK_DEFINED("permute");
  GALEN_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(),
              " dims for a ", dim(), "-D tensor of shape ", sizes());
  std::vector<int64_t> p(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape ns(dims.size()), nst(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    p[i] = detail::wrap_dim("permute", dims[i], dim());
    GALEN_CHECK(!seen[p[i]], "permute: dim ", dims[i], " repeated in ", dims);
    seen[p[i]] = true;
    ns[i] = sizes()[p[i]];
    nst[i] = strides()[p[i]];
  }
  Tensor out = make_view(*this, ns, nst, storage_offset());
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<int64_t>(i);
  return record("permute", out, {*this}, {}, [inv](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.permute(inv)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  GALEN_CHECK_DEFINED("transpose");
  if (dim() == 0) return *this;
  const int64_t a = detail::wrap_dim("transpose", d0, dim()), b = detail::wrap_dim("transpose", d1, dim());
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[a], p[b]);
  return permute(p);
}

Tensor Tensor::t() const {
  GALEN_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got shape ", sizes());
  return dim() < 2 ? *this : transpose(0, 1);
}

namespace {
Tensor restride(const Tensor& x, const char* name, Shape ns, Shape nst) {
  Tensor out = make_view(x, std::move(ns), std::move(nst), x.storage_offset());
  const Shape in = x.sizes();
  return record(name, out, {x}, {}, [in](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.reshape(in)};
  });
}
}  // namespace

Tensor Tensor::squeeze() const {
  GALEN_CHECK_DEFINED("squeeze");
  Shape ns, nst;
  for (int64_t i = 0; i < dim(); ++i)
    if (sizes()[i] != 1) {
      ns.push_back(sizes()[i]);
      nst.push_back(strides()[i]);
    }
  return restride(*this, "squeeze", ns, nst);
}

Tensor Tensor::squeeze(int64_t d) const {
  GALEN_CHECK_DEFINED("squeeze");
  if (dim() == 0) return restride(*this, "squeeze", {}, {});
  d = detail::wrap_dim("squeeze", d, dim());
  if (sizes()[d] != 1) return restride(*this, "squeeze", sizes(), strides());
  Shape ns = sizes(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  return restride(*this, "squeeze", ns, nst);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  GALEN_CHECK_DEFINED("unsqueeze");
  d = detail::wrap_dim("unsqueeze", d, dim() + 1);
  Shape ns = sizes(), nst = strides();
  const int64_t st = d < dim() ? sizes()[d] * strides()[d] : 1;
  ns.insert(ns.begin() + d, 1);
  nst.insert(nst.begin() + d, st);
  return restride(*this, "unsqueeze", ns, nst);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  GALEN_CHECK_DEFINED("flatten");
  if (dim() == 0) return reshape({1});
  const int64_t s = detail::wrap_dim("flatten", start_dim, dim());
  const int64_t e = detail::wrap_dim("flatten", end_dim, dim());
  GALEN_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape ns(sizes().begin(), sizes().begin() + s);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= sizes()[i];
  ns.push_back(m);
  ns.insert(ns.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(ns);
}

Tensor Tensor::expand(const Shape& shape) const {
  GALEN_CHECK_DEFINED("expand");
  const int64_t nd = static_cast<int64_t>(shape.size());
  GALEN_CHECK(nd >= dim(), "expand: the number of sizes (", nd, ") must be >= the tensor's dims (",
              dim(), "), shape ", sizes(), " -> ", shape);
  Shape ns(nd), nst(nd);
  const int64_t off = nd - dim();
  for (int64_t i = nd - 1; i >= 0; --i) {
    const int64_t want = shape[i];
    if (i >= off) {
      const int64_t have = sizes()[i - off];
      const int64_t target = want == -1 ? have : want;
      GALEN_CHECK(have == target || have == 1, "expand: cannot expand shape ", sizes(), " to ", shape,
                  " (dim ", i, ": ", have, " vs ", want, ")");
      ns[i] = target;
      nst[i] = have == target ? strides()[i - off] : 0;
    } else {
      GALEN_CHECK(want >= 0, "expand: -1 is not allowed for a new leading dim, shape ", shape);
      ns[i] = want;
      nst[i] = 0;
    }
  }
  Tensor out = make_view(*this, ns, nst, storage_offset());
  const Shape in = sizes();
  return record("expand", out, {*this}, {}, [in](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{sum_to(g, in)};
  });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  GALEN_CHECK_DEFINED("narrow");
  GALEN_CHECK(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  d = detail::wrap_dim("narrow", d, dim());
  const int64_t n = sizes()[d];
  if (start < 0) start += n;
  GALEN_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " + length ",
              length, " exceeds dim ", d, " of size ", n, " (shape ", sizes(), ")");
  Shape ns = sizes();
  ns[d] = length;
  Tensor out = make_view(*this, ns, strides(), storage_offset() + start * strides()[d]);
  const Shape in = sizes();
  return record("narrow", out, {*this}, {}, [in, d, start, length](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{view_backward_into_zeros(
        g, in, [&](const Tensor& z) { return z.narrow(d, start, length); })};
  });
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  GALEN_CHECK_DEFINED("slice");
  GALEN_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  GALEN_CHECK(step > 0, "slice: step must be positive, got ", step);
  d = detail::wrap_dim("slice", d, dim());
  const int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  const int64_t len = (end - start + step - 1) / step;
  Shape ns = sizes(), nst = strides();
  ns[d] = len;
  nst[d] = strides()[d] * step;
  Tensor out = make_view(*this, ns, nst, storage_offset() + start * strides()[d]);
  const Shape in = sizes();
  return record("slice", out, {*this}, {}, [in, d, start, end, step](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{view_backward_into_zeros(
        g, in, [&](const Tensor& z) { return z.slice(d, start, end, step); })};
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  GALEN_CHECK_DEFINED("select");
  GALEN_CHECK(dim() > 0, "select: cannot select on a 0-d tensor");
  d = detail::wrap_dim("select", d, dim());
  const int64_t n = sizes()[d];
  GALEN_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d,
              " of size ", n, " (shape ", sizes(), ")");
  if (index < 0) index += n;
  Shape ns = sizes(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  Tensor out = make_view(*this, ns, nst, storage_offset() + index * strides()[d]);
  const Shape in = sizes();
  return record("select", out, {*this}, {}, [in, d, index](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{view_backward_into_zeros(
        g, in, [&](const Tensor& z) { return z.select(d, index); })};
  });
}

// ---- in-place ------------------------------------------------------------------------------

namespace {
void check_inplace(const Tensor& t, const char* op) {
  GALEN_CHECK(!(autograd::grad_mode_enabled() && t.requires_grad()), op,
              ": in-place operation on a tensor that requires grad; wrap it in NoGradGuard");
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  GALEN_CHECK_DEFINED("copy_");
  detail::check_defined("copy_", src, "source");
  check_inplace(*this, "copy_");
  GALEN_CHECK(broadcast_shapes(src.sizes(), sizes(), "copy_") == sizes(), "copy_: source shape ", src.sizes(),
              " does not broadcast to destination shape ", sizes());
  Tensor s = src.device() == device() ? src : src.to(device());
  if (numel() == 0) return *this;
  // A source that overlaps the destination is read fully before writing.
  if (s.impl()->storage == impl_->storage) s = s.clone();
  detail::backend_of(*this).copy(s.dtype(), s.data_ptr(), detail::broadcast_layout(s, sizes()), dtype(),
                                 data_ptr(), detail::layout_of(*this));
  return *this;
}

Tensor& Tensor::fill_(double value) {
  GALEN_CHECK_DEFINED("fill_");
  check_inplace(*this, "fill_");
  if (numel() == 0) return *this;
  if (is_contiguous()) {
    detail::backend_of(*this).fill(dtype(), data_ptr(), numel(), value);
  } else {
    Tensor v = full({}, value, TensorOptions(dtype(), device()));
    copy_(v);
  }
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  Tensor r;
  {
    NoGradGuard g;
    r = galen::add(*this, other, alpha);
  }
  GALEN_CHECK(r.sizes() == sizes(), "add_: result shape ", r.sizes(), " differs from self shape ", sizes());
  return copy_(r);
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  Tensor r;
  {
    NoGradGuard g;
    r = galen::mul(*this, value);
  }
  return copy_(r);
}

// ---- convenience -----------------------------------------------------------------------------

Tensor Tensor::sum() const { return galen::sum(*this); }
Tensor Tensor::mean() const { return galen::mean(*this); }
Tensor Tensor::abs() const { return galen::abs(*this); }
Tensor Tensor::exp() const { return galen::exp(*this); }
Tensor Tensor::log() const { return galen::log(*this); }
Tensor Tensor::sqrt() const { return galen::sqrt(*this); }
Tensor Tensor::pow(double e) const { return galen::pow(*this, e); }
Tensor Tensor::relu() const { return galen::relu(*this); }
Tensor Tensor::sigmoid() const { return galen::sigmoid(*this); }
Tensor Tensor::tanh() const { return galen::tanh(*this); }

// ---- printing ------------------------------------------------------------------------------------

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

namespace {
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& sizes, size_t d,
               int64_t offset, int64_t stride_prod, bool summarise, bool integral, int indent) {
  const int64_t n = sizes[d];
  const int64_t inner = stride_prod / std::max<int64_t>(n, 1);
  os << '[';
  const int64_t edge = 3;
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * edge && i == edge) {
      os << "...";
      i = n - edge - 1;
      os << (d + 1 == sizes.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    if (d + 1 == sizes.size()) {
      const double x = v[offset + i];
      if (integral) os << static_cast<long long>(x);
      else os << std::setprecision(6) << x;
    } else {
      print_rec(os, v, sizes, d + 1, offset + i * inner, inner, summarise, integral, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == sizes.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> v;
  if (t.dtype() != DType::f16 && t.dtype() != DType::bf16) v = t.to_vector<double>();
  const bool integral = is_integral(t.dtype());
  os << "tensor(";
  if (t.dtype() == DType::f16 || t.dtype() == DType::bf16) {
    os << "<" << dtype_name(t.dtype()) << " data>";
  } else if (t.dim() == 0) {
    if (integral) os << static_cast<long long>(v[0]);
    else os << v[0];
  } else {
    print_rec(os, v, t.sizes(), 0, 0, t.numel(), t.numel() > 1000, integral, 7);
  }
  os << ", shape=" << shape_str(t.sizes()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device().str();
  if (t.requires_grad()) os << ", requires_grad";
  return os << ')';
}

}  // namespace galen
