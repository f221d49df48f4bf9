// Recurrent layers: RNN (tanh / relu), LSTM, GRU and the single-step cells
// RNNCell, LSTMCell, GRUCell, over the ops of core/rnn.h. Parameter names,
// shapes, order and gate layout equal PyTorch's (weight_ih_l0,
// weight_hh_l0_reverse, bias_ih_l1, ...; LSTM gates i f g o, GRU r z n), so a
// PyTorch state_dict loads unchanged; init U(-1/sqrt(H), 1/sqrt(H)) as PyTorch.
//
//   nn::LSTM lstm(64, 128, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   auto [out, h_n, c_n] = lstm.forward(x, h0, c0, lengths);  // lengths: optional, CPU ints
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "galen/core/rnn.h"
#include "galen/layers/module.h"

namespace galen::nn {

struct RnnOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input / output (B, T, *) instead of (T, B, *); states stay (L*D, B, H)
  double dropout = 0.0;      // on the outputs of all but the last layer, in training mode
  bool bidirectional = false;
  std::string nonlinearity = "tanh";  // RNN only: "tanh" or "relu"
};

// The shared machinery of RNN, LSTM and GRU.
class RNNBase : public Module {
 public:
  RNNBase(RnnMode mode, int64_t input_size, int64_t hidden_size, const RnnOptions& opts);
  void reset_parameters();
  // The parameters in PyTorch's _flat_weights order (see galen::rnn).
  const std::vector<Tensor>& flat_weights() const { return flat_weights_; }

  RnnMode mode;
  int64_t input_size, hidden_size, num_layers;
  bool bias, batch_first;
  double dropout;
  bool bidirectional;

 protected:
  RnnOutput run(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths);
  std::string extra_repr() const override;

 private:
  std::vector<Tensor> flat_weights_;
};

// Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.
class RNN : public RNNBase {
 public:
  RNN(int64_t input_size, int64_t hidden_size, const RnnOptions& opts = {});
  std::string name() const override { return "RNN"; }
  // x (T, B, I) / (B, T, I) / (T, I); h0 (L*D, B, H) or undefined; lengths see galen::rnn.
  // Returns output and h_n (c_n undefined).
  RnnOutput forward(const Tensor& x, const Tensor& h0, const Tensor& lengths = Tensor());
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()).output; }
};

class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RnnOptions& opts = {});
  std::string name() const override { return "LSTM"; }
  // Returns output, h_n and c_n.
  RnnOutput forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths = Tensor());
  Tensor forward(const Tensor& x) override { return forward(x, Tensor(), Tensor()).output; }
};

class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RnnOptions& opts = {});
  std::string name() const override { return "GRU"; }
  RnnOutput forward(const Tensor& x, const Tensor& h0, const Tensor& lengths = Tensor());
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()).output; }
};

// Single steps: x (B, I) or (I); states (B, H) or (H), undefined = zeros.
// Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H).
class RNNCellBase : public Module {
 public:
  RNNCellBase(int64_t input_size, int64_t hidden_size, bool bias, int64_t gates);
  void reset_parameters();

  int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined when bias = false

 protected:
  std::string extra_repr() const override;
};

class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true, const std::string& nonlinearity = "tanh");
  std::string name() const override { return "RNNCell"; }
  Tensor forward(const Tensor& x, const Tensor& h);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  std::string nonlinearity;

 protected:
  std::string extra_repr() const override;
};

class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  std::string name() const override { return "LSTMCell"; }
  // Returns (h', c').
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& h, const Tensor& c);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor(), Tensor()).first; }
};

class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  std::string name() const override { return "GRUCell"; }
  Tensor forward(const Tensor& x, const Tensor& h);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
};

}  // namespace galen::nn
