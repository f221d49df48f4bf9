// BatchNorm1d / BatchNorm2d on top of galen::batch_norm, following
// torch.nn.modules.batchnorm._BatchNorm.forward for the momentum / tracking rules.
#include "galen/layers/batchnorm.h"

#include <sstream>

#include "galen/core/autograd.h"
#include "galen/core/checkpoint.h"
#include "galen/layers/init.h"

namespace galen::nn {

BatchNormBase::BatchNormBase(int64_t nf, double e, std::optional<double> m, bool aff, bool track)
    : num_features(nf), eps(e), momentum(m), affine(aff), track_running_stats(track) {
  GALEN_CHECK(nf > 0, "BatchNorm: num_features must be positive, got ", nf);
  if (affine) {
    weight = register_parameter("weight", ones({nf}));
    bias = register_parameter("bias", zeros({nf}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({nf}));
    running_var = register_buffer("running_var", ones({nf}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

void BatchNormBase::reset_running_stats() {
  if (!track_running_stats) return;
  NoGradGuard ng;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

Tensor BatchNormBase::forward(const Tensor& x) {
  check_input(x);
  GALEN_CHECK(x.size(1) == num_features, name(), "(", num_features, "): expected ", num_features,
              " channels in dim 1, got input shape ", x.sizes());
  double factor = momentum.value_or(0.0);
  // A checkpointed forward re-run in backward (core/checkpoint.h) must not count
  // the batch a second time: it normalises with the batch statistics as the
  // first run did, and leaves the running statistics alone.
  const bool recomputing = autograd::is_checkpoint_recomputing();
  if (is_training() && track_running_stats && !recomputing) {
    NoGradGuard ng;
    num_batches_tracked.add_(ones({}, DType::i64));
    if (!momentum) factor = 1.0 / static_cast<double>(num_batches_tracked.item());
  }
  // Batch statistics in training, or whenever no running statistics are kept.
  const bool use_batch = is_training() || !track_running_stats;
  const bool update = is_training() && track_running_stats && !recomputing;
  return batch_norm(x, update || !use_batch ? running_mean : Tensor(), update || !use_batch ? running_var : Tensor(),
                    weight, bias, use_batch, factor, eps);
}

std::string BatchNormBase::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << eps << ", momentum=";
  if (momentum) os << *momentum;
  else os << "None";
  os << ", affine=" << (affine ? "True" : "False")
     << ", track_running_stats=" << (track_running_stats ? "True" : "False");
  return os.str();
}

void BatchNorm1d::check_input(const Tensor& x) const {
  GALEN_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape ",
              x.sizes());
}

void BatchNorm2d::check_input(const Tensor& x) const {
  GALEN_CHECK(x.dim() == 4, "BatchNorm2d: expected a 4-D (N, C, H, W) input, got shape ", x.sizes());
}

}  // namespace galen::nn
