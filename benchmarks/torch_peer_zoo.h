// The LibTorch peer of bench_zoo.cpp: ResNet-50 and DenseNet-121 written with
// LibTorch's C++ modules (there is no torchvision for C++), layer for layer as
// torchvision defines them, including its in-place ReLUs. Inline stubs when
// galen_bench is built without LibTorch (see torch_peer.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace galen_bench::torch_peer {

#ifdef GALEN_BENCH_HAVE_TORCH
// arch: "resnet50" or "densenet121" (1000 classes). One eval-mode forward of a
// (batch, 3, hw, hw) N(0,1) input under torch::NoGradGuard.
std::function<void()> zoo_infer(const std::string& arch, int64_t batch, int64_t hw);
// One training step: zero_grad, forward (train mode), cross entropy against
// fixed random labels, backward, SGD step (lr 0.01, momentum 0.9).
std::function<void()> zoo_train_step(const std::string& arch, int64_t batch, int64_t hw);
#else
inline std::function<void()> zoo_infer(const std::string&, int64_t, int64_t) { return {}; }
inline std::function<void()> zoo_train_step(const std::string&, int64_t, int64_t) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
