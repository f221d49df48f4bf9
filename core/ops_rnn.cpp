// Recurrent layers (RNN / LSTM / GRU) and cells: argument checks, the per-layer
// schedule of GEMMs and fused gate kernels, and one autograd node per layer.
//
// Layout of one layer (T steps, B rows, D directions, hidden H, G gate blocks):
//  - GI = x W_ihᵀ for all T*B rows at once (one GEMM per direction).
//  - Per step, in processing order (reverse direction: t = T-1 .. 0):
//    GH = h_prev W_hhᵀ (GEMM), then rnn_cell_forward writes the new state and
//    the step's output straight into the layer's output (T, B, D*H).
//  - HP[t] / CP[t] (T, B, H) hold the state each step at time t READ (h0 at the
//    direction's first step), so both weight gradients are single GEMMs over all
//    T*B rows: dW_ih = dGIᵀ x, dW_hh = dGHᵀ HP. The last step writes straight
//    into h_n / c_n.
//  - Padded steps (lengths) are inactive rows of the gate kernel: they carry
//    the state, write 0 output and pass gradients through, so the reverse
//    direction starts at each sequence's last valid step with h0.
// Multiple outputs: the layer writes output, h_n and c_n into ONE flat tensor
// P, recorded as the node's single output; the caller takes views of it, so
// their gradients meet again in P's gradient.
#include "galen/core/rnn.h"

#include <memory>
#include <string>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using kernels::RnnCell;

const char* rnn_mode_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::RnnTanh: return "rnn_tanh";
    case RnnMode::RnnRelu: return "rnn_relu";
    case RnnMode::Lstm: return "lstm";
    case RnnMode::Gru: return "gru";
  }
  return "?";
}

namespace {

RnnCell cell_of(RnnMode m) {
  switch (m) {
    case RnnMode::RnnTanh: return RnnCell::Tanh;
    case RnnMode::RnnRelu: return RnnCell::Relu;
    case RnnMode::Lstm: return RnnCell::Lstm;
    case RnnMode::Gru: return RnnCell::Gru;
  }
  return RnnCell::Tanh;
}

// Element `off` of a contiguous tensor (raw device pointer arithmetic).
void* at(const Tensor& t, int64_t off) { return static_cast<char*>(t.data_ptr()) + off * t.element_size(); }
void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// One layer's sizes and options.
struct LayerSpec {
  const char* name = "";
  RnnCell cell = RnnCell::Tanh;
  int64_t T = 0, B = 0, I = 0, H = 0, D = 1;
  DType dtype = DType::f32;
  Device device;
  // Sequence lengths (no padding: both undefined / null). Held here so that the
  // backward, which captures the spec, still has them.
  Tensor lengths_dev;                                      // i64 (B) on the device
  std::shared_ptr<const std::vector<int64_t>> lengths_host;  // the same values on the host
  bool allow_library = true;

  const int64_t* lengths() const { return lengths_dev.defined() ? lengths_dev.data<int64_t>() : nullptr; }

