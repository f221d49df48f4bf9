// CUDA recurrent layers against the CPU: the fused gate kernels against the
// reference backend (device lengths, padded rows), and whole RNN / LSTM / GRU
// layers and cells on both "rnn" variants ("fused", "cudnn") — outputs, final
// states, input / state / parameter gradients — uni/bidirectional, several
// layers, batch_first, variable lengths, f64 and f32. Skipped without a GPU.
#include <random>
#include <string>
#include <vector>

#include "galen/kernels/backend.h"
#include "test_util.h"

using namespace galen;
using namespace galen::nn;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(-scale, scale);
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = d(g);
  return from_vector<double>(v, s, DType::f64);
}

// Restores the backend's "rnn" variant when a test ends (also on failure).
struct VariantGuard {
  std::string saved;
  explicit VariantGuard(const std::string& v) {
    auto& be = kernels::backend(DeviceType::CUDA);
    saved = be.variant("rnn");
    be.set_variant("rnn", v);
  }
  ~VariantGuard() { kernels::backend(DeviceType::CUDA).set_variant("rnn", saved); }
};

std::shared_ptr<RNNBase> make(RnnMode mode, int64_t I, int64_t H, const RnnOptions& o) {
  if (mode == RnnMode::Lstm) return std::make_shared<LSTM>(I, H, o);
  if (mode == RnnMode::Gru) return std::make_shared<GRU>(I, H, o);
  RnnOptions r = o;
  r.nonlinearity = mode == RnnMode::RnnRelu ? "relu" : "tanh";
  return std::make_shared<RNN>(I, H, r);
}

struct Result {
  RnnOutput out;
  Tensor gx, gh0, gc0;
  std::vector<Tensor> gp;
};

Result run_on(RNNBase& m, RnnMode mode, const Tensor& x0, const Tensor& h00, const Tensor& c00, const Tensor& lengths,
              Device dev, DType dt) {
  Result r;
  Tensor x = x0.to(dt).to(dev).detach().requires_grad_(true);
  Tensor h0 = h00.to(dt).to(dev).detach().requires_grad_(true);
  Tensor c0 = mode == RnnMode::Lstm ? c00.to(dt).to(dev).detach().requires_grad_(true) : Tensor();
  r.out = rnn(mode, x, h0, c0, m.flat_weights(), m.bias, m.num_layers, 0.0, false, m.bidirectional, m.batch_first,
              lengths);
  Tensor w = rnd(r.out.output.sizes(), 77).to(dt).to(dev);
  Tensor loss = (r.out.output * w).sum() + (r.out.h_n * 0.5).sum();
  if (mode == RnnMode::Lstm) loss = loss + (r.out.c_n * 0.25).sum();
  m.zero_grad();
  loss.backward();
  r.gx = x.grad(), r.gh0 = h0.grad();
  if (c0.defined()) r.gc0 = c0.grad();
  for (auto& p : m.parameters()) r.gp.push_back(p.grad());
  return r;
}

