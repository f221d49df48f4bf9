// Shape and indexing ops: cat, stack, split/chunk, index_select, gather,
// scatter_add, index_add, softmax / log_softmax, and the free-function view forms.
#include <algorithm>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::backend_of;
using detail::make_empty;

namespace {
using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;
}  // namespace

namespace detail {

Tensor checked_index(const char* op, const Tensor& index, int64_t bound, const char* what) {
  check_defined(op, index, what);
  GALEN_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, op, ": ", what,
              " must be an integer tensor (i64 or i32), got ", dtype_name(index.dtype()));
  Tensor idx = index.to(DType::i64).contiguous();
  const int64_t n = idx.numel();
  if (n == 0) return idx;
  int64_t mn = 0, mx = 0;  // host results on every device: one reduction, one read-back
  backend_of(idx).minmax_i64(static_cast<const int64_t*>(idx.data_ptr()), n, &mn, &mx);
  GALEN_CHECK(mn >= 0, op, ": ", what, " contains ", mn, "; indices must be in [0, ", bound, ")");
  GALEN_CHECK(mx < bound, op, ": ", what, " contains ", mx, ", out of range for a dimension of size ", bound);
  return idx;
}

}  // namespace detail

// ---- cat / stack / split -----------------------------------------------------------

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  GALEN_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  // Legacy rule kept by PyTorch: 1-D empty tensors are skipped.
  std::vector<Tensor> parts;
  for (const Tensor& t : xs) {
    detail::check_defined("cat", t);
    if (!(t.dim() == 1 && t.numel() == 0)) parts.push_back(t);
  }
  if (parts.empty()) return xs[0].clone();
  const Tensor& ref = parts[0];
  GALEN_CHECK(ref.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  const int64_t d = detail::wrap_dim("cat", dim, ref.dim());
  DType dt = ref.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = parts[i];
    GALEN_CHECK(t.device() == ref.device(), "cat: tensor ", i, " is on ", t.device().str(), ", tensor 0 on ",
                ref.device().str());
    GALEN_CHECK(t.dim() == ref.dim(), "cat: tensor ", i, " has shape ", t.sizes(), ", tensor 0 has shape ",
                ref.sizes(), " (different number of dims)");
    for (int64_t k = 0; k < ref.dim(); ++k)
      GALEN_CHECK(k == d || t.size(k) == ref.size(k), "cat: sizes must match except in dim ", d, ": tensor ", i,
                  " has shape ", t.sizes(), ", tensor 0 has shape ", ref.sizes());
    dt = promote_types(dt, t.dtype());
    total += t.size(d);
  }
  Shape shape = ref.sizes();
  shape[d] = total;
  Tensor out = make_empty(shape, dt, ref.device());
  int64_t off = 0;
  std::vector<int64_t> offsets;
  for (const Tensor& t : parts) {
    offsets.push_back(off);
    if (t.numel() > 0) {
      Tensor dst = out.detach().narrow(d, off, t.size(d));
      backend_of(t).copy(t.dtype(), t.data_ptr(), detail::layout_of(t), dt, dst.data_ptr(), detail::layout_of(dst));
    }
    off += t.size(d);
  }
  std::vector<int64_t> lens;
  for (const Tensor& t : parts) lens.push_back(t.size(d));
  return record("cat", out, parts, {}, [d, offsets, lens](const Tensor& g, const Saved&) {
    Grads gs;
    for (size_t i = 0; i < lens.size(); ++i) gs.push_back(g.narrow(d, offsets[i], lens[i]));
    return gs;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  GALEN_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    detail::check_defined("stack", xs[i]);
    GALEN_CHECK(xs[i].sizes() == xs[0].sizes(), "stack: all tensors must have the same shape; tensor ", i,
                " has ", xs[i].sizes(), ", tensor 0 has ", xs[0].sizes());
  }
  const int64_t d = detail::wrap_dim("stack", dim, xs[0].dim() + 1);
  std::vector<Tensor> us;
  for (const Tensor& t : xs) us.push_back(t.unsqueeze(d));
  return cat(us, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  detail::check_defined("split", x);
  GALEN_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  GALEN_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  const int64_t d = detail::wrap_dim("split", dim, x.dim());
  std::vector<Tensor> out;
  const int64_t n = x.size(d);
  for (int64_t s = 0; s < n; s += split_size) out.push_back(x.narrow(d, s, std::min(split_size, n - s)));
  if (n == 0) out.push_back(x.narrow(d, 0, 0));
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  detail::check_defined("split", x);
  GALEN_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  const int64_t d = detail::wrap_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    GALEN_CHECK(s >= 0, "split: negative split size in ", sizes);
    total += s;
  }
  GALEN_CHECK(total == x.size(d), "split: sizes ", sizes, " sum to ", total, " but dim ", d, " has size ", x.size(d));
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  detail::check_defined("chunk", x);
  GALEN_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  GALEN_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-d tensor");
  const int64_t d = detail::wrap_dim("chunk", dim, x.dim());
  const int64_t n = x.size(d);
  const int64_t size = std::max<int64_t>((n + chunks - 1) / chunks, 1);
  return split(x, size, d);
}