  int64_t G() const { return kernels::rnn_gates(cell); }
  bool lstm() const { return cell == RnnCell::Lstm; }
  int64_t y_numel() const { return T * B * D * H; }
  int64_t state_numel() const { return D * B * H; }
  int64_t packed_numel() const { return y_numel() + state_numel() * (lstm() ? 2 : 1); }
};

// The layer's inputs, contiguous: x (T, B, I), h0 / c0 (D, B, H), and per
// direction 4 weights w_ih, w_hh, b_ih, b_hh (biases may be undefined).
struct LayerInputs {
  Tensor x, h0, c0;
  std::vector<Tensor> w;
};

kernels::RnnStep step_of(const LayerSpec& sp, int64_t t) {
  kernels::RnnStep s;
  s.cell = sp.cell;
  s.B = sp.B;
  s.H = sp.H;
  s.lengths = sp.lengths();
  s.t = t;
  return s;
}

// ---- fused path ------------------------------------------------------------------
// Saved per direction: HP, CP (LSTM), WS (gate values for the backward).
struct FusedBuffers {
  Tensor HP[2], CP[2], WS[2];
};

void fused_forward(const LayerSpec& sp, const LayerInputs& in, const Tensor& P, bool save, FusedBuffers& buf) {
  auto& be = kernels::backend(sp.device.type);
  const int64_t T = sp.T, B = sp.B, I = sp.I, H = sp.H, D = sp.D, GH = sp.G() * H;
  const int64_t W = kernels::rnn_saved(sp.cell);
  const size_t state_bytes = static_cast<size_t>(B * H) * galen::element_size(sp.dtype);
  Tensor GI = detail::make_empty({T * B, GH}, sp.dtype, sp.device);
  Tensor GHb = detail::make_empty({B, GH}, sp.dtype, sp.device);
  for (int64_t d = 0; d < D; ++d) {
    const Tensor &w_ih = in.w[4 * d], &w_hh = in.w[4 * d + 1], &b_ih = in.w[4 * d + 2], &b_hh = in.w[4 * d + 3];
    be.gemm(sp.dtype, false, true, T * B, GH, I, 1.0, in.x.data_ptr(), I, 0, w_ih.data_ptr(), I, 0, 0.0,
            GI.data_ptr(), GH, 0, 1);
    Tensor HP = detail::make_empty({T, B, H}, sp.dtype, sp.device);
    Tensor CP = sp.lstm() ? detail::make_empty({T, B, H}, sp.dtype, sp.device) : Tensor();
    Tensor WS = save ? detail::make_empty({T, B, W * H}, sp.dtype, sp.device) : Tensor();
    const int64_t t0 = d == 0 ? 0 : T - 1;
    be.copy_device(at(HP, t0 * B * H), at(in.h0, d * B * H), state_bytes, sp.device.index);
    if (sp.lstm()) be.copy_device(at(CP, t0 * B * H), at(in.c0, d * B * H), state_bytes, sp.device.index);
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = d == 0 ? k : T - 1 - k, tn = d == 0 ? t + 1 : t - 1;
      const bool last = k == T - 1;
      be.gemm(sp.dtype, false, true, B, GH, H, 1.0, at(HP, t * B * H), H, 0, w_hh.data_ptr(), H, 0, 0.0,
              GHb.data_ptr(), GH, 0, 1);
      void* h_out = last ? at(P, sp.y_numel() + d * B * H) : at(HP, tn * B * H);
      void* c_out = !sp.lstm() ? nullptr
                    : last     ? at(P, sp.y_numel() + sp.state_numel() + d * B * H)
                               : at(CP, tn * B * H);
      be.rnn_cell_forward(step_of(sp, t), sp.dtype, at(GI, t * B * GH), GHb.data_ptr(), ptr_or_null(b_ih),
                          ptr_or_null(b_hh), at(HP, t * B * H), sp.lstm() ? at(CP, t * B * H) : nullptr, h_out,
                          c_out, at(P, t * B * D * H + d * H), D * H, save ? at(WS, t * B * W * H) : nullptr);
    }
    buf.HP[d] = HP;
    buf.CP[d] = CP;
    buf.WS[d] = WS;
  }
}

// Gradients of one layer: dx (T, B, I), dh0 / dc0 (D, B, H), dw (4 per direction;
// undefined where the weight is). need_dx = false skips dx.
struct LayerGrads {
  Tensor dx, dh0, dc0;
  std::vector<Tensor> dw;
};

