// The reference (specification) loops of the recurrent-cell gate kernels,
// defined in ref_rnn.cpp and wired into RefBackend. Same contracts as the
// Backend methods of the same names (kernels/backend.h, "recurrent cells").
#pragma once

#include "galen/kernels/backend.h"

namespace galen::kernels::ref {

void rnn_cell_forward(const RnnStep& s, DType dt, const void* gi, const void* gh, const void* bi, const void* bh,
                      const void* h_prev, const void* c_prev, void* h_out, void* c_out, void* y, int64_t ldy,
                      void* ws);
void rnn_cell_backward(const RnnStep& s, DType dt, const void* ws, const void* h_prev, const void* c_prev,
                       const void* dy, int64_t ldy, const void* dh, const void* dc, void* dgi, void* dgh,
                       void* dh_prev, void* dc_prev);

}  // namespace galen::kernels::ref