void compare_layers(const std::string& variant, DType dt, double atol, double rtol) {
  VariantGuard vg(variant);
  const Device gpu{DeviceType::CUDA, 0};
  for (RnnMode mode : {RnnMode::RnnTanh, RnnMode::RnnRelu, RnnMode::Lstm, RnnMode::Gru})
    for (int cfg = 0; cfg < 4; ++cfg) {
      RnnOptions o;
      o.num_layers = cfg == 0 ? 1 : cfg == 1 ? 2 : 3;
      o.bidirectional = cfg != 1;
      o.batch_first = cfg == 2;
      o.bias = cfg != 3;
      const bool padded = cfg == 1 || cfg == 2;
      const int64_t T = 7, B = 5, I = 6, H = 9, D = o.bidirectional ? 2 : 1;
      INFO("variant " << variant << " mode " << rnn_mode_name(mode) << " cfg " << cfg << " " << dtype_name(dt));
      manual_seed(100 + cfg);
      auto cpu_m = make(mode, I, H, o);
      auto gpu_m = make(mode, I, H, o);
      gpu_m->load_state_dict(cpu_m->state_dict());
      cpu_m->to(dt);
      gpu_m->to(dt);
      gpu_m->to(gpu);
      Tensor x = rnd(o.batch_first ? Shape{B, T, I} : Shape{T, B, I}, 1 + cfg);
      Tensor h0 = rnd({o.num_layers * D, B, H}, 2 + cfg, 0.5), c0 = rnd({o.num_layers * D, B, H}, 3 + cfg, 0.5);
      Tensor lengths = padded ? from_vector<int64_t>({7, 3, 1, 6, 7}, {5}) : Tensor();
      Result a = run_on(*cpu_m, mode, x, h0, c0, lengths, Device{}, dt);
      Result b = run_on(*gpu_m, mode, x, h0, c0, lengths, gpu, dt);
      REQUIRE_CLOSE(b.out.output, a.out.output, atol, rtol);
      REQUIRE_CLOSE(b.out.h_n, a.out.h_n, atol, rtol);
      if (mode == RnnMode::Lstm) REQUIRE_CLOSE(b.out.c_n, a.out.c_n, atol, rtol);
      REQUIRE_CLOSE(b.gx, a.gx, atol, rtol);
      REQUIRE_CLOSE(b.gh0, a.gh0, atol, rtol);
      if (mode == RnnMode::Lstm) REQUIRE_CLOSE(b.gc0, a.gc0, atol, rtol);
      REQUIRE(a.gp.size() == b.gp.size());
      for (size_t i = 0; i < a.gp.size(); ++i) {
        INFO("parameter " << i);
        REQUIRE_CLOSE(b.gp[i], a.gp[i], atol, rtol);
      }
    }
}

}  // namespace

TEST_CASE("cuda rnn gate kernels match the reference", "[cuda][rnn]") {
  GALEN_REQUIRE_CUDA();
  auto& gpu = kernels::backend(DeviceType::CUDA);
  auto& ref = kernels::ref_backend();
  const Device dev{DeviceType::CUDA, 0};
  for (DType dt : {DType::f64, DType::f32})
    for (kernels::RnnCell cell :
         {kernels::RnnCell::Tanh, kernels::RnnCell::Relu, kernels::RnnCell::Lstm, kernels::RnnCell::Gru})
      for (auto [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {11, 33}, {2, 300}}) {
        INFO(dtype_name(dt) << " cell " << static_cast<int>(cell) << " B " << B << " H " << H);
        const int64_t G = kernels::rnn_gates(cell), W = kernels::rnn_saved(cell), ldy = H + 2;
        std::vector<int64_t> lens(static_cast<size_t>(B));
        for (int64_t b = 0; b < B; ++b) lens[static_cast<size_t>(b)] = 1 + (b * 7) % 4;  // t = 2: some padded
        Tensor len_cpu = from_vector<int64_t>(lens, {B}), len_gpu = len_cpu.to(dev);
        std::vector<Tensor> in = {rnd({B, G * H}, 1, 2), rnd({B, G * H}, 2, 2), rnd({G * H}, 3), rnd({G * H}, 4),
                                  rnd({B, H}, 5), rnd({B, H}, 6), rnd({B, ldy}, 7), rnd({B, H}, 8), rnd({B, H}, 9)};
        Tensor outs[2][8];
        for (int side = 0; side < 2; ++side) {
          const Device d = side ? dev : Device{};
          kernels::Backend& be = side ? gpu : ref;
          std::vector<Tensor> v;
          for (auto& t : in) v.push_back(t.to(dt).to(d));
          Tensor* o = outs[side];
          o[0] = zeros({B, H}, TensorOptions(dt, d)), o[1] = zeros({B, H}, TensorOptions(dt, d));
          o[2] = full({B, ldy}, 5.0, TensorOptions(dt, d)), o[3] = zeros({B, W * H}, TensorOptions(dt, d));
          o[4] = zeros({B, G * H}, TensorOptions(dt, d)), o[5] = zeros({B, G * H}, TensorOptions(dt, d));
          o[6] = zeros({B, H}, TensorOptions(dt, d)), o[7] = zeros({B, H}, TensorOptions(dt, d));
          const bool lstm = cell == kernels::RnnCell::Lstm, gru = cell == kernels::RnnCell::Gru;
          kernels::RnnStep s{cell, B, H, (side ? len_gpu : len_cpu).data<int64_t>(), 2};
          be.rnn_cell_forward(s, dt, v[0].data_ptr(), v[1].data_ptr(), v[2].data_ptr(), v[3].data_ptr(),
                              v[4].data_ptr(), lstm ? v[5].data_ptr() : nullptr, o[0].data_ptr(),
                              lstm ? o[1].data_ptr() : nullptr, o[2].data_ptr(), ldy, o[3].data_ptr());
          be.rnn_cell_backward(s, dt, o[3].data_ptr(), v[4].data_ptr(), lstm ? v[5].data_ptr() : nullptr,
                               v[6].data_ptr(), ldy, v[7].data_ptr(), lstm ? v[8].data_ptr() : nullptr,
                               o[4].data_ptr(), gru ? o[5].data_ptr() : nullptr, o[6].data_ptr(),
                               lstm ? o[7].data_ptr() : nullptr);
        }
        const double atol = dt == DType::f64 ? 1e-13 : 1e-6, rtol = dt == DType::f64 ? 1e-12 : 1e-5;
        for (int k = 0; k < 8; ++k) {
          INFO("output " << k);
          REQUIRE_CLOSE(outs[1][k], outs[0][k], atol, rtol);
        }
      }
}

