// DenseNet (Huang et al. 2017) as torchvision builds it: DenseLayer (BN-ReLU-1x1
// conv to bn_size*growth channels, BN-ReLU-3x3 conv to growth channels, dropout),
// DenseBlock, Transition (BN-ReLU-1x1 conv halving the channels, 2x2 average
// pool), all under `features` with torchvision's names (features.conv0,
// features.denseblock1.denselayer1.norm1, features.transition1.conv,
// features.norm5) and a Linear `classifier`, so torchvision state_dicts load as
// they are. Initialisation as torchvision: kaiming_normal (fan_in) convolutions,
// BatchNorm weight 1 / bias 0, classifier bias 0.
//
// memory_efficient (torchvision's option): each DenseLayer's concatenation ->
// norm1 -> relu1 -> conv1 goes through autograd::checkpoint, so the
// concatenated input and its normalised copy — the bulk of DenseNet's training
// memory, quadratic in the block depth — are recomputed in backward instead of
// stored. Same results and gradients; BatchNorm running statistics are updated
// once per forward.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "galen/layers/layers.h"

namespace galen::zoo {

// A Sequential whose children have names ("conv0", "norm0", ...), as an
// nn.Sequential built from an OrderedDict: forward chains them in order.
class NamedSequential : public nn::Module {
 public:
  std::string name() const override { return "Sequential"; }
  template <typename M>
  std::shared_ptr<M> add(const std::string& child_name, std::shared_ptr<M> m) {
    return register_module(child_name, std::move(m));
  }
  Tensor forward(const Tensor& x) override;
};

class DenseLayer : public nn::Module {
 public:
  DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size, double drop_rate,
             bool memory_efficient = false);
  std::string name() const override { return "_DenseLayer"; }
  // The block's feature maps so far, concatenated along channels -> growth_rate new channels.
  Tensor forward(const std::vector<Tensor>& prev_features);
  Tensor forward(const Tensor& x) override { return forward(std::vector<Tensor>{x}); }
  // cat -> norm1 -> relu1 -> conv1 (the part memory_efficient recomputes).
  Tensor bottleneck(const std::vector<Tensor>& prev_features);

  std::shared_ptr<nn::BatchNorm2d> norm1;
  std::shared_ptr<nn::ReLU> relu1;
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> norm2;
  std::shared_ptr<nn::ReLU> relu2;
  std::shared_ptr<nn::Conv2d> conv2;
  double drop_rate;
  bool memory_efficient;

 protected:
  std::string extra_repr() const override;
};

// Layers "denselayer1".."denselayerN"; output = input and every layer's new maps, concatenated.
class DenseBlock : public nn::Module {
 public:
  DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size, int64_t growth_rate, double drop_rate,
             bool memory_efficient = false);
  std::string name() const override { return "_DenseBlock"; }
  Tensor forward(const Tensor& x) override;
  std::vector<std::shared_ptr<DenseLayer>> layers;
};

// norm -> relu -> conv (1x1) -> pool (2x2 average).
class Transition : public NamedSequential {
 public:
  Transition(int64_t num_input_features, int64_t num_output_features);
  std::string name() const override { return "_Transition"; }
};

struct DenseNetOptions {
  // Architecture (the densenet121/169/201/161 factories set these three).
  int64_t growth_rate = 32;
  std::vector<int64_t> block_config = {6, 12, 24, 16};
  int64_t num_init_features = 64;
  // Width of the 1x1 bottleneck, in multiples of growth_rate.
  int64_t bn_size = 4;
  // Dropout after each DenseLayer (training only).
  double drop_rate = 0.0;
  int64_t num_classes = 1000;
  int64_t in_channels = 3;  // 1 for grayscale scans
  bool memory_efficient = false;
};

class DenseNet : public nn::Module {
 public:
  explicit DenseNet(const DenseNetOptions& options = {});
  std::string name() const override { return "DenseNet"; }
  // (N, in_channels, H, W) -> (N, num_classes) logits.
  Tensor forward(const Tensor& x) override;
  // features(x): the last feature map after norm5, before the final ReLU
  // (N, num_features(), H/32, W/32).
  Tensor forward_features(const Tensor& x);
  void replace_module(const std::string& name, std::shared_ptr<nn::Module> m) override;
  // Switches checkpointing of every DenseLayer on or off (the weights are unchanged).
  void set_memory_efficient(bool on);
  int64_t num_features() const { return num_features_; }
  const DenseNetOptions& options() const { return options_; }

  std::shared_ptr<NamedSequential> features;
  std::shared_ptr<nn::Module> classifier;  // nn::Linear(num_features(), num_classes) unless replaced

 private:
  DenseNetOptions options_;
  int64_t num_features_ = 0;
};

// The torchvision architectures; the growth rate, block config and initial width
// in `options` are overridden, the rest (num_classes, in_channels, drop_rate,
// bn_size, memory_efficient) is used.
std::shared_ptr<DenseNet> densenet121(DenseNetOptions options = {});
std::shared_ptr<DenseNet> densenet169(DenseNetOptions options = {});
std::shared_ptr<DenseNet> densenet201(DenseNetOptions options = {});
std::shared_ptr<DenseNet> densenet161(DenseNetOptions options = {});
// By name ("densenet121", ...); Error naming the choices otherwise.
std::shared_ptr<DenseNet> densenet(const std::string& arch, DenseNetOptions options = {});

}  // namespace galen::zoo