LayerGrads fused_backward(const LayerSpec& sp, const LayerInputs& in, const FusedBuffers& buf, const Tensor& gP,
                          bool need_dx) {
  auto& be = kernels::backend(sp.device.type);
  const int64_t T = sp.T, B = sp.B, I = sp.I, H = sp.H, D = sp.D, GH = sp.G() * H;
  const int64_t W = kernels::rnn_saved(sp.cell);
  const bool gru = sp.cell == RnnCell::Gru, lstm = sp.lstm();
  const size_t state_bytes = static_cast<size_t>(B * H) * galen::element_size(sp.dtype);
  const int dev = sp.device.index;
  LayerGrads g;
  g.dw.resize(in.w.size());
  if (need_dx) g.dx = detail::make_empty({T, B, I}, sp.dtype, sp.device);
  g.dh0 = detail::make_empty({D, B, H}, sp.dtype, sp.device);
  if (lstm) g.dc0 = detail::make_empty({D, B, H}, sp.dtype, sp.device);
  Tensor dGI = detail::make_empty({T * B, GH}, sp.dtype, sp.device);
  Tensor dGH = gru ? detail::make_empty({T * B, GH}, sp.dtype, sp.device) : dGI;
  Tensor dh[2] = {detail::make_empty({B, H}, sp.dtype, sp.device), detail::make_empty({B, H}, sp.dtype, sp.device)};
  Tensor dc[2];
  if (lstm) dc[0] = detail::make_empty({B, H}, sp.dtype, sp.device), dc[1] = detail::make_empty({B, H}, sp.dtype, sp.device);
  for (int64_t d = 0; d < D; ++d) {
    const Tensor &w_ih = in.w[4 * d], &w_hh = in.w[4 * d + 1];
    const Tensor &HP = buf.HP[d], &CP = buf.CP[d], &WS = buf.WS[d];
    be.copy_device(dh[0].data_ptr(), at(gP, sp.y_numel() + d * B * H), state_bytes, dev);
    if (lstm) be.copy_device(dc[0].data_ptr(), at(gP, sp.y_numel() + sp.state_numel() + d * B * H), state_bytes, dev);
    int cur = 0;
    for (int64_t k = T - 1; k >= 0; --k) {
      const int64_t t = d == 0 ? k : T - 1 - k;
      be.rnn_cell_backward(step_of(sp, t), sp.dtype, at(WS, t * B * W * H), at(HP, t * B * H),
                           lstm ? at(CP, t * B * H) : nullptr, at(gP, t * B * D * H + d * H), D * H,
                           dh[cur].data_ptr(), lstm ? dc[cur].data_ptr() : nullptr, at(dGI, t * B * GH),
                           gru ? at(dGH, t * B * GH) : nullptr, dh[1 - cur].data_ptr(),
                           lstm ? dc[1 - cur].data_ptr() : nullptr);
      // d/d(h_prev) += dGH_t W_hh
      be.gemm(sp.dtype, false, false, B, H, GH, 1.0, at(dGH, t * B * GH), GH, 0, w_hh.data_ptr(), H, 0, 1.0,
              dh[1 - cur].data_ptr(), H, 0, 1);
      cur = 1 - cur;
    }
    be.copy_device(at(g.dh0, d * B * H), dh[cur].data_ptr(), state_bytes, dev);
    if (lstm) be.copy_device(at(g.dc0, d * B * H), dc[cur].data_ptr(), state_bytes, dev);
    Tensor dw_ih = detail::make_empty({GH, I}, sp.dtype, sp.device);
    be.gemm(sp.dtype, true, false, GH, I, T * B, 1.0, dGI.data_ptr(), GH, 0, in.x.data_ptr(), I, 0, 0.0,
            dw_ih.data_ptr(), I, 0, 1);
    Tensor dw_hh = detail::make_empty({GH, H}, sp.dtype, sp.device);
    be.gemm(sp.dtype, true, false, GH, H, T * B, 1.0, dGH.data_ptr(), GH, 0, HP.data_ptr(), H, 0, 0.0,
            dw_hh.data_ptr(), H, 0, 1);
    g.dw[4 * d] = dw_ih;
    g.dw[4 * d + 1] = dw_hh;
    if (in.w[4 * d + 2].defined()) {
      Tensor db = detail::make_empty({GH}, sp.dtype, sp.device);
      be.reduce(kernels::ReduceOp::Sum, sp.dtype, dGI.data_ptr(), 1, T * B, GH, db.data_ptr(), nullptr);
      g.dw[4 * d + 2] = db;
    }
    if (in.w[4 * d + 3].defined()) {
      Tensor db = detail::make_empty({GH}, sp.dtype, sp.device);
      be.reduce(kernels::ReduceOp::Sum, sp.dtype, dGH.data_ptr(), 1, T * B, GH, db.data_ptr(), nullptr);
      g.dw[4 * d + 3] = db;
    }
    if (need_dx)
      be.gemm(sp.dtype, false, false, T * B, I, GH, 1.0, dGI.data_ptr(), GH, 0, w_ih.data_ptr(), I, 0,
              d == 0 ? 0.0 : 1.0, g.dx.data_ptr(), I, 0, 1);
  }
  return g;
}

