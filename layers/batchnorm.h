// BatchNorm1d / BatchNorm2d, as torch.nn: parameters weight / bias (affine) and
// buffers running_mean, running_var, num_batches_tracked (i64), so state_dict
// keys equal PyTorch's.
#pragma once

#include <optional>

#include "galen/core/ops.h"
#include "galen/layers/module.h"

namespace galen::nn {

// Shared implementation; `expected_dims` lists the input ranks the subclass accepts.
class BatchNormBase : public Module {
 public:
  // momentum nullopt = cumulative moving average (1 / num_batches_tracked), as PyTorch's None.
  BatchNormBase(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                bool track_running_stats);
  Tensor forward(const Tensor& x) override;
  void reset_running_stats();
  void reset_parameters();

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;                                         // undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;       // undefined unless tracking

 protected:
  virtual void check_input(const Tensor& x) const = 0;
  std::string extra_repr() const override;
};

// Input (N, C) or (N, C, L).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats) {}
  std::string name() const override { return "BatchNorm1d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

// Input (N, C, H, W).
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats) {}
  std::string name() const override { return "BatchNorm2d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

}  // namespace galen::nn
