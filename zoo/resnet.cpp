// ResNet family, following the structure of torchvision.models.resnet (see resnet.h).
#include "galen/zoo/resnet.h"

#include <sstream>

#include "galen/core/error.h"

namespace galen::zoo {

std::shared_ptr<nn::Conv2d> conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride, int64_t groups,
                                    int64_t dilation) {
  return std::make_shared<nn::Conv2d>(in_planes, out_planes, 3, stride, dilation, dilation, groups, /*bias=*/false);
}

std::shared_ptr<nn::Conv2d> conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return std::make_shared<nn::Conv2d>(in_planes, out_planes, 1, stride, 0, 1, 1, /*bias=*/false);
}

// ---- blocks ---------------------------------------------------------------------------

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds,
                       int64_t groups, int64_t base_width) {
  GALEN_CHECK(groups == 1 && base_width == 64, "BasicBlock: only supports groups=1 and base_width=64, got groups=",
              groups, ", base_width=", base_width);
  conv1 = register_module("conv1", conv3x3(inplanes, planes, stride));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  const Tensor identity = downsample ? downsample->forward(x) : x;
  return relu->forward(out + identity);
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds,
                       int64_t groups, int64_t base_width) {
  GALEN_CHECK(groups >= 1 && base_width >= 1, "Bottleneck: groups and base_width must be positive, got groups=",
              groups, ", base_width=", base_width);
  // torchvision: width = int(planes * (base_width / 64.)) * groups.
  const int64_t width = planes * base_width / 64 * groups;
  conv1 = register_module("conv1", conv1x1(inplanes, width));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(width));
  conv2 = register_module("conv2", conv3x3(width, width, stride, groups));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(width));
  conv3 = register_module("conv3", conv1x1(width, planes * kExpansion));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * kExpansion));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = relu->forward(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  const Tensor identity = downsample ? downsample->forward(x) : x;
  return relu->forward(out + identity);
}

// ---- the network ------------------------------------------------------------------------

namespace {
int64_t expansion(ResNetBlock b) { return b == ResNetBlock::Basic ? BasicBlock::kExpansion : Bottleneck::kExpansion; }
}  // namespace

ResNet::ResNet(ResNetBlock block, std::vector<int64_t> layers, const ResNetOptions& o)
    : block_(block), layers_(std::move(layers)), groups_(o.groups), base_width_(o.width_per_group) {
  GALEN_CHECK(layers_.size() == 4, "ResNet: expected 4 stage depths, got ", layers_.size());
  for (int64_t n : layers_) GALEN_CHECK(n >= 1, "ResNet: every stage needs at least one block, got ", n);
  GALEN_CHECK(o.num_classes >= 1, "ResNet: num_classes must be positive, got ", o.num_classes);
  GALEN_CHECK(o.in_channels >= 1, "ResNet: in_channels must be positive, got ", o.in_channels);
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(o.in_channels, inplanes_, 7, 2, 3, 1, 1, false));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(inplanes_));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(3, 2, 1));
  layer1 = register_module("layer1", make_layer(64, layers_[0], 1));
  layer2 = register_module("layer2", make_layer(128, layers_[1], 2));
  layer3 = register_module("layer3", make_layer(256, layers_[2], 2));
  layer4 = register_module("layer4", make_layer(512, layers_[3], 2));
  avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(Int2(1, 1)));
  num_features_ = 512 * expansion(block_);
  fc = register_module("fc", std::make_shared<nn::Linear>(num_features_, o.num_classes));

  // torchvision's initialisation; fc keeps Linear's default.
  apply([](nn::Module& m) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&m)) {
      nn::init::kaiming_normal_(conv->weight, 0.0, "fan_out", "relu");
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m)) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  });
  if (o.zero_init_residual) {
    apply([](nn::Module& m) {
      if (auto* b = dynamic_cast<Bottleneck*>(&m)) nn::init::zeros_(b->last_bn()->weight);
      else if (auto* b2 = dynamic_cast<BasicBlock*>(&m)) nn::init::zeros_(b2->last_bn()->weight);
    });
  }
}