// ---- library path (cuDNN) -----------------------------------------------------------
kernels::RnnLayerDesc desc_of(const LayerSpec& sp, const LayerInputs& in) {
  kernels::RnnLayerDesc d;
  d.cell = sp.cell;
  d.T = sp.T, d.B = sp.B, d.I = sp.I, d.H = sp.H;
  d.bidirectional = sp.D == 2;
  d.has_bias = in.w[2].defined();
  d.lengths = sp.lengths_host ? sp.lengths_host->data() : nullptr;
  return d;
}

std::vector<const void*> weight_ptrs(const LayerInputs& in) {
  std::vector<const void*> p;
  for (const Tensor& w : in.w) p.push_back(w.defined() ? w.data_ptr() : nullptr);
  return p;
}

// Whether the library path runs this layer; sets reserve_bytes.
bool library_plan(const LayerSpec& sp, const LayerInputs& in, bool training, size_t* reserve_bytes) {
  if (!sp.allow_library || sp.device.type == DeviceType::CPU) return false;
  // The library computes both biases or none.
  for (int64_t d = 0; d < sp.D; ++d)
    if (in.w[4 * d + 2].defined() != in.w[2].defined() || in.w[4 * d + 3].defined() != in.w[2].defined())
      return false;
  return kernels::backend(sp.device.type).rnn_library_plan(sp.dtype, desc_of(sp, in), training, reserve_bytes);
}

LayerGrads library_backward(const LayerSpec& sp, const LayerInputs& in, const Tensor& P, const Tensor& reserve,
                            const Tensor& gP) {
  auto& be = kernels::backend(sp.device.type);
  LayerGrads g;
  g.dx = detail::make_empty({sp.T, sp.B, sp.I}, sp.dtype, sp.device);
  g.dh0 = detail::make_empty({sp.D, sp.B, sp.H}, sp.dtype, sp.device);
  if (sp.lstm()) g.dc0 = detail::make_empty({sp.D, sp.B, sp.H}, sp.dtype, sp.device);
  g.dw.resize(in.w.size());
  std::vector<void*> dwp;
  for (size_t i = 0; i < in.w.size(); ++i) {
    if (in.w[i].defined()) g.dw[i] = detail::make_empty(in.w[i].sizes(), sp.dtype, sp.device);
    dwp.push_back(ptr_or_null(g.dw[i]));
  }
  const auto wp = weight_ptrs(in);
  be.rnn_library_backward(sp.dtype, desc_of(sp, in), wp.data(), in.x.data_ptr(), in.h0.data_ptr(),
                          ptr_or_null(in.c0), P.data_ptr(), gP.data_ptr(), at(gP, sp.y_numel()),
                          sp.lstm() ? at(gP, sp.y_numel() + sp.state_numel()) : nullptr, reserve.data_ptr(),
                          static_cast<size_t>(reserve.numel()), g.dx.data_ptr(), g.dh0.data_ptr(),
                          ptr_or_null(g.dc0), dwp.data());
  return g;
}

