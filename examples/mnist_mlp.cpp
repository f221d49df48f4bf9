// MNIST tutorial: a 784-256-10 MLP trained with SGD + momentum on the real
// MNIST training set, evaluated on the 10k test set. Written with core ops only
// (linear, relu, log_softmax, gather): the layers/optim modules build the same
// thing with less code.
//
//   ./build/examples/mnist_mlp [--data DIR] [--epochs N] [--batch B] [--lr LR]
//                             [--threads T] [--seed S] [--device cpu|cuda]
#include <galen/galen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace galen;

namespace {

struct Args {
  std::string data = "data/mnist";
  int epochs = 3, batch = 64, threads = 0;
  double lr = 0.05, momentum = 0.9;
  uint64_t seed = 0;
  std::string device = "cpu";
};

std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& cand : {dir + "/" + name, dir + "/" + name + ".gz"}) {
    if (FILE* f = std::fopen(cand.c_str(), "rb")) {
      std::fclose(f);
      return cand;
    }
  }
  GALEN_FAIL("mnist: ", name, "[.gz] not found in '", dir, "' (run tools/fetch_mnist.sh)");
}

// images (N,28,28) u8 -> (N,784) f32 normalised with MNIST's mean/std.
Tensor prepare(const Tensor& images) {
  return (images.reshape({images.size(0), -1}).to(DType::f32) / 255.0 - 0.1307) / 0.3081;
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  return eq(argmax(logits, 1), labels).to(DType::f64).mean().item();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) GALEN_FAIL("mnist: ", k, " needs a value");
      return argv[++i];
    };
    try {
      if (k == "--data") a.data = next();
      else if (k == "--epochs") a.epochs = std::stoi(next());
      else if (k == "--batch") a.batch = std::stoi(next());
      else if (k == "--lr") a.lr = std::stod(next());
      else if (k == "--threads") a.threads = std::stoi(next());
      else if (k == "--seed") a.seed = std::stoull(next());
      else if (k == "--device") a.device = next();
      else {
        std::printf("usage: %s [--data DIR] [--epochs N] [--batch B] [--lr LR] [--threads T] [--seed S] "
                    "[--device cpu|cuda]\n", argv[0]);
        return k == "--help" || k == "-h" ? 0 : 2;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
  }
  try {
    if (a.threads > 0) set_num_threads(a.threads);
    const Device dev = Device::parse(a.device);
    manual_seed(a.seed);
    Tensor xtr = prepare(data::read_idx(find_file(a.data, "train-images-idx3-ubyte"))).to(dev);
    Tensor ytr = data::read_idx(find_file(a.data, "train-labels-idx1-ubyte")).to(DType::i64).to(dev);
    Tensor xte = prepare(data::read_idx(find_file(a.data, "t10k-images-idx3-ubyte"))).to(dev);
    Tensor yte = data::read_idx(find_file(a.data, "t10k-labels-idx1-ubyte")).to(DType::i64).to(dev);
    GALEN_CHECK(xtr.size(0) == ytr.size(0) && xte.size(0) == yte.size(0), "mnist: image and label counts differ");
    std::printf("MNIST: %lld train, %lld test images on %s, %d threads\n", (long long)xtr.size(0),
                (long long)xte.size(0), dev.str().c_str(), get_num_threads());

    // PyTorch's Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    const TensorOptions o(DType::f32, dev);
    auto init = [&](Shape s, int64_t fan_in) {
      const double b = 1.0 / std::sqrt(static_cast<double>(fan_in));
      return uniform(s, -b, b, o).requires_grad_();
    };
    std::vector<Tensor> params = {init({256, 784}, 784), init({256}, 784), init({10, 256}, 256), init({10}, 256)};
    std::vector<Tensor> velocity;
    for (const Tensor& p : params) velocity.push_back(zeros(p.sizes(), o));
    auto forward = [&](const Tensor& x) { return linear(relu(linear(x, params[0], params[1])), params[2], params[3]); };

    const int64_t n = xtr.size(0), steps = n / a.batch;
    for (int epoch = 1; epoch <= a.epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      Tensor perm = randperm(n, TensorOptions(DType::i64, dev));
      double loss_sum = 0;
      for (int64_t s = 0; s < steps; ++s) {
        Tensor idx = perm.narrow(0, s * a.batch, a.batch);
        Tensor x = index_select(xtr, 0, idx), y = index_select(ytr, 0, idx);
        Tensor logp = log_softmax(forward(x), 1);
        Tensor loss = neg(gather(logp, 1, y.unsqueeze(1))).mean();
        for (Tensor& p : params) p.zero_grad();
        loss.backward();
        {
          NoGradGuard ng;
          for (size_t i = 0; i < params.size(); ++i) {
            velocity[i].mul_(a.momentum).add_(params[i].grad());
            params[i].add_(velocity[i], -a.lr);
          }
        }
        loss_sum += loss.item();
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double test_acc;
      {
        NoGradGuard ng;
        test_acc = accuracy(forward(xte), yte);
      }
      std::printf("epoch %d  train loss %.4f  test accuracy %.2f%%  (%.1f s, %.0f images/s)\n", epoch,
                  loss_sum / static_cast<double>(steps), 100.0 * test_acc, secs,
                  static_cast<double>(steps * a.batch) / secs);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
