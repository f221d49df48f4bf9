// The vision zoo (zoo/resnet, zoo/densenet, zoo/chexnet): output shapes,
// parameter counts, torchvision's state_dict keys and initialisation,
// torchvision parity (fixtures from tools/make_vision_fixtures.py: weights are
// a formula both sides compute, so no weight file is committed), a training
// step that lowers the loss, memory-efficient DenseNet = plain DenseNet, and a
// converted CheXNet-style checkpoint (tools/convert_torch_checkpoint.py).
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

using namespace galen;
using galen::zoo::DenseNet;
using galen::zoo::DenseNetOptions;
using galen::zoo::ResNetOptions;

namespace {

std::string fixture_path(const std::string& name) { return std::string(GALEN_FIXTURES_DIR) + "/vision/" + name; }

const SafetensorsFile& parity() {
  static const SafetensorsFile f = load_safetensors(fixture_path("vision_parity.safetensors"));
  return f;
}

struct KeyLine {
  std::string key, kind;
  Shape shape;
};

// tests/fixtures/vision/<model>_keys.txt: torchvision's state_dict, one "<key> <param|buffer> <d0>x<d1>..." a line.
std::vector<KeyLine> torchvision_keys(const std::string& model) {
  std::ifstream in(fixture_path(model + "_keys.txt"));
  REQUIRE(in.good());
  std::vector<KeyLine> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ls(line);
    KeyLine k;
    std::string shape;
    ls >> k.key >> k.kind >> shape;
    if (shape != "scalar") {
      std::istringstream ss(shape);
      std::string d;
      while (std::getline(ss, d, 'x')) k.shape.push_back(std::stoll(d));
    }
    out.push_back(k);
  }
  return out;
}

// The formula of tools/make_vision_fixtures.py for the k-th state_dict entry.
void fill_formula(nn::Module& m, const std::vector<KeyLine>& keys) {
  constexpr double A = 0.7548776662466927, B = 0.5772156649015329;
  auto ends = [](const std::string& s, const std::string& e) {
    return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
  };
  NoGradGuard ng;
  for (size_t k = 0; k < keys.size(); ++k) {
    const std::string& key = keys[k].key;
    Tensor& t = m.find_tensor(key);
    const int64_t n = t.numel();
    std::vector<double> v(static_cast<size_t>(n));
    const double fan_in = t.dim() >= 2 ? static_cast<double>(n / t.size(0)) : 1.0;
    for (int64_t i = 0; i < n; ++i) {
      const double s = std::sin(A * static_cast<double>(i) + B * static_cast<double>(k + 1));
      double x;
      if (ends(key, "num_batches_tracked")) x = 0;
      else if (ends(key, "running_var")) x = 1 + 0.5 * s;
      else if (ends(key, "running_mean")) x = 0.1 * s;
      else if (ends(key, "bias")) x = 0.1 * s;
      else if (ends(key, "weight") && t.dim() == 1) x = 1 + 0.2 * s;
      else x = 2.0 * s / std::sqrt(fan_in);
      v[static_cast<size_t>(i)] = x;
    }
    t.copy_(from_vector<double>(v, t.sizes(), DType::f64));
  }
}

// galen's state_dict against torchvision's: same keys, kinds and shapes, and
// parameters / buffers each in torchvision's order.
void check_keys(nn::Module& m, const std::string& model) {
  const auto tv = torchvision_keys(model);
  std::vector<std::string> tv_params, tv_buffers, params, buffers;
  for (const auto& k : tv) (k.kind == "param" ? tv_params : tv_buffers).push_back(k.key);
  for (const auto& [k, t] : m.named_parameters()) params.push_back(k);
  for (const auto& [k, t] : m.named_buffers()) buffers.push_back(k);
  CHECK(params == tv_params);
  CHECK(buffers == tv_buffers);
  const auto sd = m.state_dict();
  CHECK(sd.size() == tv.size());
  for (const auto& k : tv) {
    auto it = sd.find(k.key);
    INFO(k.key);
    REQUIRE(it != sd.end());
    CHECK(it->second.sizes() == k.shape);
  }
}

Tensor parity_input(DType dt) { return parity().tensors.at("x").to(dt); }