// ---- one recorded layer ------------------------------------------------------------------
// Runs the layer and records it; returns the packed output P
// [output (T, B, D*H) | h_n (D, B, H) | c_n (D, B, H), LSTM only].
Tensor run_layer(const LayerSpec& sp, const LayerInputs& in) {
  // Inputs of the node, in order, and the index of each within `in`.
  std::vector<Tensor> inputs = {in.x, in.h0};
  if (sp.lstm()) inputs.push_back(in.c0);
  for (const Tensor& w : in.w)
    if (w.defined()) inputs.push_back(w);
  const bool need_grad = autograd::any_requires_grad(inputs);
  Tensor P = detail::make_empty({sp.packed_numel()}, sp.dtype, sp.device);

  size_t reserve_bytes = 0;
  if (library_plan(sp, in, need_grad, &reserve_bytes)) {
    auto& be = kernels::backend(sp.device.type);
    Tensor reserve;
    if (need_grad) reserve = detail::make_empty({static_cast<int64_t>(reserve_bytes)}, DType::u8, sp.device);
    const auto wp = weight_ptrs(in);
    be.rnn_library_forward(sp.dtype, desc_of(sp, in), wp.data(), in.x.data_ptr(), in.h0.data_ptr(),
                           ptr_or_null(in.c0), P.data_ptr(), at(P, sp.y_numel()),
                           sp.lstm() ? at(P, sp.y_numel() + sp.state_numel()) : nullptr, ptr_or_null(reserve),
                           reserve_bytes);
    if (!need_grad) return P;
    // saved: x, h0, c0, the 4*D weights (undefined allowed), P (detached alias), reserve.
    std::vector<Tensor> saved = {in.x, in.h0, in.c0};
    for (const Tensor& w : in.w) saved.push_back(w);
    saved.push_back(P.detach());
    saved.push_back(reserve);
    const bool x_grad = in.x.requires_grad();
    return autograd::record(sp.name, P, inputs, std::move(saved),
                            [sp, x_grad](const Tensor& g, const std::vector<Tensor>& s) {
                              LayerInputs li{s[0], s[1], s[2], {}};
                              const size_t nw = s.size() - 5;
                              li.w.assign(s.begin() + 3, s.begin() + 3 + static_cast<std::ptrdiff_t>(nw));
                              LayerGrads lg = library_backward(sp, li, s[3 + nw], s[4 + nw], g.contiguous());
                              std::vector<Tensor> out = {x_grad ? lg.dx : Tensor(), lg.dh0};
                              if (sp.lstm()) out.push_back(lg.dc0);
                              for (size_t i = 0; i < nw; ++i)
                                if (li.w[i].defined()) out.push_back(lg.dw[i]);
                              return out;
                            });
  }

  FusedBuffers buf;
  fused_forward(sp, in, P, need_grad, buf);
  if (!need_grad) return P;
  // saved: x, h0, c0, the 4*D weights, then HP, CP, WS per direction.
  std::vector<Tensor> saved = {in.x, in.h0, in.c0};
  for (const Tensor& w : in.w) saved.push_back(w);
  for (int64_t d = 0; d < sp.D; ++d) {
    saved.push_back(buf.HP[d]);
    saved.push_back(buf.CP[d]);
    saved.push_back(buf.WS[d]);
  }
  const bool x_grad = in.x.requires_grad();
  const size_t nw = in.w.size();
  return autograd::record(sp.name, P, inputs, std::move(saved),
                          [sp, x_grad, nw](const Tensor& g, const std::vector<Tensor>& s) {
                            LayerInputs li{s[0], s[1], s[2], {}};
                            li.w.assign(s.begin() + 3, s.begin() + 3 + static_cast<std::ptrdiff_t>(nw));
                            FusedBuffers b;
                            for (int64_t d = 0; d < sp.D; ++d) {
                              b.HP[d] = s[3 + nw + 3 * d];
                              b.CP[d] = s[3 + nw + 3 * d + 1];
                              b.WS[d] = s[3 + nw + 3 * d + 2];
                            }
                            LayerGrads lg = fused_backward(sp, li, b, g.contiguous(), x_grad);
                            std::vector<Tensor> out = {lg.dx, lg.dh0};
                            if (sp.lstm()) out.push_back(lg.dc0);
                            for (size_t i = 0; i < nw; ++i)
                              if (li.w[i].defined()) out.push_back(lg.dw[i]);
                            return out;
                          });
}