// ---- index ops ----------------------------------------------------------------------------

namespace {
void outer_inner(const Shape& s, int64_t d, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= s[i];
  for (int64_t i = d + 1; i < static_cast<int64_t>(s.size()); ++i) inner *= s[i];
}
}  // namespace

Tensor index_select(const Tensor& x_in, int64_t dim, const Tensor& index) {
  detail::check_defined("index_select", x_in);
  detail::check_same_device("index_select", {&x_in, &index});
  GALEN_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got shape ", index.sizes());
  Tensor x = x_in.dim() == 0 ? x_in.reshape({1}) : x_in;
  const int64_t d = detail::wrap_dim("index_select", dim, x.dim());
  Tensor idx = detail::checked_index("index_select", index, x.size(d));
  Shape shape = x.sizes();
  shape[d] = idx.numel();
  Tensor xc = x.detach().contiguous();
  Tensor out = make_empty(shape, x.dtype(), x.device());
  int64_t outer, inner;
  outer_inner(x.sizes(), d, outer, inner);
  if (out.numel() > 0)
    backend_of(x).index_select(x.dtype(), xc.data_ptr(), outer, x.size(d), inner,
                               static_cast<const int64_t*>(idx.data_ptr()), idx.numel(), out.data_ptr());
  if (x_in.dim() == 0) out = out.reshape({});
  const Shape in = x.sizes(), in_orig = x_in.sizes();
  return record("index_select", out, {x_in}, {idx}, [d, in, in_orig](const Tensor& g, const Saved& s) {
    Shape gshape = in;
    gshape[d] = s[0].numel();
    Tensor z = zeros(in, TensorOptions(g.dtype(), g.device()));
    return Grads{index_add(z, d, s[0], g.reshape(gshape)).reshape(in_orig)};
  });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  detail::check_defined("index_add", x);
  detail::check_defined("index_add", src, "source");
  detail::check_same_device("index_add", {&x, &index, &src});
  GALEN_CHECK(x.dim() >= 1, "index_add: input must have at least 1 dim");
  GALEN_CHECK(index.dim() <= 1, "index_add: index must be 0-D or 1-D, got shape ", index.sizes());
  const int64_t d = detail::wrap_dim("index_add", dim, x.dim());
  Tensor idx = detail::checked_index("index_add", index, x.size(d));
  Shape want = x.sizes();
  want[d] = idx.numel();
  GALEN_CHECK(src.sizes() == want, "index_add: source shape ", src.sizes(), " must be ", want, " (input ", x.sizes(),
              ", dim ", d, ", ", idx.numel(), " indices)");
  GALEN_CHECK(src.dtype() == x.dtype(), "index_add: source dtype ", dtype_name(src.dtype()), " differs from input dtype ",
              dtype_name(x.dtype()));
  Tensor out = x.detach().clone();
  Tensor s = alpha == 1.0 ? src.detach().contiguous() : mul(src.detach(), alpha).contiguous();
  int64_t outer, inner;
  outer_inner(x.sizes(), d, outer, inner);
  if (s.numel() > 0)
    backend_of(x).index_add(x.dtype(), out.data_ptr(), outer, x.size(d), inner,
                            static_cast<const int64_t*>(idx.data_ptr()), idx.numel(), s.data_ptr());
  return record("index_add", out, {x, src}, {idx}, [d, alpha](const Tensor& g, const Saved& sv) {
    Tensor gs = index_select(g, d, sv[0]);
    return Grads{g, alpha == 1.0 ? gs : mul(gs, alpha)};
  });
}

