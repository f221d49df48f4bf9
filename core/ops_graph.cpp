// Graph primitives (core/graph_ops.h): argument checks, output allocation, one
// backend call each, and the backward recorded with autograd::record. Trailing
// dims of src are flattened into the kernels' F columns.
#include "galen/core/graph_ops.h"

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::backend_of;
using detail::make_empty;
using Reduce = kernels::Backend::ScatterReduce;

namespace {
using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;

struct Prepared {
  Tensor src;  // detached, contiguous
  Tensor idx;  // i64, contiguous, in range
  int64_t E = 0, F = 1, N = 0;
  Shape out_shape;  // (N, *)
};

const int64_t* idx_ptr(const Tensor& t) { return static_cast<const int64_t*>(t.data_ptr()); }

// Checks src (E, *) floating and index (E) integral on one device; infers N when dim_size < 0.
Prepared prepare(const char* op, const Tensor& src, const Tensor& index, int64_t dim_size) {
  detail::check_defined(op, src, "src");
  detail::check_defined(op, index, "index");
  detail::check_same_device(op, {&src, &index});
  GALEN_CHECK(is_floating(src.dtype()), op, ": src must be floating (f32 or f64), got ", dtype_name(src.dtype()));
  GALEN_CHECK(src.dim() >= 1, op, ": src must have at least 1 dim (E, *), got a 0-d tensor");
  GALEN_CHECK(index.dim() == 1, op, ": index must be 1-D (E), got shape ", index.sizes());
  GALEN_CHECK(index.size(0) == src.size(0), op, ": index has ", index.size(0), " entries but src has ", src.size(0),
              " rows (shape ", src.sizes(), ")");
  Prepared p;
  p.E = src.size(0);
  for (int64_t d = 1; d < src.dim(); ++d) p.F *= src.size(d);
  if (dim_size < 0) {
    GALEN_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, op,
                ": index must be an integer tensor (i64 or i32), got ", dtype_name(index.dtype()));
    Tensor i64 = index.to(DType::i64).contiguous();
    int64_t mn = 0, mx = -1;
    if (p.E > 0) backend_of(i64).minmax_i64(idx_ptr(i64), p.E, &mn, &mx);
    GALEN_CHECK(mn >= 0, op, ": index contains ", mn, "; indices must be non-negative");
    dim_size = mx + 1;
  }
  p.N = dim_size;
  p.idx = detail::checked_index(op, index, p.N, "index");
  p.src = src.detach().contiguous();
  p.out_shape = src.sizes();
  p.out_shape[0] = p.N;
  return p;
}

Tensor scatter_impl(const char* op, Reduce r, const Tensor& src, const Tensor& index, int64_t dim_size,
                    Tensor* arg_out) {
  Prepared p = prepare(op, src, index, dim_size);
  Tensor out = make_empty(p.out_shape, src.dtype(), src.device());
  Tensor arg;
  if (r == Reduce::Max) arg = make_empty(p.out_shape, DType::i64, src.device());
  if (p.N * p.F > 0)
    backend_of(src).scatter_reduce(r, src.dtype(), p.src.data_ptr(), p.E, p.F, idx_ptr(p.idx), p.N, out.data_ptr(),
                                   arg.defined() ? static_cast<int64_t*>(arg.data_ptr()) : nullptr);
  if (arg_out != nullptr) *arg_out = arg;
  const Shape src_shape = src.sizes();
  const int64_t E = p.E, F = p.F, N = p.N;
  switch (r) {
    case Reduce::Sum:
      return record(op, out, {src}, {p.idx}, [](const Tensor& g, const Saved& s) {
        return Grads{gather_rows(g, s[0])};
      });
    case Reduce::Mean: {
      if (!autograd::any_requires_grad({&src})) return out;
      // Segment sizes, clamped to 1 (empty segments receive no gradient anyway).
      Tensor count = make_empty({N, 1}, src.dtype(), src.device());
      Tensor ones_e = ones({E, 1}, TensorOptions(src.dtype(), src.device()));
      if (N > 0)
        backend_of(src).scatter_reduce(Reduce::Sum, src.dtype(), ones_e.data_ptr(), E, 1, idx_ptr(p.idx), N,
                                       count.data_ptr(), nullptr);
      count = clamp(count, 1.0, std::nullopt);
      return record(op, out, {src}, {p.idx, count}, [N, F, src_shape](const Tensor& g, const Saved& s) {
        return Grads{gather_rows(div(g.reshape({N, F}), s[1]), s[0]).reshape(src_shape)};
      });
    }
    case Reduce::Max:
      return record(op, out, {src}, {arg}, [E, F, N, src_shape](const Tensor& g, const Saved& s) {
        Tensor gc = g.contiguous();
        Tensor gs = make_empty(src_shape, g.dtype(), g.device());
        if (E * F > 0)
          backend_of(g).scatter_max_backward(g.dtype(), gc.data_ptr(), static_cast<const int64_t*>(s[0].data_ptr()),
                                             N, F, E, gs.data_ptr());
        return Grads{gs};
      });
  }
  return out;
}

}  // namespace