// ---- argument checks ---------------------------------------------------------------------
void check_param(const char* op, const Tensor& p, const Shape& expect, const std::string& what, const Tensor& x) {
  GALEN_CHECK(p.defined(), op, ": parameter ", what, " is undefined");
  GALEN_CHECK(p.sizes() == expect, op, ": parameter ", what, " must have shape ", expect, ", got ", p.sizes());
  GALEN_CHECK(p.dtype() == x.dtype(), op, ": parameter ", what, " has dtype ", dtype_name(p.dtype()),
              " but the input has ", dtype_name(x.dtype()));
  GALEN_CHECK(p.device() == x.device(), op, ": parameter ", what, " is on ", p.device().str(),
              " but the input is on ", x.device().str());
}

void check_state(const char* op, const Tensor& s, const Shape& expect, const char* what, const Tensor& x) {
  GALEN_CHECK(s.sizes() == expect, op, ": ", what, " must have shape ", expect, ", got ", s.sizes());
  GALEN_CHECK(s.dtype() == x.dtype(), op, ": ", what, " has dtype ", dtype_name(s.dtype()), " but the input has ",
              dtype_name(x.dtype()));
  GALEN_CHECK(s.device() == x.device(), op, ": ", what, " is on ", s.device().str(), " but the input is on ",
              x.device().str());
}

void check_input(const char* op, const Tensor& x) {
  detail::check_defined(op, x);
  GALEN_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op, ": input must be f32 or f64, got ",
              dtype_name(x.dtype()));
}

// Checked i64 host copy of lengths (B values in 1..T).
std::vector<int64_t> checked_lengths(const char* op, const Tensor& lengths, int64_t B, int64_t T) {
  GALEN_CHECK(lengths.device().type == DeviceType::CPU, op, ": lengths must be a CPU tensor (as for ",
              "pack_padded_sequence), got one on ", lengths.device().str());
  GALEN_CHECK(is_integral(lengths.dtype()), op, ": lengths must be an integer tensor, got ",
              dtype_name(lengths.dtype()));
  GALEN_CHECK(lengths.dim() == 1 && lengths.size(0) == B, op, ": lengths must have shape (", B,
              ") (one per sequence), got ", lengths.sizes());
  std::vector<int64_t> v = lengths.to(DType::i64).contiguous().to_vector<int64_t>();
  for (size_t b = 0; b < v.size(); ++b)
    GALEN_CHECK(v[b] >= 1 && v[b] <= T, op, ": lengths[", b, "] = ", v[b], " is outside 1..", T,
                " (the padded sequence length)");
  return v;
}

Tensor zero_state(int64_t D, int64_t B, int64_t H, const Tensor& x) {
  return zeros({D, B, H}, TensorOptions(x.dtype(), x.device()));
}

}  // namespace

