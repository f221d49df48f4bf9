// The reference (specification) loops of the graph primitives, defined in
// ref_graph.cpp and wired into RefBackend. Same contracts as the Backend
// methods of the same names (kernels/backend.h, "graph primitives").
#pragma once

#include "galen/kernels/backend.h"

namespace galen::kernels::ref {

void scatter_reduce(Backend::ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F,
                    const int64_t* index, int64_t N, void* out, int64_t* arg);
void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                          void* gsrc);
void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N, void* out);
void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                              int64_t N, void* gx);

}  // namespace galen::kernels::ref
