// matmul (torch.matmul semantics), mm, bmm, linear. All GEMMs go through the
// backend's gemm; transposed operands are passed as transpose flags, not copies.
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

// How a (rows, cols) matrix view can be handed to a row-major GEMM without a copy.
struct GemmOperand {
  Tensor t;       // the tensor whose data_ptr() is passed
  bool trans;     // pass as transposed
  int64_t ld;     // leading dimension
};

GemmOperand as_operand(const Tensor& m) {
  // m is 2-D (rows, cols)
  const int64_t r = m.size(0), c = m.size(1);
  if (m.stride(1) == 1 && (m.stride(0) >= std::max<int64_t>(c, 1) || r == 1))
    return {m, false, std::max<int64_t>(m.stride(0), std::max<int64_t>(c, 1))};
  if (m.stride(0) == 1 && (m.stride(1) >= std::max<int64_t>(r, 1) || c == 1))
    return {m, true, std::max<int64_t>(m.stride(1), std::max<int64_t>(r, 1))};
  Tensor cc = m.contiguous();
  return {cc, false, std::max<int64_t>(c, 1)};
}

void check_float_pair(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_defined(op, a, "first input");
  detail::check_defined(op, b, "second input");
  detail::check_same_device(op, {&a, &b});
  GALEN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", dtype_name(a.dtype()), " and ",
              dtype_name(b.dtype()), ")");
  GALEN_CHECK(is_floating(a.dtype()), op, ": expected floating point inputs, got ", dtype_name(a.dtype()));
}

Tensor mm_raw(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor out = make_empty({M, N}, a.dtype(), a.device());
  if (M == 0 || N == 0) return out;
  if (K == 0) return out.fill_(0.0), out;
  GemmOperand A = as_operand(a.detach()), B = as_operand(b.detach());
  backend_of(a).gemm(a.dtype(), A.trans, B.trans, M, N, K, 1.0, A.t.data_ptr(), A.ld, 0, B.t.data_ptr(), B.ld, 0,
                     0.0, out.data_ptr(), std::max<int64_t>(N, 1), 0, 1);
  return out;
}