// torchvision parity of one model: f32 eval logits, then (the same model moved
// to f64 and refilled) f64 eval logits, f64 train-mode loss, gradients and a
// running_mean after the train forward. One model for both dtypes: building
// one costs more than running it at this input size.
void check_parity(const std::shared_ptr<nn::Module>& net, const std::string& name, const std::string& bn_key) {
  const auto& fx = parity().tensors;
  const auto keys = torchvision_keys(name);
  fill_formula(*net, keys);
  net->eval();
  {
    NoGradGuard ng;
    Tensor ref = fx.at(name + ".eval_logits_f32");
    const double scale = amax(abs(ref)).item();
    // f32 through ~50 layers whose activations grow to ~1e4 (the formula
    // weights do not keep eval-mode BatchNorm normalised): 1e-4 of the largest logit.
    REQUIRE_CLOSE(net->forward(parity_input(DType::f32)), ref, 1e-4 * scale, 1e-4);
    net->to(DType::f64);
    fill_formula(*net, keys);
    REQUIRE_CLOSE(net->forward(parity_input(DType::f64)), fx.at(name + ".eval_logits_f64"), 1e-9, 1e-9);
  }
  net->train();
  Tensor logits = net->forward(parity_input(DType::f64));
  Tensor loss = cross_entropy(logits, tensor<int64_t>({3, 7}));
  REQUIRE_CLOSE(loss.reshape({1}), fx.at(name + ".train_loss_f64"), 1e-10, 1e-9);
  loss.backward();
  int grads = 0;
  const std::string gprefix = name + ".grad.";
  for (const auto& [k, ref] : fx) {
    if (k.rfind(gprefix, 0) != 0) continue;
    const std::string key = k.substr(gprefix.size());
    INFO("gradient of " << key);
    Tensor g = net->find_tensor(key).grad();
    REQUIRE(g.defined());
    if (g.sizes() != ref.sizes()) g = g.flatten().narrow(0, 0, ref.numel());
    const double scale = amax(abs(ref)).item();
    REQUIRE_CLOSE(g, ref, 1e-9 * scale, 1e-7);
    ++grads;
  }
  CHECK(grads >= 5);
  REQUIRE_CLOSE(net->find_tensor(bn_key + ".running_mean"), fx.at(name + ".running_mean." + bn_key), 1e-12, 1e-9);
}

// Whether the autograd graph behind t has a node called `name`.
bool graph_has(const Tensor& t, const std::string& name) {
  std::vector<std::shared_ptr<autograd::Node>> todo{t.grad_fn()};
  std::set<autograd::Node*> seen;
  while (!todo.empty()) {
    auto n = todo.back();
    todo.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    if (n->name() == name) return true;
    for (const auto& e : n->next) todo.push_back(e.node);
  }
  return false;
}

double sample_std(const Tensor& t) { return galen::std(t.flatten()).item(); }

}  // namespace

// ---- ResNet -------------------------------------------------------------------------------------

TEST_CASE("resnet: output shapes at several input sizes, grayscale and non-square", "[zoo]") {
  NoGradGuard ng;
  manual_seed(0);
  auto r18 = zoo::resnet18({.num_classes = 10});
  r18->eval();
  CHECK(r18->forward(randn({2, 3, 32, 32})).sizes() == Shape{2, 10});
  CHECK(r18->forward(randn({1, 3, 64, 40})).sizes() == Shape{1, 10});
  CHECK(r18->forward_features(randn({1, 3, 64, 96})).sizes() == Shape{1, 512, 2, 3});
  auto gray = zoo::resnet18({.num_classes = 2, .in_channels = 1});
  gray->eval();
  CHECK(gray->conv1->weight.sizes() == Shape{64, 1, 7, 7});
  CHECK(gray->forward(randn({3, 1, 48, 33})).sizes() == Shape{3, 2});
  auto r50 = zoo::resnet50({.num_classes = 7, .in_channels = 1});
  r50->eval();
  CHECK(r50->num_features() == 2048);
  CHECK(r50->forward(randn({1, 1, 40, 56})).sizes() == Shape{1, 7});
  CHECK(r50->forward_features(randn({1, 1, 64, 64})).sizes() == Shape{1, 2048, 2, 2});
  CHECK_THROWS_WITH(r50->forward(randn({1, 3, 64, 64})), Catch::Contains("input channels"));
  CHECK_THROWS_WITH(r50->forward(randn({3, 64, 64})), Catch::Contains("4-D"));
  CHECK_THROWS_WITH(zoo::resnet("resnet51"), Catch::Contains("resnet50"));
}

// Parameter counts (torchvision's, printed by tools/make_vision_fixtures.py). Building
// a model is most of the cost (its initialisation draws every weight), so the
// big variants get a case each.
TEST_CASE("resnet: exact parameter counts, resnet18/34/50 (torchvision's)", "[zoo]") {
  CHECK(zoo::resnet18()->num_parameters() == 11689512);
  CHECK(zoo::resnet34()->num_parameters() == 21797672);
  CHECK(zoo::resnet50()->num_parameters() == 25557032);
  // Grayscale input and a 14-class head change exactly conv1 and fc.
  CHECK(zoo::resnet50({.num_classes = 14, .in_channels = 1})->num_parameters() ==
        25557032 - 64 * 2 * 49 - (2048 * 1000 + 1000) + (2048 * 14 + 14));
}

