// The smallest end-to-end use of galen's autograd: fit y = 3x² - 2x + 0.5 + noise
// with a two-layer MLP written from raw ops (matmul, tanh, mean) and plain
// gradient descent, printing the loss as it falls.
//
//   ./build/examples/fit_regression [--steps N] [--lr LR] [--seed S]
#include <galen/galen.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace galen;

int main(int argc, char** argv) {
  int steps = 400;
  double lr = 0.1;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--steps" || a == "--lr" || a == "--seed") && i + 1 < argc) {
      const char* v = argv[++i];
      if (a == "--steps") steps = std::atoi(v);
      else if (a == "--lr") lr = std::atof(v);
      else seed = std::strtoull(v, nullptr, 10);
    } else {
      std::printf("usage: %s [--steps N] [--lr LR] [--seed S]\n", argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  try {
    manual_seed(seed);
    // Data: 256 points in [-1, 1].
    Tensor x = linspace(-1.0, 1.0, 256).reshape({256, 1});
    Tensor y = 3.0 * square(x) - 2.0 * x + 0.5 + 0.05 * randn({256, 1});

    // Model: 1 -> 32 (tanh) -> 1, initialised like PyTorch's Linear (U(±1/sqrt(fan_in))).
    Tensor w1 = uniform({32, 1}, -1.0, 1.0).requires_grad_();
    Tensor b1 = uniform({32}, -1.0, 1.0).requires_grad_();
    Tensor w2 = uniform({1, 32}, -0.177, 0.177).requires_grad_();
    Tensor b2 = uniform({1}, -0.177, 0.177).requires_grad_();
    std::vector<Tensor> params = {w1, b1, w2, b2};

    double first = 0, last = 0;
    for (int step = 0; step <= steps; ++step) {
      Tensor pred = linear(tanh(linear(x, w1, b1)), w2, b2);
      Tensor loss = mean(square(pred - y));
      for (Tensor& p : params) p.zero_grad();
      loss.backward();
      {
        NoGradGuard no_grad;
        for (Tensor& p : params) p.add_(p.grad(), -lr);
      }
      last = loss.item();
      if (step == 0) first = last;
      if (step % 50 == 0) std::printf("step %4d  mse %.6f\n", step, last);
    }
    std::printf("mse fell from %.4f to %.4f (noise floor 0.0025)\n", first, last);
    return last < first ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
