// ResNet (He et al. 2015) as torchvision builds it: BasicBlock (resnet18/34) and
// Bottleneck (resnet50/101/152, expansion 4, stride on the 3x3 conv2 — "ResNet
// v1.5"), the same member names (state_dict keys load torchvision checkpoints
// with no renaming: conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc, ...)
// and the same initialisation (kaiming_normal fan_out / relu for convolutions,
// BatchNorm weight 1 and bias 0, Linear's default for fc; zero_init_residual
// zeroes each block's last BatchNorm weight). Adaptive average pooling, so any
// input of at least 32x32 (any aspect ratio) works.
//
//   auto net = galen::zoo::resnet50({.num_classes = 2, .in_channels = 1});  // grayscale scans
//   net->replace_module("fc", std::make_shared<nn::Linear>(2048, 5));       // or a new head
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "galen/layers/layers.h"

namespace galen::zoo {

struct ResNetOptions {
  int64_t num_classes = 1000;
  // Input channels: 3 for RGB / ImageNet weights, 1 for grayscale scans.
  int64_t in_channels = 3;
  // Zero the last BatchNorm weight of every residual block, so each block starts as the identity.
  bool zero_init_residual = false;
  // ResNeXt / wide ResNet knobs (Bottleneck only), as torchvision's groups / width_per_group.
  int64_t groups = 1;
  int64_t width_per_group = 64;
};

// 3x3 convolution with padding 1, no bias (torchvision's conv3x3).
std::shared_ptr<nn::Conv2d> conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride = 1, int64_t groups = 1,
                                    int64_t dilation = 1);
// 1x1 convolution, no bias (torchvision's conv1x1).
std::shared_ptr<nn::Conv2d> conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride = 1);

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); both convolutions 3x3.
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  // downsample: the shortcut (conv1x1 + BatchNorm) when stride != 1 or the width changes; null = identity.
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1, std::shared_ptr<nn::Module> downsample = nullptr,
             int64_t groups = 1, int64_t base_width = 64);
  std::string name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;
  // The BatchNorm that zero_init_residual zeroes.
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn2; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Conv2d> conv2;
  std::shared_ptr<nn::BatchNorm2d> bn2;
  std::shared_ptr<nn::Module> downsample;  // null: identity shortcut
};

// 1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand (x4), each followed by BatchNorm, plus the shortcut.
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1, std::shared_ptr<nn::Module> downsample = nullptr,
             int64_t groups = 1, int64_t base_width = 64);
  std::string name() const override { return "Bottleneck"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn3; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Conv2d> conv2;
  std::shared_ptr<nn::BatchNorm2d> bn2;
  std::shared_ptr<nn::Conv2d> conv3;
  std::shared_ptr<nn::BatchNorm2d> bn3;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Module> downsample;
};

enum class ResNetBlock { Basic, Bottleneck };

// conv1 (7x7/2) -> bn1 -> relu -> maxpool (3x3/2) -> layer1..layer4 -> avgpool -> flatten -> fc.
class ResNet : public nn::Module {
 public:
  ResNet(ResNetBlock block, std::vector<int64_t> layers, const ResNetOptions& options = {});
  std::string name() const override { return "ResNet"; }
  // (N, in_channels, H, W) -> (N, num_classes) logits.
  Tensor forward(const Tensor& x) override;
  // The last convolutional feature map, layer4's output (N, 512 * expansion, H/32, W/32): Grad-CAM's usual target.
  Tensor forward_features(const Tensor& x);
  // Keeps `fc` (and the other members) pointing at a replaced child.
  void replace_module(const std::string& name, std::shared_ptr<nn::Module> m) override;
  // Channels entering fc (512 for resnet18/34, 2048 for resnet50/101/152).
  int64_t num_features() const { return num_features_; }
  ResNetBlock block() const { return block_; }
  const std::vector<int64_t>& layers() const { return layers_; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Module> fc;  // nn::Linear(num_features(), num_classes) unless replaced

 private:
  std::shared_ptr<nn::Sequential> make_layer(int64_t planes, int64_t blocks, int64_t stride);
  ResNetBlock block_;
  std::vector<int64_t> layers_;
  int64_t groups_, base_width_;
  int64_t inplanes_ = 64;
  int64_t num_features_ = 0;
};

std::shared_ptr<ResNet> resnet18(const ResNetOptions& options = {});
std::shared_ptr<ResNet> resnet34(const ResNetOptions& options = {});
std::shared_ptr<ResNet> resnet50(const ResNetOptions& options = {});
std::shared_ptr<ResNet> resnet101(const ResNetOptions& options = {});
std::shared_ptr<ResNet> resnet152(const ResNetOptions& options = {});
// Bottleneck variants: ResNeXt-50 32x4d (groups 32, width 4) and Wide ResNet-50-2 (width 128).
// groups / width_per_group in `options` are overridden.
std::shared_ptr<ResNet> resnext50_32x4d(ResNetOptions options = {});
std::shared_ptr<ResNet> wide_resnet50_2(ResNetOptions options = {});
// By name: "resnet18" ... "resnet152", "resnext50_32x4d", "wide_resnet50_2"; Error naming the choices otherwise.
std::shared_ptr<ResNet> resnet(const std::string& arch, const ResNetOptions& options = {});

}  // namespace galen::zoo