Tensor gather_rows(const Tensor& x, const Tensor& index) {
  detail::check_defined("gather_rows", x, "x");
  detail::check_defined("gather_rows", index, "index");
  detail::check_same_device("gather_rows", {&x, &index});
  GALEN_CHECK(x.dim() >= 1, "gather_rows: x must have at least 1 dim (N, *), got a 0-d tensor");
  GALEN_CHECK(index.dim() == 1, "gather_rows: index must be 1-D (E), got shape ", index.sizes());
  const int64_t N = x.size(0);
  Tensor idx = detail::checked_index("gather_rows", index, N, "index");
  Shape shape = x.sizes();
  shape[0] = idx.numel();
  int64_t F = 1;
  for (int64_t d = 1; d < x.dim(); ++d) F *= x.size(d);
  Tensor xc = x.detach().contiguous();
  Tensor out = make_empty(shape, x.dtype(), x.device());
  if (out.numel() > 0)
    backend_of(x).index_select(x.dtype(), xc.data_ptr(), 1, N, F, idx_ptr(idx), idx.numel(), out.data_ptr());
  if (!is_floating(x.dtype())) return out;
  return record("gather_rows", out, {x}, {idx}, [N](const Tensor& g, const Saved& s) {
    return Grads{scatter_sum(g, s[0], N)};
  });
}

Tensor scatter_sum(const Tensor& src, const Tensor& index, int64_t dim_size) {
  return scatter_impl("scatter_sum", Reduce::Sum, src, index, dim_size, nullptr);
}

Tensor scatter_mean(const Tensor& src, const Tensor& index, int64_t dim_size) {
  return scatter_impl("scatter_mean", Reduce::Mean, src, index, dim_size, nullptr);
}

Tensor scatter_max(const Tensor& src, const Tensor& index, int64_t dim_size) {
  return scatter_impl("scatter_max", Reduce::Max, src, index, dim_size, nullptr);
}

std::pair<Tensor, Tensor> scatter_max_with_arg(const Tensor& src, const Tensor& index, int64_t dim_size) {
  Tensor arg;
  Tensor out = scatter_impl("scatter_max", Reduce::Max, src, index, dim_size, &arg);
  return {out, arg};
}

Tensor segment_softmax(const Tensor& src, const Tensor& index, int64_t num_segments) {
  Prepared p = prepare("segment_softmax", src, index, num_segments);
  Tensor out = make_empty(src.sizes(), src.dtype(), src.device());
  const int64_t E = p.E, F = p.F, N = p.N;
  if (E * F > 0)
    backend_of(src).segment_softmax(src.dtype(), p.src.data_ptr(), E, F, idx_ptr(p.idx), N, out.data_ptr());
  return record("segment_softmax", out, {src}, {out.detach(), p.idx}, [E, F, N](const Tensor& g, const Saved& s) {
    Tensor gc = g.contiguous();
    Tensor gx = make_empty(g.sizes(), g.dtype(), g.device());
    if (E * F > 0)
      backend_of(g).segment_softmax_backward(g.dtype(), s[0].data_ptr(), gc.data_ptr(), E, F, idx_ptr(s[1]), N,
                                             gx.data_ptr());
    return Grads{gx};
  });
}

}  // namespace galen