RnnOutput rnn(RnnMode mode, const Tensor& input, const Tensor& h0, const Tensor& c0, const std::vector<Tensor>& params,
              bool has_biases, int64_t num_layers, double dropout_p, bool training, bool bidirectional,
              bool batch_first, const Tensor& lengths) {
  const char* op = rnn_mode_name(mode);
  check_input(op, input);
  GALEN_CHECK(num_layers >= 1, op, ": num_layers must be >= 1, got ", num_layers);
  GALEN_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, op, ": dropout must be in [0, 1], got ", dropout_p);
  GALEN_CHECK(input.dim() == 3 || input.dim() == 2, op, ": input must be 3-D (", batch_first ? "B, T, I" : "T, B, I",
              ") or 2-D unbatched (T, I), got shape ", input.sizes());
  const bool unbatched = input.dim() == 2;
  GALEN_CHECK(!(unbatched && lengths.defined()), op, ": lengths need a batched (3-D) input");
  const RnnCell cell = cell_of(mode);
  const bool lstm = cell == RnnCell::Lstm;
  GALEN_CHECK(lstm || !c0.defined(), op, ": only LSTM takes a cell state c0");
  const int64_t D = bidirectional ? 2 : 1, L = num_layers, per = has_biases ? 4 : 2;
  GALEN_CHECK(static_cast<int64_t>(params.size()) == L * D * per, op, ": expected ", L * D * per,
              " parameter tensors (", L, " layers x ", D, " directions x ", per, "), got ", params.size());

  Tensor x = unbatched ? input.unsqueeze(1) : (batch_first ? input.transpose(0, 1) : input);
  x = x.contiguous();
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2);
  GALEN_CHECK(T >= 1 && B >= 1, op, ": input must have at least one time step and one sequence, got shape ",
              input.sizes());
  GALEN_CHECK(params[1].defined() && params[1].dim() == 2, op, ": parameter weight_hh_l0 must be 2-D, got ",
              params[1].defined() ? params[1].sizes() : Shape{});
  const int64_t H = params[1].size(1), G = kernels::rnn_gates(cell);
  GALEN_CHECK(H >= 1, op, ": hidden size must be >= 1");
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      const int64_t il = l == 0 ? I : D * H;
      const size_t base = static_cast<size_t>((l * D + d) * per);
      if (l == 0)
        GALEN_CHECK(params[base].defined() && params[base].dim() == 2 && params[base].size(1) == I, op,
                    ": input has ", I, " features but weight_ih", sfx, " expects ",
                    params[base].defined() && params[base].dim() == 2 ? params[base].size(1) : -1,
                    " (input shape ", input.sizes(), ")");
      check_param(op, params[base], {G * H, il}, "weight_ih" + sfx, input);
      check_param(op, params[base + 1], {G * H, H}, "weight_hh" + sfx, input);
      if (has_biases) {
        check_param(op, params[base + 2], {G * H}, "bias_ih" + sfx, input);
        check_param(op, params[base + 3], {G * H}, "bias_hh" + sfx, input);
      }
    }
  Tensor h0b = h0, c0b = c0;
  if (h0.defined()) {
    if (unbatched) {
      check_state(op, h0, {L * D, H}, "h0 (unbatched input)", input);
      h0b = h0.unsqueeze(1);
    }
    check_state(op, h0b, {L * D, B, H}, "h0", input);
  }
  if (c0.defined()) {
    if (unbatched) {
      check_state(op, c0, {L * D, H}, "c0 (unbatched input)", input);
      c0b = c0.unsqueeze(1);
    }
    check_state(op, c0b, {L * D, B, H}, "c0", input);
  }

  std::vector<int64_t> len_host;
  Tensor len_dev;
  if (lengths.defined()) {
    len_host = checked_lengths(op, lengths, B, T);
    bool full = true;
    for (int64_t v : len_host) full = full && v == T;
    if (full) len_host.clear();  // no padding: the kernels' fast path
    else len_dev = from_vector<int64_t>(len_host, {B}).to(x.device());
  }

  LayerSpec sp;
  sp.name = op;
  sp.cell = cell;
  sp.T = T, sp.B = B, sp.H = H, sp.D = D;
  sp.dtype = x.dtype();
  sp.device = x.device();
  sp.lengths_dev = len_dev;
  if (len_dev.defined()) sp.lengths_host = std::make_shared<const std::vector<int64_t>>(len_host);

  Tensor layer_in = x;
  std::vector<Tensor> hs, cs;
  for (int64_t l = 0; l < L; ++l) {
    sp.I = l == 0 ? I : D * H;
    LayerInputs in;
    in.x = layer_in;
    in.h0 = h0b.defined() ? h0b.narrow(0, l * D, D).contiguous() : zero_state(D, B, H, x);
    if (lstm) in.c0 = c0b.defined() ? c0b.narrow(0, l * D, D).contiguous() : zero_state(D, B, H, x);
    for (int64_t d = 0; d < D; ++d) {
      const size_t base = static_cast<size_t>((l * D + d) * per);
      in.w.push_back(params[base].contiguous());
      in.w.push_back(params[base + 1].contiguous());
      in.w.push_back(has_biases ? params[base + 2].contiguous() : Tensor());
      in.w.push_back(has_biases ? params[base + 3].contiguous() : Tensor());
    }
    Tensor P = run_layer(sp, in);
    Tensor y = P.narrow(0, 0, sp.y_numel()).view({T, B, D * H});
    hs.push_back(P.narrow(0, sp.y_numel(), sp.state_numel()).view({D, B, H}));
    if (lstm) cs.push_back(P.narrow(0, sp.y_numel() + sp.state_numel(), sp.state_numel()).view({D, B, H}));
    if (l + 1 < L && training && dropout_p > 0.0) y = galen::dropout(y, dropout_p, true);
    layer_in = y;
  }
  RnnOutput r;
  r.output = unbatched ? layer_in.squeeze(1) : (batch_first ? layer_in.transpose(0, 1) : layer_in);
  r.h_n = L == 1 ? hs[0] : cat(hs, 0);
  if (lstm) r.c_n = L == 1 ? cs[0] : cat(cs, 0);
  if (unbatched) {
    r.h_n = r.h_n.squeeze(1);
    if (lstm) r.c_n = r.c_n.squeeze(1);
  }
  return r;
}

