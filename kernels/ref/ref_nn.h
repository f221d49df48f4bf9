// The reference (specification) loops of the convolution, pooling and
// batch-norm primitives, defined in ref_nn.cpp and wired into RefBackend.
// Same contracts as the Backend methods of the same names (kernels/backend.h).
#pragma once

#include "galen/kernels/backend.h"

namespace galen::kernels::ref {

void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols);
void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x);
void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                int64_t* indices);
void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                         const Conv2dGeometry& g, void* gx);
void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g,
                bool count_include_pad, void* out);
void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g,
                         bool count_include_pad, void* gx);
void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean, void* var);
void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                    const void* invstd, const void* w, const void* b, void* y);
void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                         const void* mean, const void* invstd, const void* w, void* gx, void* gw,
                         void* gb);

}  // namespace galen::kernels::ref