Tensor bmm_raw(const Tensor& a_in, const Tensor& b_in) {
  const int64_t Bn = a_in.size(0), M = a_in.size(1), K = a_in.size(2), N = b_in.size(2);
  Tensor out = make_empty({Bn, M, N}, a_in.dtype(), a_in.device());
  if (Bn == 0 || M == 0 || N == 0) return out;
  if (K == 0) return out.fill_(0.0), out;
  // Per-matrix operands must share one layout across the batch: use contiguous
  // batches (a transposed-contiguous batch is passed with the trans flag).
  auto prep = [](const Tensor& t, bool& trans, int64_t& ld, int64_t& stride, Tensor& keep) {
    const int64_t r = t.size(1), c = t.size(2);
    if (t.stride(2) == 1 && t.stride(1) == c && (t.stride(0) == r * c || t.size(0) == 1)) {
      keep = t; trans = false; ld = std::max<int64_t>(c, 1); stride = r * c;
    } else if (t.stride(1) == 1 && t.stride(2) == r && (t.stride(0) == r * c || t.size(0) == 1)) {
      keep = t; trans = true; ld = std::max<int64_t>(r, 1); stride = r * c;
    } else {
      keep = t.contiguous(); trans = false; ld = std::max<int64_t>(c, 1); stride = r * c;
    }
    if (t.size(0) > 1 && t.stride(0) == 0 && keep.is_same(t)) stride = 0;
  };
  bool ta, tb;
  int64_t lda, ldb, sa, sb;
  Tensor ka, kb;
  prep(a_in.detach(), ta, lda, sa, ka);
  prep(b_in.detach(), tb, ldb, sb, kb);
  backend_of(a_in).gemm(a_in.dtype(), ta, tb, M, N, K, 1.0, ka.data_ptr(), lda, sa, kb.data_ptr(), ldb, sb, 0.0,
                        out.data_ptr(), std::max<int64_t>(N, 1), M * N, Bn);
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  check_float_pair("mm", a, b);
  GALEN_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D inputs, got shapes ", a.sizes(), " and ", b.sizes());
  GALEN_CHECK(a.size(1) == b.size(0), "mm: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (",
              a.size(1), " != ", b.size(0), ")");
  return record("mm", mm_raw(a, b), {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    return Grads{mm(g, s[1].t()), mm(s[0].t(), g)};
  });
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_float_pair("bmm", a, b);
  GALEN_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D inputs, got shapes ", a.sizes(), " and ", b.sizes());
  GALEN_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ: ", a.sizes(), " and ", b.sizes());
  GALEN_CHECK(a.size(2) == b.size(1), "bmm: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (",
              a.size(2), " != ", b.size(1), ")");
  return record("bmm", bmm_raw(a, b), {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    return Grads{bmm(g, s[1].transpose(1, 2)), bmm(s[0].transpose(1, 2), g)};
  });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_float_pair("matmul", a, b);
  const int64_t da = a.dim(), db = b.dim();
  GALEN_CHECK(da >= 1 && db >= 1, "matmul: both arguments need at least 1 dim, got shapes ", a.sizes(), " and ",
              b.sizes());
  const int64_t ka = a.size(-1), kb = db == 1 ? b.size(0) : b.size(-2);
  GALEN_CHECK(ka == kb, "matmul: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", ka, " != ", kb,
              ")");
  if (da == 1 && db == 1) return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (da == 2 && db == 1) return mm(a, b.unsqueeze(1)).squeeze(1);
  if (da == 1 && db == 2) return mm(a.unsqueeze(0), b).squeeze(0);
  if (da == 2 && db == 2) return mm(a, b);
  // Batched: a (..., n, k) [1-D a: (1, k)], b (..., k, p) [1-D b: (k, 1)].
  Tensor A = da == 1 ? a.unsqueeze(0) : a;
  Tensor B = db == 1 ? b.unsqueeze(1) : b;
  const int64_t n = A.size(-2), p = B.size(-1);
  if (B.dim() == 2) {
    // Fold a's batch dims into the rows: one large GEMM.
    Shape out_shape(A.sizes().begin(), A.sizes().end() - 1);
    out_shape.push_back(p);
    Tensor r = mm(A.reshape({-1, ka}), B).reshape(out_shape);
    return db == 1 ? r.squeeze(-1) : r;
  }
  const Shape ba(A.sizes().begin(), A.sizes().end() - 2), bb(B.sizes().begin(), B.sizes().end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t nb = 1;
  for (int64_t v : batch) nb *= v;
  Shape ea = batch, eb = batch;
  ea.insert(ea.end(), {n, ka});
  eb.insert(eb.end(), {ka, p});
  Tensor r = bmm(A.expand(ea).reshape({nb, n, ka}), B.expand(eb).reshape({nb, ka, p}));
  Shape out_shape = batch;
  if (da != 1) out_shape.push_back(n);
  if (db != 1) out_shape.push_back(p);
  return r.reshape(out_shape);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_defined("linear", x);
  detail::check_defined("linear", w, "weight");
  GALEN_CHECK(w.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got ", w.sizes());
  GALEN_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input shape ", x.sizes(),
              " does not end in in_features = ", w.size(1), " (weight ", w.sizes(), ")");
  if (b.defined())
    GALEN_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias must be (", w.size(0), "), got ", b.sizes());
  Shape out_shape(x.sizes().begin(), x.sizes().end() - 1);
  out_shape.push_back(w.size(0));
  Tensor y = mm(x.reshape({-1, w.size(1)}), w.t());
  if (b.defined()) y = add(y, b);
  return y.reshape(out_shape);
}

}  // namespace galen