TEST_CASE("resnet: state_dict keys, shapes and order equal torchvision's", "[zoo]") {
  check_keys(*zoo::resnet18(), "resnet18");
  check_keys(*zoo::resnet50(), "resnet50");
}

TEST_CASE("resnet: torchvision initialisation, zero_init_residual, replaceable head", "[zoo]") {
  manual_seed(1);
  auto net = zoo::resnet50();
  // kaiming_normal(fan_out, relu): std = sqrt(2 / (out_channels * kh * kw)).
  CHECK(sample_std(net->conv1->weight) == Approx(std::sqrt(2.0 / (64 * 49))).epsilon(0.05));
  auto b = std::dynamic_pointer_cast<zoo::Bottleneck>((*net->layer3)[0]);
  REQUIRE(b);
  CHECK(sample_std(b->conv2->weight) == Approx(std::sqrt(2.0 / (256 * 9))).epsilon(0.03));
  CHECK(equal(b->bn3->weight, ones({1024})));
  CHECK(equal(b->bn3->bias, zeros({1024})));
  auto z = zoo::resnet18({.zero_init_residual = true});
  auto bb = std::dynamic_pointer_cast<zoo::BasicBlock>((*z->layer2)[1]);
  REQUIRE(bb);
  CHECK(equal(bb->bn2->weight, zeros({128})));
  CHECK(equal(bb->bn1->weight, ones({128})));
  auto z50 = zoo::resnet50({.zero_init_residual = true});
  CHECK(equal(std::dynamic_pointer_cast<zoo::Bottleneck>((*z50->layer4)[2])->bn3->weight, zeros({2048})));

  net->replace_module("fc", std::make_shared<nn::Sequential>(nn::Sequential::List{
                                std::make_shared<nn::Dropout>(0.2), std::make_shared<nn::Linear>(2048, 5)}));
  net->eval();
  NoGradGuard ng;
  CHECK(net->forward(randn({2, 3, 32, 32})).sizes() == Shape{2, 5});
  CHECK(net->state_dict().count("fc.1.weight") == 1);
}

TEST_CASE("resnet50: torchvision parity (eval logits f32 + f64, train-mode loss, gradients, running stats)",
          "[zoo]") {
  check_parity(zoo::resnet50(), "resnet50", "layer1.0.bn1");
}

TEST_CASE("resnet18: one SGD step lowers the loss on a tiny batch", "[zoo]") {
  manual_seed(2);
  auto net = zoo::resnet18({.num_classes = 3, .in_channels = 1});
  net->train();
  // 64x64 leaves layer4 2x2: with 1x1 maps a batch of 4 gives BatchNorm four
  // values per channel and gradients so steep (|g|^2 ~ 1e5) that no usual lr descends.
  Tensor x = randn({4, 1, 64, 64});
  Tensor y = tensor<int64_t>({0, 1, 2, 1});
  optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  auto loss_now = [&] { return cross_entropy(net->forward(x), y); };
  Tensor l0 = loss_now();
  opt.zero_grad();
  l0.backward();
  for (const auto& p : net->parameters()) REQUIRE(p.grad().defined());
  opt.step();
  const double before = l0.item(), after = loss_now().item();
  INFO("loss " << before << " -> " << after);
  CHECK(after < before);
}

TEST_CASE("resnet: exact parameter count, resnet101", "[zoo]") {
  CHECK(zoo::resnet("resnet101")->num_parameters() == 44549160);
}
TEST_CASE("resnet: exact parameter count, resnet152", "[zoo]") {
  CHECK(zoo::resnet("resnet152")->num_parameters() == 60192808);
}
TEST_CASE("resnet: exact parameter counts, resnext50_32x4d", "[zoo]") {
  CHECK(zoo::resnext50_32x4d()->num_parameters() == 25028904);
}
TEST_CASE("resnet: exact parameter counts, wide_resnet50_2", "[zoo]") {
  CHECK(zoo::wide_resnet50_2()->num_parameters() == 68883240);
}

// ---- DenseNet --------------------------------------------------------------------------------

