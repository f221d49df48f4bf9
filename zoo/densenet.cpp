// DenseNet family, following the structure of torchvision.models.densenet (see densenet.h).
#include "galen/zoo/densenet.h"

#include <sstream>

#include "galen/core/autograd.h"
#include "galen/core/checkpoint.h"
#include "galen/core/error.h"

namespace galen::zoo {

Tensor NamedSequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [k, m] : children_list()) y = (*m)(y);  // operator(): forward hooks (Grad-CAM) see each child
  return y;
}

// ---- DenseLayer ------------------------------------------------------------------------

DenseLayer::DenseLayer(int64_t num_input_features, int64_t growth_rate, int64_t bn_size, double drop,
                       bool mem_efficient)
    : drop_rate(drop), memory_efficient(mem_efficient) {
  GALEN_CHECK(num_input_features >= 1 && growth_rate >= 1 && bn_size >= 1,
              "DenseLayer: num_input_features, growth_rate and bn_size must be positive, got ", num_input_features,
              ", ", growth_rate, ", ", bn_size);
  GALEN_CHECK(drop >= 0.0 && drop <= 1.0, "DenseLayer: drop_rate must be in [0, 1], got ", drop);
  norm1 = register_module("norm1", std::make_shared<nn::BatchNorm2d>(num_input_features));
  relu1 = register_module("relu1", std::make_shared<nn::ReLU>());
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(num_input_features, bn_size * growth_rate, 1, 1, 0,
                                                                1, 1, false));
  norm2 = register_module("norm2", std::make_shared<nn::BatchNorm2d>(bn_size * growth_rate));
  relu2 = register_module("relu2", std::make_shared<nn::ReLU>());
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(bn_size * growth_rate, growth_rate, 3, 1, 1, 1, 1,
                                                                false));
}

Tensor DenseLayer::bottleneck(const std::vector<Tensor>& prev) {
  GALEN_CHECK(!prev.empty(), "DenseLayer: no input feature maps");
  const Tensor x = prev.size() == 1 ? prev[0] : cat(prev, 1);
  return conv1->forward(relu1->forward(norm1->forward(x)));
}

Tensor DenseLayer::forward(const std::vector<Tensor>& prev) {
  Tensor b;
  if (memory_efficient && autograd::grad_mode_enabled() && autograd::any_requires_grad(prev)) {
    // The node keeps the layer alive until backward has re-run it.
    auto self = std::static_pointer_cast<DenseLayer>(shared_from_this());
    b = autograd::checkpoint([self](const std::vector<Tensor>& in) { return self->bottleneck(in); }, prev);
  } else {
    b = bottleneck(prev);
  }
  Tensor out = conv2->forward(relu2->forward(norm2->forward(b)));
  if (drop_rate > 0) out = dropout(out, drop_rate, is_training());
  return out;
}

std::string DenseLayer::extra_repr() const {
  std::ostringstream os;
  os << "drop_rate=" << nn::py_float(drop_rate) << ", memory_efficient=" << (memory_efficient ? "True" : "False");
  return os.str();
}

// ---- DenseBlock / Transition ----------------------------------------------------------------

DenseBlock::DenseBlock(int64_t num_layers, int64_t num_input_features, int64_t bn_size, int64_t growth_rate,
                       double drop_rate, bool memory_efficient) {
  GALEN_CHECK(num_layers >= 1, "DenseBlock: num_layers must be positive, got ", num_layers);
  for (int64_t i = 0; i < num_layers; ++i) {
    layers.push_back(register_module(
        "denselayer" + std::to_string(i + 1),
        std::make_shared<DenseLayer>(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate,
                                     memory_efficient)));
  }
}

Tensor DenseBlock::forward(const Tensor& x) {
  std::vector<Tensor> maps{x};
  maps.reserve(layers.size() + 1);
  for (const auto& layer : layers) maps.push_back(layer->forward(maps));
  return cat(maps, 1);
}

Transition::Transition(int64_t in, int64_t out) {
  add("norm", std::make_shared<nn::BatchNorm2d>(in));
  add("relu", std::make_shared<nn::ReLU>());
  add("conv", std::make_shared<nn::Conv2d>(in, out, 1, 1, 0, 1, 1, false));
  add("pool", std::make_shared<nn::AvgPool2d>(2, 2));
}

// ---- DenseNet ------------------------------------------------------------------------------

