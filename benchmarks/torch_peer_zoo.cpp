// LibTorch ResNet-50 and DenseNet-121 for bench_zoo.cpp (see torch_peer_zoo.h).
// Written from the architecture (He et al.; Huang et al.) and torchvision's
// layer layout; weights keep LibTorch's default initialisation, which does not
// change the work done.
#include "torch_peer_zoo.h"

#include <torch/torch.h>

#include <stdexcept>

namespace galen_bench::torch_peer {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

// ---- ResNet-50 ------------------------------------------------------------------------------

struct BottleneckImpl : nn::Module {
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, bool ds) {
    conv1 = register_module("conv1", conv(inplanes, planes, 1));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    conv3 = register_module("conv3", conv(planes, planes * 4, 1));
    bn3 = register_module("bn3", nn::BatchNorm2d(planes * 4));
    if (ds) downsample = register_module("downsample", nn::Sequential(conv(inplanes, planes * 4, 1, stride),
                                                                      nn::BatchNorm2d(planes * 4)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out)).relu_();
    out = bn3(conv3(out));
    out += downsample.is_empty() ? x : downsample->forward(x);
    return out.relu_();
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

struct ResNet50Impl : nn::Module {
  ResNet50Impl() {
    conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1 = register_module("bn1", nn::BatchNorm2d(64));
    const int64_t depth[4] = {3, 4, 6, 3};
    int64_t inplanes = 64;
    for (int i = 0; i < 4; ++i) {
      const int64_t planes = 64 << i;
      nn::Sequential layer;
      for (int64_t b = 0; b < depth[i]; ++b) {
        const int64_t stride = (b == 0 && i > 0) ? 2 : 1;
        layer->push_back(Bottleneck(inplanes, planes, stride, b == 0));
        inplanes = planes * 4;
      }
      layers[i] = register_module("layer" + std::to_string(i + 1), layer);
    }
    fc = register_module("fc", nn::Linear(2048, 1000));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::max_pool2d(bn1(conv1(x)).relu_(), 3, 2, 1);
    for (auto& l : layers) y = l->forward(y);
    return fc(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  nn::Sequential layers[4] = {nullptr, nullptr, nullptr, nullptr};
  nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet50);

// ---- DenseNet-121 -----------------------------------------------------------------------------

struct DenseLayerImpl : nn::Module {
  DenseLayerImpl(int64_t in, int64_t growth, int64_t bn_size) {
    norm1 = register_module("norm1", nn::BatchNorm2d(in));
    conv1 = register_module("conv1", conv(in, bn_size * growth, 1));
    norm2 = register_module("norm2", nn::BatchNorm2d(bn_size * growth));
    conv2 = register_module("conv2", conv(bn_size * growth, growth, 3, 1, 1));
  }
  torch::Tensor forward(const std::vector<torch::Tensor>& prev) {
    torch::Tensor b = conv1(norm1(torch::cat(prev, 1)).relu_());
    return conv2(norm2(b).relu_());
  }
  nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

struct DenseNet121Impl : nn::Module {
  DenseNet121Impl() {
    conv0 = register_module("conv0", conv(3, 64, 7, 2, 3));
    norm0 = register_module("norm0", nn::BatchNorm2d(64));
    const int64_t config[4] = {6, 12, 24, 16};
    int64_t n = 64;
    for (int i = 0; i < 4; ++i) {
      nn::ModuleList block;
      for (int64_t l = 0; l < config[i]; ++l) block->push_back(DenseLayer(n + l * 32, 32, 4));
      blocks.push_back(register_module("denseblock" + std::to_string(i + 1), block));
      n += config[i] * 32;
      if (i < 3) {
        trans_norm.push_back(register_module("transition" + std::to_string(i + 1) + "_norm", nn::BatchNorm2d(n)));
        trans_conv.push_back(register_module("transition" + std::to_string(i + 1) + "_conv", conv(n, n / 2, 1)));
        n /= 2;
      }
    }
    norm5 = register_module("norm5", nn::BatchNorm2d(n));
    classifier = register_module("classifier", nn::Linear(n, 1000));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::max_pool2d(norm0(conv0(x)).relu_(), 3, 2, 1);
    for (size_t i = 0; i < blocks.size(); ++i) {
      std::vector<torch::Tensor> maps{y};
      for (const auto& m : *blocks[i]) maps.push_back(m->as<DenseLayerImpl>()->forward(maps));
      y = torch::cat(maps, 1);
      if (i < trans_norm.size()) y = torch::avg_pool2d(trans_conv[i](trans_norm[i](y).relu_()), 2, 2);
    }
    y = torch::relu(norm5(y));
    return classifier(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }
  nn::Conv2d conv0{nullptr};
  nn::BatchNorm2d norm0{nullptr}, norm5{nullptr};
  std::vector<nn::ModuleList> blocks;
  std::vector<nn::BatchNorm2d> trans_norm;
  std::vector<nn::Conv2d> trans_conv;
  nn::Linear classifier{nullptr};
};
TORCH_MODULE(DenseNet121);

// Type-erased model: forward plus the module for train()/eval()/parameters().
struct Model {
  std::shared_ptr<nn::Module> module;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

Model make(const std::string& arch) {
  if (arch == "resnet50") {
    ResNet50 m;
    return {m.ptr(), [m](const torch::Tensor& x) mutable { return m->forward(x); }};
  }
  if (arch == "densenet121") {
    DenseNet121 m;
    return {m.ptr(), [m](const torch::Tensor& x) mutable { return m->forward(x); }};
  }
  throw std::invalid_argument("torch_peer_zoo: unknown arch " + arch);
}

}  // namespace

std::function<void()> zoo_infer(const std::string& arch, int64_t batch, int64_t hw) {
  Model m = make(arch);
  m.module->eval();
  torch::Tensor x = torch::randn({batch, 3, hw, hw});
  return [m, x]() {
    torch::NoGradGuard ng;
    torch::Tensor y = m.forward(x);
    (void)y;
  };
}

std::function<void()> zoo_train_step(const std::string& arch, int64_t batch, int64_t hw) {
  Model m = make(arch);
  m.module->train();
  auto opt = std::make_shared<torch::optim::SGD>(m.module->parameters(),
                                                 torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::Tensor x = torch::randn({batch, 3, hw, hw});
  torch::Tensor y = torch::randint(0, 1000, {batch}, torch::kInt64);
  return [m, opt, x, y]() {
    opt->zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(m.forward(x), y);
    loss.backward();
    opt->step();
  };
}

}  // namespace galen_bench::torch_peer
