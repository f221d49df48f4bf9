// The LibTorch peer, behind a torch-free interface: only torch_peer.cpp sees
// <torch/torch.h>, and it is compiled into its own small library when CMake
// finds LibTorch (GALEN_BENCH_HAVE_TORCH). Without it the inline stubs below
// report that no peer exists, so the bench files need no #ifdefs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace galen_bench::torch_peer {

#ifdef GALEN_BENCH_HAVE_TORCH
inline constexpr bool kBuilt = true;
std::string version();
// torch::set_num_threads (intra-op pool; OpenMP in the Debian build).
void set_num_threads(int n);
bool cuda_available();
// The autograd_overhead chain on a (numel) f32 leaf: n_ops alternating
// y*1.0001 / y+0.001, sum, backward, then the leaf's grad is dropped.
std::function<void()> autograd_chain(int n_ops, int64_t numel);
// One torch::matmul of (M,K)x(K,N) f32 CUDA tensors, synchronized.
std::function<void()> cuda_matmul(int64_t M, int64_t N, int64_t K);
// One training epoch of the MNIST tutorial MLP (Flatten, Linear(784,128), ReLU,
// Linear(128,10), cross entropy, Adam lr 1e-3) over n images (n,784) f32 and
// labels (n) i64 given as host arrays (copied once), in batches of `batch`.
std::function<void()> mnist_mlp_epoch(const float* images, const int64_t* labels, int64_t n, int64_t batch);
// conv2d (N,C,H,W) with OC filters k x k, stride, padding; forward only or
// forward + backward (input and weight gradients) of sum(out).
std::function<void()> conv2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride,
                             int64_t pad, bool backward);
#else
inline constexpr bool kBuilt = false;
inline std::string version() { return ""; }
inline void set_num_threads(int) {}
inline bool cuda_available() { return false; }
inline std::function<void()> autograd_chain(int, int64_t) { return {}; }
inline std::function<void()> cuda_matmul(int64_t, int64_t, int64_t) { return {}; }
inline std::function<void()> mnist_mlp_epoch(const float*, const int64_t*, int64_t, int64_t) { return {}; }
inline std::function<void()> conv2d(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool) {
  return {};
}
#endif

}  // namespace galen_bench::torch_peer
