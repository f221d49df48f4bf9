// RNN, LSTM, GRU and their cells: parameter registration with PyTorch's names
// and init; the compute is galen::rnn / galen::*_cell (core/ops_rnn.cpp).
#include "galen/layers/rnn.h"

#include <cmath>

#include "galen/layers/init.h"

namespace galen::nn {

namespace {
int64_t gates_of(RnnMode m) { return m == RnnMode::Lstm ? 4 : m == RnnMode::Gru ? 3 : 1; }
const char* module_name(RnnMode m) {
  return m == RnnMode::Lstm ? "LSTM" : m == RnnMode::Gru ? "GRU" : "RNN";
}
}  // namespace

RNNBase::RNNBase(RnnMode mode, int64_t input_size, int64_t hidden_size, const RnnOptions& o)
    : mode(mode),
      input_size(input_size),
      hidden_size(hidden_size),
      num_layers(o.num_layers),
      bias(o.bias),
      batch_first(o.batch_first),
      dropout(o.dropout),
      bidirectional(o.bidirectional) {
  const char* nm = module_name(mode);
  GALEN_CHECK(input_size >= 1 && hidden_size >= 1, nm, ": input_size and hidden_size must be >= 1, got ",
              input_size, " and ", hidden_size);
  GALEN_CHECK(num_layers >= 1, nm, ": num_layers must be >= 1, got ", num_layers);
  GALEN_CHECK(dropout >= 0.0 && dropout <= 1.0, nm, ": dropout must be in [0, 1], got ", dropout);
  const int64_t G = gates_of(mode), D = bidirectional ? 2 : 1;
  for (int64_t l = 0; l < num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      const int64_t in = l == 0 ? input_size : D * hidden_size;
      flat_weights_.push_back(register_parameter("weight_ih" + sfx, empty({G * hidden_size, in})));
      flat_weights_.push_back(register_parameter("weight_hh" + sfx, empty({G * hidden_size, hidden_size})));
      if (bias) {
        flat_weights_.push_back(register_parameter("bias_ih" + sfx, empty({G * hidden_size})));
        flat_weights_.push_back(register_parameter("bias_hh" + sfx, empty({G * hidden_size})));
      }
    }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (Tensor& w : flat_weights_) init::uniform_(w, -k, k);
}

RnnOutput RNNBase::run(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  return rnn(mode, x, h0, c0, flat_weights_, bias, num_layers, dropout, is_training(), bidirectional, batch_first,
             lengths);
}

std::string RNNBase::extra_repr() const {
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (num_layers != 1) s += ", num_layers=" + std::to_string(num_layers);
  if (mode == RnnMode::RnnRelu) s += ", nonlinearity='relu'";
  if (!bias) s += ", bias=False";
  if (batch_first) s += ", batch_first=True";
  if (dropout != 0.0) s += ", dropout=" + py_float(dropout);
  if (bidirectional) s += ", bidirectional=True";
  return s;
}

namespace {
RnnMode rnn_mode_of(const std::string& nl) {
  GALEN_CHECK(nl == "tanh" || nl == "relu", "RNN: nonlinearity must be 'tanh' or 'relu', got '", nl, "'");
  return nl == "tanh" ? RnnMode::RnnTanh : RnnMode::RnnRelu;
}
}  // namespace

RNN::RNN(int64_t input_size, int64_t hidden_size, const RnnOptions& opts)
    : RNNBase(rnn_mode_of(opts.nonlinearity), input_size, hidden_size, opts) {}
RnnOutput RNN::forward(const Tensor& x, const Tensor& h0, const Tensor& lengths) {
  return run(x, h0, Tensor(), lengths);
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size, const RnnOptions& opts)
    : RNNBase(RnnMode::Lstm, input_size, hidden_size, opts) {}
RnnOutput LSTM::forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  return run(x, h0, c0, lengths);
}

GRU::GRU(int64_t input_size, int64_t hidden_size, const RnnOptions& opts)
    : RNNBase(RnnMode::Gru, input_size, hidden_size, opts) {}
RnnOutput GRU::forward(const Tensor& x, const Tensor& h0, const Tensor& lengths) {
  return run(x, h0, Tensor(), lengths);
}

RNNCellBase::RNNCellBase(int64_t input_size, int64_t hidden_size, bool bias, int64_t G)
    : input_size(input_size), hidden_size(hidden_size) {
  GALEN_CHECK(input_size >= 1 && hidden_size >= 1, "RNN cell: input_size and hidden_size must be >= 1, got ",
              input_size, " and ", hidden_size);
  weight_ih = register_parameter("weight_ih", empty({G * hidden_size, input_size}));
  weight_hh = register_parameter("weight_hh", empty({G * hidden_size, hidden_size}));
  if (bias) {
    bias_ih = register_parameter("bias_ih", empty({G * hidden_size}));
    bias_hh = register_parameter("bias_hh", empty({G * hidden_size}));
  }
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (Tensor* w : {&weight_ih, &weight_hh, &bias_ih, &bias_hh})
    if (w->defined()) init::uniform_(*w, -k, k);
}

std::string RNNCellBase::extra_repr() const {
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (!bias_ih.defined()) s += ", bias=False";
  return s;
}

RNNCell::RNNCell(int64_t input_size, int64_t hidden_size, bool bias, const std::string& nl)
    : RNNCellBase(input_size, hidden_size, bias, 1), nonlinearity(nl) {
  rnn_mode_of(nl);  // validates
}
Tensor RNNCell::forward(const Tensor& x, const Tensor& h) {
  return nonlinearity == "tanh" ? rnn_tanh_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
                                : rnn_relu_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
}
std::string RNNCell::extra_repr() const {
  std::string s = RNNCellBase::extra_repr();
  if (nonlinearity != "tanh") s += ", nonlinearity='" + nonlinearity + "'";
  return s;
}

LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size, bool bias)
    : RNNCellBase(input_size, hidden_size, bias, 4) {}
std::pair<Tensor, Tensor> LSTMCell::forward(const Tensor& x, const Tensor& h, const Tensor& c) {
  return lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
}

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size, bool bias) : RNNCellBase(input_size, hidden_size, bias, 3) {}
Tensor GRUCell::forward(const Tensor& x, const Tensor& h) {
  return gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
}

}  // namespace galen::nn
