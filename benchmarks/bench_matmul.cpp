// matmul: f32 C(M,N) = A(M,K) B(K,N) on CPU tensors, galen::matmul against a
// direct cblas_sgemm (OpenBLAS, the same OpenMP pool) on the same buffers.
//   FLOPs per run = 2*M*N*K (one multiply and one add per inner-product term).
// Inputs are made once, outside the timing. galen's output tensor is allocated
// (and freed) inside every timed run: that is what a caller of galen::matmul
// pays. The peer writes into a buffer allocated once.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"

namespace galen_bench {

namespace {

struct Shape3 {
  std::string name;
  int64_t M, N, K;
};

std::vector<Shape3> shapes() {
  std::vector<Shape3> s;
  for (int64_t n : {256, 512, 1024, 2048})
    s.push_back({std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(n), n, n, n});
  // ResNet-50 layer1.0.conv3, the 1x1 conv that expands 64 -> 256 channels on
  // the 56x56 feature map, batch 1, as im2col-free GEMM:
  //   W (256 out-ch, 64 in-ch) . X (64 in-ch, 56*56 pixels) -> (256, 3136).
  // Short K and a wide N: the shape that stresses packing, not the FMA units.
  s.push_back({"r50.layer1.0.conv3:256x3136x64", 256, 56 * 56, 64});
  return s;
}

// Largest |galen - openblas| relative to the largest |openblas|: a sanity
// check that both sides compute the same product before they are timed.
void check_same(const galen::Tensor& got, const std::vector<float>& want, const std::string& name) {
  const float* g = got.data<float>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(double(g[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  if (err > 1e-4 * std::max(scale, 1.0))
    note("matmul/" + name + ": WARNING galen and cblas_sgemm differ: max abs err " +
         std::to_string(err) + " (scale " + std::to_string(scale) + ")");
}

}  // namespace

Bench bench_matmul() {
  Bench b;
  b.name = "matmul";
  b.description = "f32 CPU GEMM, galen::matmul vs cblas_sgemm (GFLOP/s = 2MNK/t); case MxNxK";
  b.cases = [] {
    std::vector<Case> cases;
    for (const Shape3& sh : shapes()) {
      Case c;
      c.name = sh.name;
      c.unit = Unit::GFlops;
      c.work = 2.0 * double(sh.M) * double(sh.N) * double(sh.K);
      c.setup = [sh] {
        galen::manual_seed(0);
        galen::Tensor a = galen::randn({sh.M, sh.K});
        galen::Tensor bm = galen::randn({sh.K, sh.N});
        auto out = std::make_shared<std::vector<float>>(size_t(sh.M * sh.N));
        auto sgemm = [a, bm, out, sh] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(sh.M), int(sh.N), int(sh.K),
                      1.0f, a.data<float>(), int(sh.K), bm.data<float>(), int(sh.N), 0.0f,
                      out->data(), int(sh.N));
          do_not_optimize(out->data());
        };
        sgemm();
        check_same(galen::matmul(a, bm), *out, sh.name);

        Impl g{"galen", false, [a, bm] {
                 galen::Tensor c = galen::matmul(a, bm);
                 do_not_optimize(c.data_ptr());
               }, {}};
        Impl p{"openblas", true, sgemm, {}};
        return std::vector<Impl>{g, p};
      };
      cases.push_back(std::move(c));
    }
    return cases;
  };
  return b;
}

static Register register_matmul(10, bench_matmul);

}  // namespace galen_bench
