// CPU indexing kernels. Accumulating ones (index_add, scatter_add) only split
// work over coordinates that can never receive the same destination element,
// so duplicate indices are summed correctly without atomics.
#include <algorithm>
#include <limits>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {

using namespace dispatch;

namespace {
constexpr int64_t kColBlock = 512;
}

// x (outer, dim, inner), idx (n) -> out (outer, n, inner)
void index_select(DType dt, const void* x, int64_t outer, int64_t dim, int64_t inner,
                  const int64_t* idx, int64_t n, void* out) {
  on_type<kAll>("index_select", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    parallel_for(outer * n, outer * n * inner, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / n, j = r % n;
        std::copy_n(px + (o * dim + idx[j]) * inner, inner, po + r * inner);
      }
    });
  });
}

// dst (outer, dim, inner)[o, idx[j], i] += src (outer, n, inner)[o, j, i]
void index_add(DType dt, void* dst, int64_t outer, int64_t dim, int64_t inner,
               const int64_t* idx, int64_t n, const void* src) {
  on_type<kNumeric>("index_add", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    T* pd = static_cast<T*>(dst);
    const T* ps = static_cast<const T*>(src);
    // Tasks are (o, column block): disjoint destinations; j runs serially inside.
    const int64_t nblk = (inner + kColBlock - 1) / kColBlock;
    parallel_for(outer * nblk, outer * n * inner, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / nblk, c0 = (t % nblk) * kColBlock;
        const int64_t w = std::min(kColBlock, inner - c0);
        for (int64_t j = 0; j < n; ++j) {
          T* d = pd + (o * dim + idx[j]) * inner + c0;
          const T* s = ps + (o * n + j) * inner + c0;
          for (int64_t c = 0; c < w; ++c) d[c] = static_cast<T>(d[c] + s[c]);
        }
      }
    });
  });
}

void gather(DType dt, const void* x, const Layout& xl, int axis, const int64_t* index,
            const Layout& il, void* out) {
  GALEN_CHECK(xl.ndim == il.ndim && axis >= 0 && axis < il.ndim, "gather: bad axis ", axis);
  // Operands: out (contiguous), index, x with the axis stride zeroed (the index
  // value supplies that coordinate).
  int64_t os[kMaxDims], xs[kMaxDims];
  contiguous_strides(il.ndim, il.sizes, os);
  for (int d = 0; d < il.ndim; ++d) xs[d] = d == axis ? 0 : xl.strides[d];
  const Plan<3> p(il.ndim, il.sizes, {os, il.strides, xs});
  const int64_t sax = xl.strides[axis];
  on_type<kAll>("gather", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    const int64_t si = p.inner_stride(1), sx = p.inner_stride(2);
    p.run_parallel([&](const int64_t* off, int64_t n) {
      T* o = po + off[0];
      const int64_t* ix = index + off[1];
      const T* xb = px + off[2];
      for (int64_t i = 0; i < n; ++i) o[i] = xb[i * sx + ix[i * si] * sax];
    });
  });
}

void scatter_add(DType dt, void* dst, const Layout& dl, int axis, const int64_t* index,
                 const Layout& il, const void* src, const Layout& sl) {
  GALEN_CHECK(dl.ndim == il.ndim && sl.ndim == il.ndim && axis >= 0 && axis < il.ndim,
              "scatter_add: bad axis ", axis);
  // Iterate the index positions with the axis dim removed (in parallel: two such
  // positions never share a destination) and walk the axis serially.
  int64_t sizes[kMaxDims], ds[kMaxDims];
  for (int d = 0; d < il.ndim; ++d) {
    sizes[d] = d == axis ? 1 : il.sizes[d];
    ds[d] = d == axis ? 0 : dl.strides[d];
  }
  const Plan<3> p(il.ndim, sizes, {il.strides, sl.strides, ds});
  const int64_t len = il.sizes[axis];
  const int64_t ia = il.strides[axis], sa = sl.strides[axis], da = dl.strides[axis];
  on_type<kNumeric>("scatter_add", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    T* pd = static_cast<T*>(dst);
    const T* ps = static_cast<const T*>(src);
    const int64_t si = p.inner_stride(0), ss = p.inner_stride(1), sd = p.inner_stride(2);
    parallel_for(p.numel, p.numel * len, [&](int64_t b, int64_t e) {
      p.run(b, e, [&](const int64_t* off, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t* ix = index + off[0] + i * si;
          const T* s = ps + off[1] + i * ss;
          T* d = pd + off[2] + i * sd;
          for (int64_t k = 0; k < len; ++k) {
            T& v = d[ix[k * ia] * da];
            v = static_cast<T>(v + s[k * sa]);
          }
        }
      });
    });
  });
}

void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) {
  GALEN_CHECK(n > 0, "minmax_i64: needs at least one value");
  int64_t l = x[0], h = x[0];
  const int nt = threads_for(n);
#pragma omp parallel for num_threads(nt) reduction(min : l) reduction(max : h) if (nt > 1)
  for (int64_t i = 0; i < n; ++i) {
    l = std::min(l, x[i]);
    h = std::max(h, x[i]);
  }
  *mn = l;
  *mx = h;
}

}  // namespace galen::kernels::cpu
