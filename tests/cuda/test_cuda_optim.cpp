// Fused optimizer kernels on CUDA against the reference, and Adam on CUDA
// tensors against Adam on CPU tensors.
#include <cmath>

#include "galen/kernels/backend.h"
#include "galen/optim/adam.h"
#include "test_util.h"

using namespace galen;

TEST_CASE("cuda adam_step matches the CPU optimizer step for step", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (bool amsgrad : {false, true}) {
    manual_seed(5);
    Tensor p = randn({3001}), g = randn({3001});
    Tensor pc = p.clone(), pg = p.cuda();
    optim::AdamOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.1;
    o.amsgrad = amsgrad;
    optim::Adam oc({pc}, o), og({pg}, o);
    for (int step = 0; step < 5; ++step) {
      pc.set_grad(g * (step + 1.0));
      pg.set_grad((g * (step + 1.0)).cuda());
      oc.step();
      og.step();
    }
    INFO("amsgrad " << amsgrad);
    // nvcc may fuse multiply-adds that the host rounds twice: f32 ulp-level differences.
    REQUIRE_CLOSE(pg, pc, 1e-6, 1e-5);
  }
}
