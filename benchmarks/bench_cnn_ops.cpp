// cnn_ops: the non-convolution layers of ResNet-50 / DenseNet-121 on CPU, f32,
// galen vs LibTorch: training-mode batch norm (alone and followed by ReLU),
// 3x3 stride-2 max pooling (the stem), 2x2 average pooling (DenseNet
// transitions), global average pooling (the heads); forward, and forward +
// backward of sum(out * g) with a fixed random g.
//   GB/s = bytes of the input + the output read/written once per pass (a lower
//   bound on the traffic; the backward counts the same again twice).
#include <functional>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/autograd.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"
#include "torch_peer_convperf.h"

namespace galen_bench {

namespace {
struct OpCase {
  std::string name;
  int64_t N, C, H, W;
  int64_t out_numel;
  // galen forward given x, w, b, rm, rv.
  std::function<galen::Tensor(const galen::Tensor&, const galen::Tensor&, const galen::Tensor&, galen::Tensor&,
                              galen::Tensor&)>
      galen_fn;
  std::function<std::function<void()>(bool)> torch_fn;
};

std::vector<OpCase> op_cases() {
  std::vector<OpCase> v;
  auto bn = [](const galen::Tensor& x, const galen::Tensor& w, const galen::Tensor& b, galen::Tensor& rm,
               galen::Tensor& rv) { return galen::batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5); };
  for (auto s : {std::vector<int64_t>{8, 256, 56, 56}, std::vector<int64_t>{8, 1024, 14, 14}}) {
    const std::string dims = std::to_string(s[1]) + "x" + std::to_string(s[2]) + "x" + std::to_string(s[3]) + "_b8";
    v.push_back({"batch_norm_" + dims, s[0], s[1], s[2], s[3], s[0] * s[1] * s[2] * s[3], bn,
                 [s](bool bw) { return torch_peer::batch_norm_train(s[0], s[1], s[2], s[3], bw); }});
    v.push_back({"batch_norm_relu_" + dims, s[0], s[1], s[2], s[3], s[0] * s[1] * s[2] * s[3],
                 [bn](const galen::Tensor& x, const galen::Tensor& w, const galen::Tensor& b, galen::Tensor& rm,
                      galen::Tensor& rv) { return galen::relu(bn(x, w, b, rm, rv)); },
                 [s](bool bw) { return torch_peer::batch_norm_relu_train(s[0], s[1], s[2], s[3], bw); }});
  }
  v.push_back({"max_pool3x3s2_64x112x112_b8", 8, 64, 112, 112, 8 * 64 * 56 * 56,
               [](const galen::Tensor& x, const galen::Tensor&, const galen::Tensor&, galen::Tensor&,
                  galen::Tensor&) { return galen::max_pool2d(x, 3, 2, 1); },
               [](bool bw) { return torch_peer::max_pool2d(8, 64, 112, 112, 3, 2, 1, bw); }});
  v.push_back({"avg_pool2x2_256x56x56_b8", 8, 256, 56, 56, 8 * 256 * 28 * 28,
               [](const galen::Tensor& x, const galen::Tensor&, const galen::Tensor&, galen::Tensor&,
                  galen::Tensor&) { return galen::avg_pool2d(x, 2, 2); },
               [](bool bw) { return torch_peer::avg_pool2d(8, 256, 56, 56, 2, 2, bw); }});
  v.push_back({"global_avg_pool_2048x7x7_b8", 8, 2048, 7, 7, 8 * 2048,
               [](const galen::Tensor& x, const galen::Tensor&, const galen::Tensor&, galen::Tensor&,
                  galen::Tensor&) { return galen::adaptive_avg_pool2d(x, 1); },
               [](bool bw) { return torch_peer::global_avg_pool(8, 2048, 7, 7, bw); }});
  return v;
}
}  // namespace

Bench bench_cnn_ops() {
  Bench b;
  b.name = "cnn_ops";
  b.description = "batch norm (+relu), max / avg / global-avg pooling at ResNet-50 / DenseNet-121 shapes, vs LibTorch";
  b.cases = [] {
    std::vector<Case> cases;
    for (const OpCase& oc : op_cases()) {
      for (bool backward : {false, true}) {
        Case c;
        c.name = oc.name + (backward ? "_fwd_bwd" : "_fwd");
        c.unit = Unit::GBytes;
        c.work = 4.0 * double(oc.N * oc.C * oc.H * oc.W + oc.out_numel) * (backward ? 3.0 : 1.0);
        c.setup = [oc, backward] {
          galen::manual_seed(0);
          galen::Tensor x = galen::randn({oc.N, oc.C, oc.H, oc.W});
          galen::Tensor w = galen::ones({oc.C}), bias = galen::zeros({oc.C});
          galen::Tensor rm = galen::zeros({oc.C}), rv = galen::ones({oc.C});
          if (backward) {
            x.requires_grad_();
            w.requires_grad_();
            bias.requires_grad_();
          }
          galen::Tensor g;
          {
            galen::autograd::NoGradGuard ng;
            g = galen::randn(oc.galen_fn(x, w, bias, rm, rv).sizes());
          }
          std::vector<Impl> impls;
          impls.push_back({"galen", false, [oc, x, w, bias, rm, rv, g, backward]() mutable {
                             galen::Tensor y = oc.galen_fn(x, w, bias, rm, rv);
                             if (backward) {
                               galen::mul(y, g).sum().backward();
                               x.zero_grad();
                               w.zero_grad();
                               bias.zero_grad();
                             }
                             do_not_optimize(y.data_ptr());
                           }, {}});
          if (auto peer = oc.torch_fn(backward)) impls.push_back({"libtorch", true, peer, {}});
          return impls;
        };
        cases.push_back(c);
      }
    }
    return cases;
  };
  return b;
}

static Register register_cnn_ops(52, bench_cnn_ops);

}  // namespace galen_bench
