// Recurrent layers as functional ops (core/ops_rnn.cpp): multi-layer, optionally
// bidirectional Elman RNN (tanh / relu), LSTM and GRU over a whole sequence, and
// the single-step cells. Semantics, parameter shapes and gate order follow
// PyTorch (torch.nn.LSTM & co. and torch._VF.lstm_cell & co.).
//
// Each layer runs as: one GEMM for the input projection of all time steps, then
// per step one GEMM for the hidden projection and one fused gate kernel
// (kernels::Backend::rnn_cell_forward). It is recorded as ONE autograd node per
// layer whose backward is the fused backward kernels plus GEMMs; on CUDA the
// backend's "rnn" variant "cudnn" runs each layer through cuDNN instead.
// Double backward through these nodes is not supported.
#pragma once

#include <utility>
#include <vector>

#include "galen/core/tensor.h"

namespace galen {

enum class RnnMode { RnnTanh, RnnRelu, Lstm, Gru };
// "rnn_tanh", "rnn_relu", "lstm", "gru" (also the names of the autograd nodes).
const char* rnn_mode_name(RnnMode mode);

struct RnnOutput {
  Tensor output;  // (T, B, D*H), or (B, T, D*H) when batch_first; (T, D*H) for unbatched input
  Tensor h_n;     // (L*D, B, H), or (L*D, H) for unbatched input
  Tensor c_n;     // LSTM only, like h_n
};

// input (T, B, I), (B, T, I) when batch_first, or unbatched (T, I).
// h0 / c0 (L*D, B, H) (unbatched: (L*D, H)); undefined = zeros; c0 only for LSTM.
// params: PyTorch's _flat_weights order — for each layer l, each direction
// (forward, then reverse): w_ih (G*H, I_l), w_hh (G*H, H), then b_ih, b_hh (G*H)
// when has_biases; I_0 = I, I_l = D*H; G = 4 (LSTM, gates i f g o), 3 (GRU,
// r z n), 1 (RNN).
// dropout: applied (with galen's RNG) to the output of every layer but the last
// when training.
// lengths: undefined, or an integral CPU tensor of B values in 1..T — the
// equivalent of pack_padded_sequence(enforce_sorted=False): steps t >=
// lengths[b] of sequence b are padding that never changes outputs, final states
// or gradients; output there is 0 (as pad_packed_sequence with total_length T
// gives), h_n / c_n are each sequence's state at its last valid step, and the
// reverse direction starts at each sequence's own last valid step.
RnnOutput rnn(RnnMode mode, const Tensor& input, const Tensor& h0, const Tensor& c0,
              const std::vector<Tensor>& params, bool has_biases, int64_t num_layers, double dropout,
              bool training, bool bidirectional, bool batch_first, const Tensor& lengths = Tensor());

// One step. x (B, I) or (I); h, c (B, H) or (H), undefined = zeros;
// w_ih (G*H, I), w_hh (G*H, H), b_ih / b_hh (G*H) each optional.
Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());
Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());
// Returns (h', c').
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b_ih = Tensor(),
                                    const Tensor& b_hh = Tensor());
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());

}  // namespace galen