namespace {

// One step through the layer machinery (T = 1, one direction, fused kernels).
RnnOutput cell_step(RnnMode mode, const char* op, const Tensor& x, const Tensor& h, const Tensor& c,
                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check_input(op, x);
  GALEN_CHECK(x.dim() == 1 || x.dim() == 2, op, ": input must be (B, I) or (I), got shape ", x.sizes());
  const bool unbatched = x.dim() == 1;
  Tensor x2 = unbatched ? x.unsqueeze(0) : x;
  const int64_t B = x2.size(0), I = x2.size(1);
  GALEN_CHECK(B >= 1, op, ": input must have at least one row, got shape ", x.sizes());
  const RnnCell cell = cell_of(mode);
  GALEN_CHECK(w_hh.defined() && w_hh.dim() == 2, op, ": w_hh must be 2-D (G*H, H)");
  const int64_t H = w_hh.size(1), G = kernels::rnn_gates(cell);
  GALEN_CHECK(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(1) == I, op, ": input has ", I,
              " features but w_ih has shape ", w_ih.defined() ? w_ih.sizes() : Shape{});
  check_param(op, w_ih, {G * H, I}, "w_ih", x);
  check_param(op, w_hh, {G * H, H}, "w_hh", x);
  if (b_ih.defined()) check_param(op, b_ih, {G * H}, "b_ih", x);
  if (b_hh.defined()) check_param(op, b_hh, {G * H}, "b_hh", x);
  const Shape state = unbatched ? Shape{H} : Shape{B, H};
  auto prep = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return zero_state(1, B, H, x);
    check_state(op, s, state, what, x);
    return s.reshape({1, B, H}).contiguous();
  };
  LayerSpec sp;
  sp.name = op;
  sp.cell = cell;
  sp.T = 1, sp.B = B, sp.I = I, sp.H = H, sp.D = 1;
  sp.dtype = x.dtype();
  sp.device = x.device();
  sp.allow_library = false;
  LayerInputs in;
  in.x = x2.reshape({1, B, I}).contiguous();
  in.h0 = prep(h, "hx");
  if (cell == RnnCell::Lstm) in.c0 = prep(c, "cx");
  in.w = {w_ih.contiguous(), w_hh.contiguous(), b_ih.defined() ? b_ih.contiguous() : Tensor(),
          b_hh.defined() ? b_hh.contiguous() : Tensor()};
  Tensor P = run_layer(sp, in);
  RnnOutput r;
  r.h_n = P.narrow(0, sp.y_numel(), B * H).view(state);
  if (cell == RnnCell::Lstm) r.c_n = P.narrow(0, sp.y_numel() + B * H, B * H).view(state);
  return r;
}

}  // namespace

Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  return cell_step(RnnMode::RnnTanh, "rnn_tanh_cell", x, h, Tensor(), w_ih, w_hh, b_ih, b_hh).h_n;
}
Tensor rnn_relu_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  return cell_step(RnnMode::RnnRelu, "rnn_relu_cell", x, h, Tensor(), w_ih, w_hh, b_ih, b_hh).h_n;
}
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  RnnOutput r = cell_step(RnnMode::Lstm, "lstm_cell", x, h, c, w_ih, w_hh, b_ih, b_hh);
  return {r.h_n, r.c_n};
}
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  return cell_step(RnnMode::Gru, "gru_cell", x, h, Tensor(), w_ih, w_hh, b_ih, b_hh).h_n;
}

}  // namespace galen