DenseNet::DenseNet(const DenseNetOptions& o) : options_(o) {
  GALEN_CHECK(!o.block_config.empty(), "DenseNet: block_config is empty");
  GALEN_CHECK(o.num_init_features >= 1 && o.growth_rate >= 1 && o.num_classes >= 1 && o.in_channels >= 1,
              "DenseNet: num_init_features, growth_rate, num_classes and in_channels must be positive");
  features = register_module("features", std::make_shared<NamedSequential>());
  features->add("conv0", std::make_shared<nn::Conv2d>(o.in_channels, o.num_init_features, 7, 2, 3, 1, 1, false));
  features->add("norm0", std::make_shared<nn::BatchNorm2d>(o.num_init_features));
  features->add("relu0", std::make_shared<nn::ReLU>());
  features->add("pool0", std::make_shared<nn::MaxPool2d>(3, 2, 1));
  int64_t n = o.num_init_features;
  for (size_t i = 0; i < o.block_config.size(); ++i) {
    const int64_t layers = o.block_config[i];
    features->add("denseblock" + std::to_string(i + 1),
                  std::make_shared<DenseBlock>(layers, n, o.bn_size, o.growth_rate, o.drop_rate,
                                               o.memory_efficient));
    n += layers * o.growth_rate;
    if (i + 1 != o.block_config.size()) {
      features->add("transition" + std::to_string(i + 1), std::make_shared<Transition>(n, n / 2));
      n /= 2;
    }
  }
  features->add("norm5", std::make_shared<nn::BatchNorm2d>(n));
  num_features_ = n;
  auto linear = register_module("classifier", std::make_shared<nn::Linear>(n, o.num_classes));
  classifier = linear;

  apply([](nn::Module& m) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&m)) {
      nn::init::kaiming_normal_(conv->weight);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m)) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  });
  nn::init::zeros_(linear->bias);
}

Tensor DenseNet::forward_features(const Tensor& x) {
  GALEN_CHECK(x.dim() == 4, "DenseNet: expected a 4-D input (N, C, H, W), got shape ", x.sizes());
  GALEN_CHECK(x.size(1) == options_.in_channels, "DenseNet: expected ", options_.in_channels,
              " input channels (DenseNetOptions::in_channels), got input shape ", x.sizes());
  return (*features)(x);
}

Tensor DenseNet::forward(const Tensor& x) {
  Tensor f = relu(forward_features(x));
  return (*classifier)(adaptive_avg_pool2d(f, Int2(1, 1)).flatten(1));
}

void DenseNet::replace_module(const std::string& n, std::shared_ptr<nn::Module> m) {
  Module::replace_module(n, m);
  if (n == "classifier") classifier = m;
  else if (n == "features") features = std::dynamic_pointer_cast<NamedSequential>(m);
}

void DenseNet::set_memory_efficient(bool on) {
  options_.memory_efficient = on;
  apply([on](nn::Module& m) {
    if (auto* l = dynamic_cast<DenseLayer*>(&m)) l->memory_efficient = on;
  });
}

// ---- factories --------------------------------------------------------------------------------

namespace {
std::shared_ptr<DenseNet> make(DenseNetOptions o, int64_t growth, std::vector<int64_t> blocks, int64_t init) {
  o.growth_rate = growth;
  o.block_config = std::move(blocks);
  o.num_init_features = init;
  return std::make_shared<DenseNet>(o);
}
}  // namespace

std::shared_ptr<DenseNet> densenet121(DenseNetOptions o) { return make(std::move(o), 32, {6, 12, 24, 16}, 64); }
std::shared_ptr<DenseNet> densenet169(DenseNetOptions o) { return make(std::move(o), 32, {6, 12, 32, 32}, 64); }
std::shared_ptr<DenseNet> densenet201(DenseNetOptions o) { return make(std::move(o), 32, {6, 12, 48, 32}, 64); }
std::shared_ptr<DenseNet> densenet161(DenseNetOptions o) { return make(std::move(o), 48, {6, 12, 36, 24}, 96); }

std::shared_ptr<DenseNet> densenet(const std::string& arch, DenseNetOptions o) {
  if (arch == "densenet121") return densenet121(std::move(o));
  if (arch == "densenet169") return densenet169(std::move(o));
  if (arch == "densenet201") return densenet201(std::move(o));
  if (arch == "densenet161") return densenet161(std::move(o));
  GALEN_FAIL("densenet: unknown architecture \"", arch, "\" (choose densenet121, densenet169, densenet201, densenet161)");
}

}  // namespace galen::zoo
