// The MNIST tutorial, exactly the classic model: Flatten -> Linear(784,128) ->
// ReLU -> Linear(128,10), softmax cross-entropy on integer labels, Adam (lr
// 1e-3), batch 32, 5 epochs, pixels scaled to [0,1]. Trains on the real MNIST
// training set (or Fashion-MNIST: --data /usr/share/datasets/fashion-mnist),
// prints per-epoch loss and accuracy, the final test accuracy, and saves a
// checkpoint after every epoch (--resume continues from it).
//
//   ./build/examples/mnist_mlp [--data DIR] [--epochs N] [--batch B] [--lr LR]
//       [--device cpu|cuda] [--threads T] [--workers W] [--seed S]
//       [--checkpoint PATH] [--resume]
#include "mnist_common.h"

int main(int argc, char** argv) {
  using namespace galen;
  examples::mnist::Args defaults;
  defaults.checkpoint = "mnist_mlp.ckpt.safetensors";
  return examples::mnist::run(argc, argv, [] {
    return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 10)});
  }, defaults);
}
