// add_cuda: out = a + b on 16M contiguous f32 CUDA tensors, against a
// device-to-device copy (the backend's copy_device, a cudaMemcpy) moving the
// same number of bytes.
//   bytes per run = 3 * 16M * 4: read a, read b, write out.
// The peer copies 1.5 * 16M floats, i.e. the same 3*16M*4 bytes of traffic.
// Each run ends with a device synchronize. Skipped when no GPU is usable.
#include <memory>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/device.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"
#include "galen/kernels/backend.h"

namespace galen_bench {

namespace {
constexpr int64_t kN = int64_t{16} << 20;  // 16M elements
}

Bench bench_add_cuda() {
  Bench b;
  b.name = "add_cuda";
  b.description = "galen::add on 16M f32 CUDA vs device copy of equal traffic (GB/s = 3*n*4/t)";
  b.skip_reason = []() -> std::string {
    if (!galen::cuda_is_available())
      return "no CUDA device (galen built without CUDA, or no GPU visible)";
    return "";
  };
  b.cases = [] {
    Case c;
    c.name = "16M_f32";
    c.unit = Unit::GBytes;
    c.work = 3.0 * double(kN) * sizeof(float);
    c.setup = [] {
      const galen::Device dev{galen::DeviceType::CUDA, 0};
      galen::manual_seed(0);
      galen::Tensor x = galen::randn({kN}, dev);
      galen::Tensor y = galen::randn({kN}, dev);
      galen::Tensor src = galen::ones({kN * 3 / 2}, dev);
      galen::Tensor dst = galen::zeros({kN * 3 / 2}, dev);
      const size_t nbytes = size_t(kN * 3 / 2) * sizeof(float);
      Impl g{"galen", false, [x, y] {
               galen::Tensor z = galen::add(x, y);
               galen::kernels::backend(galen::DeviceType::CUDA).synchronize(0);
               do_not_optimize(z.data_ptr());
             }, {}};
      Impl p{"copy_device", true, [src, dst, nbytes] {
               auto& be = galen::kernels::backend(galen::DeviceType::CUDA);
               be.copy_device(dst.data_ptr(), src.data_ptr(), nbytes, 0);
               be.synchronize(0);
             }, {}};
      return std::vector<Impl>{g, p};
    };
    return std::vector<Case>{c};
  };
  return b;
}

static Register register_add_cuda(910, bench_add_cuda);

}  // namespace galen_bench
