// Helpers shared by the op implementations in core/*.cpp (not part of the
// public API, though installed with the other headers).
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "galen/core/autograd.h"
#include "galen/core/tensor.h"
#include "galen/kernels/backend.h"

namespace galen::detail {

// A fresh contiguous tensor.
Tensor make_empty(const Shape& sizes, DType dtype, Device device);
inline kernels::Backend& backend_of(const Tensor& t) { return kernels::backend(t.device().type); }
// Layout of t (0-d tensors become 1-D of size 1).
kernels::Layout layout_of(const Tensor& t);
// Layout of t broadcast to `shape` (right-aligned, stride 0 on broadcast dims).
kernels::Layout broadcast_layout(const Tensor& t, const Shape& shape);
// Throws unless t is defined.
void check_defined(const char* op, const Tensor& t, const char* what = "input");
// All tensors on one device; names the op and the devices otherwise.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);
// Wraps a possibly negative dim into [0, ndim); Error naming the op otherwise.
int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim);
int64_t numel_of(const Shape& s);
Shape contiguous_strides(const Shape& s);
// i64 contiguous copy of an index tensor, checked to be integral (i32/i64) and
// within [0, bound) (negative indices are an error, as in gather).
Tensor checked_index(const char* op, const Tensor& index, int64_t bound, const char* what = "index");

}  // namespace galen::detail
