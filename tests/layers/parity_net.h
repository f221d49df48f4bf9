// The small nested model of tools/make_layer_fixtures.py ("Net"), shared by
// the module and layer tests: a Sequential, a ModuleList and a Linear head, so
// its state_dict keys and repr can be compared with PyTorch's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "galen/galen.h"

namespace galen::test {

struct ParityNet : nn::Module {
  std::shared_ptr<nn::Sequential> features = register_module(
      "features", std::make_shared<nn::Sequential>(nn::Sequential::List{
                      std::make_shared<nn::Linear>(6, 8), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::LayerNorm>(8), std::make_shared<nn::Dropout>(0.5)}));
  std::shared_ptr<nn::ModuleList> blocks =
      register_module("blocks", std::make_shared<nn::ModuleList>(std::vector<std::shared_ptr<nn::Module>>{
                                    std::make_shared<nn::Linear>(8, 8), std::make_shared<nn::Linear>(8, 4)}));
  std::shared_ptr<nn::Linear> head = register_module("head", std::make_shared<nn::Linear>(4, 3));

  std::string name() const override { return "Net"; }
  Tensor forward(const Tensor& x) override {
    Tensor h = features->forward(x);
    for (const auto& b : *blocks) h = tanh(b->forward(h));
    return head->forward(h);
  }
};

}  // namespace galen::test
