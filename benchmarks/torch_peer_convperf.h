// LibTorch peers of the CNN building blocks other than conv2d (bench_cnn_ops.cpp):
// batch norm in training mode, max / avg / adaptive-avg pooling. Same pattern as
// torch_peer.h: real declarations when LibTorch is built in, stubs otherwise.
#pragma once

#include <cstdint>
#include <functional>

namespace galen_bench::torch_peer {

#ifdef GALEN_BENCH_HAVE_TORCH
// Training-mode batch_norm of (N,C,H,W) f32 with affine weight/bias and running
// statistics; with backward: sum(out * g) backward (input, weight, bias grads).
std::function<void()> batch_norm_train(int64_t N, int64_t C, int64_t H, int64_t W, bool backward);
// relu(batch_norm(x)) the same way (the ResNet BN-ReLU pair).
std::function<void()> batch_norm_relu_train(int64_t N, int64_t C, int64_t H, int64_t W, bool backward);
// max_pool2d (k, s, p) / avg_pool2d (k, s, 0) / adaptive_avg_pool2d to 1x1.
std::function<void()> max_pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, int64_t p,
                                 bool backward);
std::function<void()> avg_pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, bool backward);
std::function<void()> global_avg_pool(int64_t N, int64_t C, int64_t H, int64_t W, bool backward);
#else
inline std::function<void()> batch_norm_train(int64_t, int64_t, int64_t, int64_t, bool) { return {}; }
inline std::function<void()> batch_norm_relu_train(int64_t, int64_t, int64_t, int64_t, bool) { return {}; }
inline std::function<void()> max_pool2d(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool) {
  return {};
}
inline std::function<void()> avg_pool2d(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool) { return {}; }
inline std::function<void()> global_avg_pool(int64_t, int64_t, int64_t, int64_t, bool) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