namespace {
void check_gather_shapes(const char* op, const Tensor& x, int64_t d, const Tensor& index) {
  GALEN_CHECK(index.dim() == x.dim(), op, ": index must have as many dims as the input (", x.dim(), "), got shape ",
              index.sizes(), " for input ", x.sizes());
  for (int64_t k = 0; k < x.dim(); ++k)
    GALEN_CHECK(k == d || index.size(k) <= x.size(k), op, ": index shape ", index.sizes(),
                " exceeds the input shape ", x.sizes(), " in dim ", k);
}
}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  detail::check_defined("gather", x);
  detail::check_same_device("gather", {&x, &index});
  GALEN_CHECK(x.dim() >= 1, "gather: input must have at least 1 dim");
  const int64_t d = detail::wrap_dim("gather", dim, x.dim());
  check_gather_shapes("gather", x, d, index);
  Tensor idx = detail::checked_index("gather", index, x.size(d));
  Tensor out = make_empty(idx.sizes(), x.dtype(), x.device());
  if (out.numel() > 0)
    backend_of(x).gather(x.dtype(), x.data_ptr(), detail::layout_of(x), static_cast<int>(d),
                         static_cast<const int64_t*>(idx.data_ptr()), detail::layout_of(idx), out.data_ptr());
  const Shape in = x.sizes();
  return record("gather", out, {x}, {idx}, [d, in](const Tensor& g, const Saved& s) {
    return Grads{scatter_add(zeros(in, TensorOptions(g.dtype(), g.device())), d, s[0], g)};
  });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  detail::check_defined("scatter_add", x);
  detail::check_defined("scatter_add", src, "source");
  detail::check_same_device("scatter_add", {&x, &index, &src});
  GALEN_CHECK(x.dim() >= 1, "scatter_add: input must have at least 1 dim");
  const int64_t d = detail::wrap_dim("scatter_add", dim, x.dim());
  check_gather_shapes("scatter_add", x, d, index);
  GALEN_CHECK(src.dim() == index.dim(), "scatter_add: source shape ", src.sizes(), " and index shape ", index.sizes(),
              " differ in dims");
  for (int64_t k = 0; k < src.dim(); ++k)
    GALEN_CHECK(index.size(k) <= src.size(k), "scatter_add: index shape ", index.sizes(), " exceeds source shape ",
                src.sizes(), " in dim ", k);
  GALEN_CHECK(src.dtype() == x.dtype(), "scatter_add: source dtype ", dtype_name(src.dtype()),
              " differs from input dtype ", dtype_name(x.dtype()));
  Tensor idx = detail::checked_index("scatter_add", index, x.size(d));
  Tensor out = x.detach().clone();
  if (idx.numel() > 0)
    backend_of(x).scatter_add(x.dtype(), out.data_ptr(), detail::layout_of(out), static_cast<int>(d),
                              static_cast<const int64_t*>(idx.data_ptr()), detail::layout_of(idx), src.data_ptr(),
                              detail::layout_of(src));
  const Shape src_shape = src.sizes();
  return record("scatter_add", out, {x, src}, {idx}, [d, src_shape](const Tensor& g, const Saved& s) {
    Tensor gs = gather(g, d, s[0]);
    if (gs.sizes() != src_shape) {
      Tensor z = zeros(src_shape, TensorOptions(g.dtype(), g.device()));
      Tensor v = z;
      for (int64_t k = 0; k < gs.dim(); ++k) v = v.narrow(k, 0, gs.size(k));
      v.copy_(gs);
      gs = z;
    }
    return Grads{g, gs};
  });
}

// ---- softmax -------------------------------------------------------------------------------

namespace {
Tensor softmax_impl(const char* name, const Tensor& x, int64_t dim, bool log) {
  detail::check_defined(name, x);
  GALEN_CHECK(is_floating(x.dtype()), name, ": expected a floating point input, got ", dtype_name(x.dtype()));
  if (x.dim() == 0) {
    Tensor r = softmax_impl(name, x.reshape({1}), 0, log);
    return r.reshape({});
  }
  const int64_t d = detail::wrap_dim(name, dim, x.dim());
  const int64_t last = x.dim() - 1;
  Tensor xt = (d == last ? x.detach() : x.detach().transpose(d, last)).contiguous();
  const int64_t cols = x.size(d), rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor yt = make_empty(xt.sizes(), x.dtype(), x.device());
  if (x.numel() > 0) backend_of(x).softmax(x.dtype(), xt.data_ptr(), rows, cols, yt.data_ptr(), log);
  Tensor y = d == last ? yt : yt.transpose(d, last);
  return record(name, y, {x}, {yt.detach()}, [d, last, rows, cols, log](const Tensor& g, const Saved& s) {
    Tensor gt_ = (d == last ? g : g.transpose(d, last)).contiguous();
    Tensor gx = make_empty(gt_.sizes(), g.dtype(), g.device());
    if (rows * cols > 0)
      backend_of(g).softmax_backward(g.dtype(), s[0].data_ptr(), gt_.data_ptr(), rows, cols, gx.data_ptr(), log);
    return Grads{d == last ? gx : gx.transpose(d, last)};
  });
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

// ---- free-function forms of view ops -------------------------------------------------------

Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) { return x.permute(dims); }
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) { return x.transpose(d0, d1); }

}  // namespace galen