TEST_CASE("densenet: output shapes at several input sizes, grayscale and non-square", "[zoo]") {
  NoGradGuard ng;
  manual_seed(0);
  auto net = zoo::densenet121({.num_classes = 5});
  net->eval();
  CHECK(net->num_features() == 1024);
  CHECK(net->forward(randn({2, 3, 32, 32})).sizes() == Shape{2, 5});
  CHECK(net->forward(randn({1, 3, 64, 40})).sizes() == Shape{1, 5});
  CHECK(net->forward_features(randn({1, 3, 64, 96})).sizes() == Shape{1, 1024, 2, 3});
  auto gray = zoo::densenet121({.num_classes = 2, .in_channels = 1});
  gray->eval();
  CHECK(gray->forward(randn({2, 1, 45, 70})).sizes() == Shape{2, 2});
  CHECK_THROWS_WITH(gray->forward(randn({2, 3, 32, 32})), Catch::Contains("input channels"));
  CHECK_THROWS_WITH(zoo::densenet("densenet122"), Catch::Contains("densenet121"));
  CHECK_THROWS_WITH(DenseNet(DenseNetOptions{.block_config = {}}), Catch::Contains("block_config"));
}

TEST_CASE("densenet: exact parameter counts, densenet121/169 (torchvision's)", "[zoo]") {
  CHECK(zoo::densenet121()->num_parameters() == 7978856);
  CHECK(zoo::densenet169()->num_parameters() == 14149480);
}
TEST_CASE("densenet: exact parameter counts, densenet201/161", "[zoo]") {
  CHECK(zoo::densenet("densenet201")->num_parameters() == 20013928);
  CHECK(zoo::densenet161()->num_parameters() == 28681000);
}

TEST_CASE("densenet: state_dict keys, shapes and order equal torchvision's; initialisation", "[zoo]") {
  manual_seed(4);
  auto net = zoo::densenet121();
  check_keys(*net, "densenet121");
  // kaiming_normal (fan_in, gain sqrt 2); classifier bias 0; BatchNorm 1 / 0.
  CHECK(sample_std(net->find_tensor("features.conv0.weight")) == Approx(std::sqrt(2.0 / (3 * 49))).epsilon(0.05));
  CHECK(sample_std(net->find_tensor("features.denseblock3.denselayer1.conv1.weight")) ==
        Approx(std::sqrt(2.0 / 256)).epsilon(0.03));
  CHECK(equal(net->find_tensor("classifier.bias"), zeros({1000})));
  CHECK(equal(net->find_tensor("features.norm5.weight"), ones({1024})));
  CHECK(equal(net->find_tensor("features.transition2.norm.bias"), zeros({512})));
}

TEST_CASE("densenet121: torchvision parity (eval logits f32 + f64, train-mode loss, gradients, running stats)",
          "[zoo]") {
  check_parity(zoo::densenet121(), "densenet121", "features.denseblock3.denselayer5.norm1");
}

TEST_CASE("densenet: memory-efficient (checkpointed) layers give identical results and gradients", "[zoo]") {
  // A small DenseNet in f64, with dropout (the RNG stream must not be disturbed by the recomputation).
  DenseNetOptions o{.growth_rate = 6, .block_config = {3, 2}, .num_init_features = 8, .bn_size = 2,
                    .drop_rate = 0.2, .num_classes = 4};
  auto run = [&](bool efficient) {
    manual_seed(21);
    auto net = std::make_shared<DenseNet>(o);
    net->to(DType::f64);
    net->set_memory_efficient(efficient);
    net->train();
    Tensor x = randn({3, 3, 24, 20}, DType::f64);
    Tensor out = net->forward(x);
    // Checkpointed layers record a "checkpoint" node for their bottleneck.
    cross_entropy(out, tensor<int64_t>({0, 3, 1})).backward();
    std::vector<std::pair<std::string, Tensor>> r{{"out", out.detach()}};
    for (const auto& [k, p] : net->named_parameters()) r.emplace_back(k + ".grad", p.grad());
    for (const auto& [k, b] : net->named_buffers()) r.emplace_back(k, b.clone());
    return r;
  };
  const auto plain = run(false), eff = run(true);
  REQUIRE(plain.size() == eff.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO(plain[i].first);
    REQUIRE(plain[i].second.defined());
    REQUIRE(eff[i].second.defined());
    // The same ops on the same values: equal up to summation order in the engine.
    REQUIRE_CLOSE(eff[i].second, plain[i].second, 1e-13, 1e-11);
  }
  // BatchNorm inside the checkpointed part counted each batch once.
  for (const auto& [k, t] : eff)
    if (k.find("num_batches_tracked") != std::string::npos) CHECK(t.item<int64_t>() == 1);

  // The checkpoint is really in the graph of a memory-efficient layer, and only there.
  auto net = std::make_shared<DenseNet>(o);
  auto layer = std::dynamic_pointer_cast<zoo::DenseLayer>(
      std::dynamic_pointer_cast<zoo::DenseBlock>(net->features->child("denseblock1"))->layers[1]);
  REQUIRE(layer);
  Tensor a = randn({2, 8, 6, 6}).requires_grad_(true), b = randn({2, 6, 6, 6});
  CHECK_FALSE(graph_has(layer->forward(std::vector<Tensor>{a, b}), "checkpoint"));
  net->set_memory_efficient(true);
  CHECK(layer->memory_efficient);
  Tensor out = layer->forward(std::vector<Tensor>{a, b});
  CHECK(out.sizes() == Shape{2, 6, 6, 6});
  CHECK(graph_has(out, "checkpoint"));
}