std::shared_ptr<nn::Sequential> ResNet::make_layer(int64_t planes, int64_t blocks, int64_t stride) {
  const int64_t exp = expansion(block_);
  std::shared_ptr<nn::Module> ds;
  if (stride != 1 || inplanes_ != planes * exp) {
    ds = std::make_shared<nn::Sequential>(nn::Sequential::List{conv1x1(inplanes_, planes * exp, stride),
                                                               std::make_shared<nn::BatchNorm2d>(planes * exp)});
  }
  auto make = [&](int64_t in, int64_t s, std::shared_ptr<nn::Module> d) -> std::shared_ptr<nn::Module> {
    if (block_ == ResNetBlock::Basic) return std::make_shared<BasicBlock>(in, planes, s, d, groups_, base_width_);
    return std::make_shared<Bottleneck>(in, planes, s, d, groups_, base_width_);
  };
  auto seq = std::make_shared<nn::Sequential>();
  seq->push_back(make(inplanes_, stride, ds));
  inplanes_ = planes * exp;
  for (int64_t i = 1; i < blocks; ++i) seq->push_back(make(inplanes_, 1, nullptr));
  return seq;
}

Tensor ResNet::forward_features(const Tensor& x) {
  GALEN_CHECK(x.dim() == 4, "ResNet: expected a 4-D input (N, C, H, W), got shape ", x.sizes());
  GALEN_CHECK(x.size(1) == conv1->in_channels, "ResNet: expected ", conv1->in_channels,
              " input channels (ResNetOptions::in_channels), got input shape ", x.sizes());
  // Children run through operator() so forward hooks (Grad-CAM on "layer4", ...) see them.
  Tensor y = (*maxpool)((*relu)((*bn1)((*conv1)(x))));
  y = (*layer1)(y);
  y = (*layer2)(y);
  y = (*layer3)(y);
  return (*layer4)(y);
}

Tensor ResNet::forward(const Tensor& x) {
  return (*fc)((*avgpool)(forward_features(x)).flatten(1));
}

void ResNet::replace_module(const std::string& n, std::shared_ptr<nn::Module> m) {
  Module::replace_module(n, m);
  // The typed members other than fc are rarely replaced; keep them in step when the type fits.
  if (n == "fc") fc = m;
  else if (n == "conv1") conv1 = std::dynamic_pointer_cast<nn::Conv2d>(m);
  else if (n == "bn1") bn1 = std::dynamic_pointer_cast<nn::BatchNorm2d>(m);
  else if (n == "relu") relu = std::dynamic_pointer_cast<nn::ReLU>(m);
  else if (n == "maxpool") maxpool = std::dynamic_pointer_cast<nn::MaxPool2d>(m);
  else if (n == "avgpool") avgpool = std::dynamic_pointer_cast<nn::AdaptiveAvgPool2d>(m);
  else if (n == "layer1") layer1 = std::dynamic_pointer_cast<nn::Sequential>(m);
  else if (n == "layer2") layer2 = std::dynamic_pointer_cast<nn::Sequential>(m);
  else if (n == "layer3") layer3 = std::dynamic_pointer_cast<nn::Sequential>(m);
  else if (n == "layer4") layer4 = std::dynamic_pointer_cast<nn::Sequential>(m);
}

// ---- factories -------------------------------------------------------------------------

std::shared_ptr<ResNet> resnet18(const ResNetOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::Basic, std::vector<int64_t>{2, 2, 2, 2}, o);
}
std::shared_ptr<ResNet> resnet34(const ResNetOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::Basic, std::vector<int64_t>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet50(const ResNetOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, std::vector<int64_t>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet101(const ResNetOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, std::vector<int64_t>{3, 4, 23, 3}, o);
}
std::shared_ptr<ResNet> resnet152(const ResNetOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, std::vector<int64_t>{3, 8, 36, 3}, o);
}
std::shared_ptr<ResNet> resnext50_32x4d(ResNetOptions o) {
  o.groups = 32;
  o.width_per_group = 4;
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, std::vector<int64_t>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> wide_resnet50_2(ResNetOptions o) {
  o.groups = 1;
  o.width_per_group = 128;
  return std::make_shared<ResNet>(ResNetBlock::Bottleneck, std::vector<int64_t>{3, 4, 6, 3}, o);
}

std::shared_ptr<ResNet> resnet(const std::string& arch, const ResNetOptions& o) {
  if (arch == "resnet18") return resnet18(o);
  if (arch == "resnet34") return resnet34(o);
  if (arch == "resnet50") return resnet50(o);
  if (arch == "resnet101") return resnet101(o);
  if (arch == "resnet152") return resnet152(o);
  if (arch == "resnext50_32x4d") return resnext50_32x4d(o);
  if (arch == "wide_resnet50_2") return wide_resnet50_2(o);
  GALEN_FAIL("resnet: unknown architecture \"", arch,
             "\" (choose resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, wide_resnet50_2)");
}

}  // namespace galen::zoo
