// Tensor: a cheap, shared handle to a TensorImpl (storage + offset + sizes +
// strides + dtype + device + autograd meta). Copying a Tensor is shallow;
// clone() is deep. View ops (view/reshape, permute, transpose, squeeze,
// unsqueeze, flatten, expand, narrow/slice, select) share storage.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "galen/core/device.h"
#include "galen/core/dtype.h"
#include "galen/core/error.h"

namespace galen {

using Shape = std::vector<int64_t>;

namespace autograd {
class Node;
struct AutogradMeta;
}  // namespace autograd

// A block of memory on one device, freed through that device's allocator.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  // Wraps memory the caller owns (no copy); `deleter` runs when the last
  // tensor using it goes away (may be empty: the caller keeps ownership).
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::function<void(void*)> deleter_;
  bool owned_ = true;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape sizes;
  Shape strides;  // in elements
  DType dtype = DType::f32;
  std::shared_ptr<autograd::AutogradMeta> autograd;  // null for plain tensors
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata -------------------------------------------------------------
  const Shape& sizes() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  size_t element_size() const { return galen::element_size(dtype()); }

  // Raw pointer to the first element (device memory for CUDA tensors).
  void* data_ptr() const;
  // Typed pointer; checks the dtype matches T.
  template <typename T>
  T* data() const {
    GALEN_CHECK(dtype() == dtype_v<T>, "Tensor::data<", dtype_name(dtype_v<T>), ">: tensor has dtype ",
                dtype_name(dtype()));
    return static_cast<T*>(data_ptr());
  }
  // The single value of a one-element tensor (copied to host if needed).
  double item() const;
  template <typename T>
  T item() const { return static_cast<T>(item()); }
  // Copies the elements (in logical row-major order) to a host vector of T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- conversion -----------------------------------------------------------
  Tensor to(Device device) const;  // no-op (same handle) when already there
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device{DeviceType::CPU}); }
  Tensor cuda(int index = 0) const { return to(Device{DeviceType::CUDA, index}); }
  Tensor contiguous() const;  // same handle when already contiguous
  Tensor clone() const;

  // ---- views (share storage) ------------------------------------------------
  Tensor view(const Shape& shape) const;     // needs compatible strides; one -1 allowed
  Tensor reshape(const Shape& shape) const;  // view when possible, copy otherwise
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  // Python-style slice x[start:end:step] along dim (negative start/end allowed,
  // clamped like Python).
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes dim

  // ---- autograd ---------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined Tensor when none
  void set_grad(const Tensor& g);
  void zero_grad();  // drops .grad
  // Runs backward from this tensor. `grad` defaults to 1 for a one-element
  // tensor and is required otherwise. `retain_graph` keeps saved tensors so
  // backward can run through the graph again.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  void retain_grad() const;  // keep .grad on a non-leaf
  Tensor detach() const;     // shares storage, no history
  std::shared_ptr<autograd::Node> grad_fn() const;
  // fn(grad) runs when this tensor's gradient is computed; a defined return
  // value replaces the gradient. Returns a handle for remove_hook.
  int register_hook(std::function<Tensor(const Tensor&)> fn) const;
  void remove_hook(int handle) const;

  // ---- in-place (no autograd; refused on tensors that require grad while grad
  // mode is on). Used by optimizers and initialisers.
  Tensor& copy_(const Tensor& src);  // broadcasts src, casts dtype, crosses devices
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);

  // ---- convenience (forward to galen:: ops) --------------------------------
  Tensor sum() const;
  Tensor mean() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor pow(double e) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Readable printing for small tensors (large ones are summarised with ...).
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string shape_str(const Shape& s);

// ---- creation ----------------------------------------------------------------
struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device{};
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}  // NOLINT
  TensorOptions(Device d) : device(d) {}  // NOLINT
  TensorOptions(DType t, Device d, bool rg = false) : dtype(t), device(d), requires_grad(rg) {}
  TensorOptions& with_dtype(DType d) { dtype = d; return *this; }
  TensorOptions& with_device(Device d) { device = d; return *this; }
  TensorOptions& with_requires_grad(bool r = true) { requires_grad = r; return *this; }
};

Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor scalar_tensor(double value, TensorOptions opts = {});
// [start, end) with step, like torch.arange (dtype default i64 when all args
// are integral in the 1- and 2-argument forms, here chosen by opts).
Tensor arange(double end, TensorOptions opts = DType::i64);
Tensor arange(double start, double end, double step = 1.0, TensorOptions opts = DType::i64);
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, int64_t m = -1, TensorOptions opts = {});
// Random: all draw from the global counter-based generator (see random.h).
Tensor rand(const Shape& shape, TensorOptions opts = {});   // U[0,1)
Tensor randn(const Shape& shape, TensorOptions opts = {});  // N(0,1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = DType::i64);
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opts = {});
// A random permutation of 0..n-1 (Fisher-Yates on Philox draws; same on every device).
Tensor randperm(int64_t n, TensorOptions opts = DType::i64);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {});

// From host data (copied). The vector's length must equal the shape's numel.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts = dtype_v<T>);
template <typename T>
Tensor tensor(std::initializer_list<T> values, TensorOptions opts = dtype_v<T>) {
  return from_vector<T>(std::vector<T>(values), {static_cast<int64_t>(values.size())}, opts);
}
// Wraps an existing buffer without copying. `deleter` (may be empty) runs when
// the last user is gone; the buffer must outlive the tensor otherwise.
Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device = Device{},
                 std::function<void(void*)> deleter = {});
// Same but with explicit element strides.
Tensor from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype,
                 Device device = Device{}, std::function<void(void*)> deleter = {});

// Library version string, e.g. "0.1.0".
const char* version();

// Number of threads used by CPU kernels and OpenBLAS (one shared OpenMP pool).
// Default: the number of cores, or the GALEN_NUM_THREADS environment variable.
void set_num_threads(int n);
int get_num_threads();

}  // namespace galen