TEST_CASE("densenet: a memory-efficient CheXNet Adam step lowers a BCE-with-logits loss", "[zoo]") {
  manual_seed(8);
  auto net = zoo::chexnet({.memory_efficient = true});
  net->train();
  Tensor x = randn({2, 3, 32, 32});
  Tensor y = gt(rand({2, 14}), 0.7).to(DType::f32);
  optim::Adam opt(net->parameters(), {.lr = 1e-3});
  Tensor l0 = binary_cross_entropy_with_logits(net->forward(x), y);
  opt.zero_grad();
  l0.backward();
  opt.step();
  const double before = l0.item(), after = binary_cross_entropy_with_logits(net->forward(x), y).item();
  INFO("loss " << before << " -> " << after);
  CHECK(after < before);
}

// ---- CheXNet and converted checkpoints ----------------------------------------------------------

TEST_CASE("chexnet: DenseNet-121 features + Linear(1024, 14), ChestX-ray14 names, other label sets", "[zoo]") {
  auto net = zoo::chexnet();
  CHECK(net->num_parameters() == 7978856 - 1025 * 1000 + 1025 * 14);
  REQUIRE(net->class_names().size() == 14);
  CHECK(net->class_names().front() == "Atelectasis");
  CHECK(net->class_names()[7] == "Pneumothorax");
  CHECK(net->class_names().back() == "Hernia");
  CHECK(zoo::kChestXray14Findings[12] == std::string("Pleural_Thickening"));
  CHECK(net->find_tensor("classifier.weight").sizes() == Shape{14, 1024});
  net->eval();
  {
    NoGradGuard ng;
    Tensor x = randn({2, 3, 32, 32});
    Tensor logits = net->forward(x);
    CHECK(logits.sizes() == Shape{2, 14});
    REQUIRE_CLOSE(net->probabilities(x), sigmoid(logits), 0, 1e-6);
  }
  auto three = zoo::chexnet({.class_names = {"normal", "benign", "malignant"}, .in_channels = 1});
  CHECK(three->find_tensor("classifier.weight").sizes() == Shape{3, 1024});
  CHECK(three->find_tensor("features.conv0.weight").sizes() == Shape{64, 1, 7, 7});
  auto five = zoo::chexnet({.num_classes = 5});
  CHECK(five->class_names()[4] == "class_4");
  CHECK_THROWS_WITH(zoo::chexnet({.class_names = {"a", "b"}, .num_classes = 3}), Catch::Contains("2 class names"));
}

TEST_CASE("chexnet: a converted old-style CheXNet checkpoint loads and matches PyTorch", "[zoo]") {
  // chexnet_tiny_expected.safetensors is what tools/convert_torch_checkpoint.py makes of
  // chexnet_tiny.pth.tar (the CTest "convert_torch_checkpoint" checks that, with torch).
  const auto converted = load_safetensors(fixture_path("chexnet_tiny_expected.safetensors"));
  const auto io = load_safetensors(fixture_path("chexnet_tiny_io.safetensors"));
  DenseNetOptions o{.growth_rate = 4, .block_config = {2, 2}, .num_init_features = 8, .bn_size = 2,
                    .num_classes = 3};
  auto net = std::make_shared<DenseNet>(o);
  net->load_state_dict(converted.tensors);  // strict: every key present, none extra
  net->eval();
  NoGradGuard ng;
  REQUIRE_CLOSE(net->forward(io.tensors.at("x")), io.tensors.at("logits"), 1e-6, 1e-5);
  // The wrong architecture is refused with the offending keys named.
  auto other = std::make_shared<DenseNet>(DenseNetOptions{.growth_rate = 4, .block_config = {2, 3},
                                                          .num_init_features = 8, .bn_size = 2, .num_classes = 3});
  CHECK_THROWS_WITH(other->load_state_dict(converted.tensors), Catch::Contains("denselayer3"));
}
