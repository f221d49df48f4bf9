// The benchmark table: one factory per bench file, listed in main.cpp.
#pragma once

#include "harness.h"

namespace galen_bench {

Bench bench_matmul();
Bench bench_add();
Bench bench_relu();
Bench bench_autograd_overhead();
Bench bench_conv2d();
Bench bench_mnist_mlp_epoch();
Bench bench_matmul_cuda();
Bench bench_add_cuda();

}  // namespace galen_bench
