// Defaults for the recurrent-cell primitives of kernels/backend.h: a backend that
// lacks one answers with the standard no-kernel error instead of failing to link.
#include "galen/kernels/backend.h"

namespace galen::kernels {

void Backend::rnn_cell_forward(const RnnStep&, DType dt, const void*, const void*, const void*, const void*,
                               const void*, const void*, void*, void*, void*, int64_t, void*) {
  no_kernel("rnn_cell_forward", type(), dt);
}
void Backend::rnn_cell_backward(const RnnStep&, DType dt, const void*, const void*, const void*, const void*,
                                int64_t, const void*, const void*, void*, void*, void*, void*) {
  no_kernel("rnn_cell_backward", type(), dt);
}
void Backend::rnn_library_forward(DType dt, const RnnLayerDesc&, const void* const*, const void*, const void*,
                                  const void*, void*, void*, void*, void*, size_t) {
  no_kernel("rnn_library_forward", type(), dt);
}
void Backend::rnn_library_backward(DType dt, const RnnLayerDesc&, const void* const*, const void*, const void*,
                                   const void*, const void*, const void*, const void*, const void*, void*, size_t,
                                   void*, void*, void*, void* const*) {
  no_kernel("rnn_library_backward", type(), dt);
}

}  // namespace galen::kernels
