// Graph (message-passing) primitives: gather rows of node features by an index,
// reduce rows into segments (scatter sum / mean / max), and softmax within
// segments. They follow PyTorch Geometric's torch_scatter / torch_geometric.utils
// conventions: `index` (E) maps each row of src to a segment (destination node or
// graph) in [0, dim_size); segments no row reaches give 0. All take src of shape
// (E, *) and differentiate with respect to src (f32 / f64).
//
// Kernels: kernels::Backend::scatter_reduce / scatter_max_backward /
// segment_softmax(_backward) ("graph primitives" in kernels/backend.h).
#pragma once

#include <cstdint>
#include <utility>

#include "galen/core/tensor.h"

namespace galen {

// x (N, *), index (E) integral in [0, N) -> (E, *): out[e] = x[index[e]].
// (index_select along dim 0 whose backward is scatter_sum, the parallel,
// race-free segment kernel, instead of index_add.)
Tensor gather_rows(const Tensor& x, const Tensor& index);

// src (E, *), index (E) integral in [0, dim_size) -> (dim_size, *).
// dim_size < 0: max(index) + 1 (0 for an empty index).
//   scatter_sum:  out[n] = sum_{e: index[e] = n} src[e]
//   scatter_mean: out[n] = that sum / |{e: index[e] = n}|   (0 for an empty segment)
//   scatter_max:  out[n] = column-wise max over the segment (0 for an empty segment);
//                 the gradient flows to the first maximum only (torch_scatter's rule).
Tensor scatter_sum(const Tensor& src, const Tensor& index, int64_t dim_size = -1);
Tensor scatter_mean(const Tensor& src, const Tensor& index, int64_t dim_size = -1);
Tensor scatter_max(const Tensor& src, const Tensor& index, int64_t dim_size = -1);
// scatter_max also returning the argmax (dim_size, *) i64: the row of src each
// maximum came from, -1 in empty segments.
std::pair<Tensor, Tensor> scatter_max_with_arg(const Tensor& src, const Tensor& index, int64_t dim_size = -1);

// src (E, *), index (E) -> (E, *): softmax over the rows sharing a segment,
// column by column, numerically stable (torch_geometric.utils.softmax):
//   out[e] = exp(src[e] - max_s) / sum_{e': index[e'] = index[e]} exp(src[e'] - max_s).
// In attention, index is the edge target, so the weights of a node's incoming edges sum to 1.
Tensor segment_softmax(const Tensor& src, const Tensor& index, int64_t num_segments = -1);

}  // namespace galen
