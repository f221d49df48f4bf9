// A small CNN on MNIST: (Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2) x 2 ->
// Flatten -> Linear(64*7*7, 10); Adam (lr 1e-3, cosine-annealed to 0 over the
// run), batch 64, 3 epochs. Same command line as mnist_mlp (--data, --device,
// --resume, ...).
//
//   ./build/examples/mnist_cnn [--data DIR] [--epochs N] [--device cpu|cuda] ...
#include "mnist_common.h"

namespace {
// (N, 28, 28) images -> (N, 1, 28, 28): one input channel for the first conv.
struct AddChannel : galen::nn::Module {
  std::string name() const override { return "AddChannel"; }
  galen::Tensor forward(const galen::Tensor& x) override { return x.unsqueeze(1); }
};
}  // namespace

int main(int argc, char** argv) {
  using namespace galen;
  examples::mnist::Args defaults;
  defaults.epochs = 3;
  defaults.batch = 64;
  defaults.cosine = true;
  defaults.checkpoint = "mnist_cnn.ckpt.safetensors";
  return examples::mnist::run(argc, argv, [] {
    using M = std::shared_ptr<nn::Module>;
    return std::make_shared<nn::Sequential>(std::vector<M>{
        std::make_shared<AddChannel>(),
        std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(32),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1), std::make_shared<nn::BatchNorm2d>(64),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64 * 7 * 7, 10)});
  }, defaults);
}
