// matmul_cuda: f32 C(M,N) = A(M,K) B(K,N) on CUDA tensors through galen::matmul,
// once per CUDA gemm variant ("cublas" -> impl galen-cublas, "tiled" -> impl
// galen-tiled, chosen with kernels::backend(CUDA).set_variant("gemm", ...)),
// against torch::matmul on CUDA when LibTorch has CUDA.
//   FLOPs per run = 2*M*N*K.
// Each run ends with a device synchronize, so the timer sees the kernel finish.
// galen's output allocation is inside the run (the CUDA caching allocator's
// cost, as a caller pays it). Skipped, with a message, when no GPU is usable.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/device.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"
#include "galen/kernels/backend.h"
#include "torch_peer.h"

namespace galen_bench {

namespace {

struct Shape3 {
  std::string name;
  int64_t M, N, K;
};

std::vector<Shape3> shapes() {
  std::vector<Shape3> s;
  for (int64_t n : {1024, 2048, 4096})
    s.push_back({std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(n), n, n, n});
  // ResNet-50 layer1.0.conv3 (1x1, 64 -> 256 channels, 56x56, batch 1); see bench_matmul.cpp.
  s.push_back({"r50.layer1.0.conv3:256x3136x64", 256, 56 * 56, 64});
  return s;
}

// Puts the CUDA gemm variant back as it was when the case's impls go away.
struct VariantRestore {
  std::string saved;
  VariantRestore() : saved(galen::kernels::backend(galen::DeviceType::CUDA).variant("gemm")) {}
  ~VariantRestore() {
    if (!saved.empty()) galen::kernels::backend(galen::DeviceType::CUDA).set_variant("gemm", saved);
  }
};

}  // namespace

Bench bench_matmul_cuda() {
  Bench b;
  b.name = "matmul_cuda";
  b.description = "f32 CUDA GEMM, galen cublas/tiled variants vs torch::matmul (GFLOP/s = 2MNK/t)";
  b.skip_reason = []() -> std::string {
    if (!galen::cuda_is_available())
      return "no CUDA device (galen built without CUDA, or no GPU visible)";
    return "";
  };
  b.cases = [] {
    std::vector<Case> cases;
    for (const Shape3& sh : shapes()) {
      Case c;
      c.name = sh.name;
      c.unit = Unit::GFlops;
      c.work = 2.0 * double(sh.M) * double(sh.N) * double(sh.K);
      c.setup = [sh] {
        using galen::kernels::backend;
        const galen::Device dev{galen::DeviceType::CUDA, 0};
        galen::manual_seed(0);
        galen::Tensor a = galen::randn({sh.M, sh.K}, dev);
        galen::Tensor bm = galen::randn({sh.K, sh.N}, dev);
        auto restore = std::make_shared<VariantRestore>();
        const std::vector<std::string> have = backend(galen::DeviceType::CUDA).variants("gemm");

        std::vector<Impl> impls;
        std::vector<std::vector<float>> results;
        for (const char* v : {"cublas", "tiled"}) {
          if (std::find(have.begin(), have.end(), v) == have.end()) {
            note("matmul_cuda: no CUDA gemm variant '" + std::string(v) + "', skipped");
            continue;
          }
          const std::string var = v;
          auto select = [var] {
            galen::kernels::backend(galen::DeviceType::CUDA).set_variant("gemm", var);
          };
          select();
          results.push_back(galen::matmul(a, bm).to_vector<float>());
          impls.push_back({"galen-" + var, false, [a, bm, restore] {
                             galen::Tensor c = galen::matmul(a, bm);
                             galen::kernels::backend(galen::DeviceType::CUDA).synchronize(0);
                             do_not_optimize(c.data_ptr());
                           }, select});
        }
        // The variants must agree before their speeds are compared.
        for (size_t r = 1; r < results.size(); ++r) {
          double err = 0, scale = 0;
          for (size_t i = 0; i < results[0].size(); ++i) {
            err = std::max(err, double(std::abs(results[r][i] - results[0][i])));
            scale = std::max(scale, double(std::abs(results[0][i])));
          }
          if (err > 1e-3 * std::max(scale, 1.0))
            note("matmul_cuda/" + sh.name + ": WARNING " + impls[r].name + " differs from " +
                 impls[0].name + ": max abs err " + std::to_string(err));
        }
        if (torch_peer::cuda_available())
          impls.push_back({"libtorch-cuda", true, torch_peer::cuda_matmul(sh.M, sh.N, sh.K), {}});
        else
          note(std::string("matmul_cuda: no LibTorch CUDA peer (") +
               (torch_peer::kBuilt ? "LibTorch has no CUDA here" : "built without LibTorch") + ")");
        return impls;
      };
      cases.push_back(std::move(c));
    }
    return cases;
  };
  return b;
}

static Register register_matmul_cuda(900, bench_matmul_cuda);

}  // namespace galen_bench