TEST_CASE("cuda rnn layers (fused) match the CPU", "[cuda][rnn]") {
  GALEN_REQUIRE_CUDA();
  compare_layers("fused", DType::f64, 1e-12, 1e-10);
  compare_layers("fused", DType::f32, 1e-5, 1e-4);
}

TEST_CASE("cuda rnn layers (cudnn) match the CPU", "[cuda][rnn]") {
  GALEN_REQUIRE_CUDA();
  compare_layers("cudnn", DType::f64, 1e-12, 1e-10);
  // f32: cuDNN's GEMM order differs from OpenBLAS's; FMA math, no TF32.
  compare_layers("cudnn", DType::f32, 1e-5, 1e-4);
}

TEST_CASE("cuda rnn cells and modules run on the GPU", "[cuda][rnn]") {
  GALEN_REQUIRE_CUDA();
  const Device gpu{DeviceType::CUDA, 0};
  manual_seed(5);
  LSTMCell c(4, 3);
  Tensor x = rnd({2, 4}, 11).to(DType::f32), h = rnd({2, 3}, 12).to(DType::f32), cc = rnd({2, 3}, 13).to(DType::f32);
  auto [h1, c1] = c.forward(x, h, cc);
  c.to(gpu);
  auto [h2, c2] = c.forward(x.to(gpu), h.to(gpu), cc.to(gpu));
  REQUIRE(h2.device() == gpu);
  REQUIRE_CLOSE(h2, h1, 1e-6, 1e-5);
  REQUIRE_CLOSE(c2, c1, 1e-6, 1e-5);
  auto& be = kernels::backend(DeviceType::CUDA);
  REQUIRE(be.variants("rnn") == std::vector<std::string>{"fused", "cudnn"});
  REQUIRE_THROWS_WITH(be.set_variant("rnn", "magic"), Catch::Contains("rnn has variants fused, cudnn"));
  // lengths must stay on the CPU (as for pack_padded_sequence).
  GRU g(4, 3);
  g.to(gpu);
  REQUIRE_THROWS_WITH(g.forward(zeros({3, 2, 4}, TensorOptions(DType::f32, gpu)), Tensor(),
                                from_vector<int64_t>({3, 2}, {2}).to(gpu)),
                      Catch::Contains("lengths must be a CPU tensor"));
}
