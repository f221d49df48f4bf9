// Defaults of the graph primitives (kernels/backend.h, "graph primitives"): a
// backend without one reports the standard no-kernel error instead of failing
// to link. Kept apart from backend.cpp so the graph work touches one file.
#include "galen/kernels/backend.h"

namespace galen::kernels {

void Backend::scatter_reduce(ScatterReduce, DType dt, const void*, int64_t, int64_t, const int64_t*, int64_t, void*,
                             int64_t*) {
  no_kernel("scatter_reduce", type(), dt);
}
void Backend::scatter_max_backward(DType dt, const void*, const int64_t*, int64_t, int64_t, int64_t, void*) {
  no_kernel("scatter_max_backward", type(), dt);
}
void Backend::segment_softmax(DType dt, const void*, int64_t, int64_t, const int64_t*, int64_t, void*) {
  no_kernel("segment_softmax", type(), dt);
}
void Backend::segment_softmax_backward(DType dt, const void*, const void*, int64_t, int64_t, const int64_t*, int64_t,
                                       void*) {
  no_kernel("segment_softmax_backward", type(), dt);
}

}  // namespace galen::kernels
