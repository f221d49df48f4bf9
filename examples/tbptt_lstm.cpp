// Truncated backpropagation through time (TBPTT) with an LSTM on sequential
// MNIST: each 28x28 image is read row by row as a 28-step sequence of 28
// features. The sequence is cut into chunks of k steps; after each chunk the
// classifier predicts the digit from the last hidden state, the loss is
// backpropagated through THAT chunk only, the optimizer steps, and the carried
// state (h, c) is detached:
//
//   h, c = {}                                   // zeros
//   for each chunk of k rows:
//     out = lstm.forward(rows, h, c)            // gradients flow inside the chunk
//     loss = cross_entropy(fc(out.h_n[-1]), y); loss.backward(); opt.step()
//     h = out.h_n.detach(); c = out.c_n.detach()  // the cut: no gradient into earlier chunks
//
// Without the detach, the next chunk's backward would run into the previous
// chunk's (already freed) graph; with it, memory and compute per update are
// bounded by k steps however long the sequence. Accuracy is measured on the
// prediction after the last chunk (the whole image seen).
//
//   tbptt_lstm [--data data/mnist] [--device cpu|cuda] [--chunk 7] [--epochs 1] [--train 12000] ...
// Default run: 12000 training images, 1 epoch, ~86% test accuracy (~20 s of CPU time; 47 s wall on the
// shared, loaded 2-core dev VM). More data and epochs (--train 0 --epochs N) train further.
#include <galen/galen.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "mnist_common.h"

using namespace galen;

namespace {

struct Args {
  std::string data = "data/mnist", device = "cpu";
  int64_t chunk = 7, hidden = 64, batch = 64, train = 12000, test = 10000;
  int epochs = 1, threads = 0;
  double lr = 3e-3;
  uint64_t seed = 0;
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [--data DIR] [--device cpu|cuda] [--chunk K] [--hidden H] [--batch B] [--epochs N]\n"
      "          [--train N] [--test N] [--lr LR] [--threads T] [--seed S]\n"
      "Sequential MNIST (rows as a 28-step sequence) with an LSTM trained by truncated BPTT:\n"
      "chunks of K steps (default 7, must divide 28), state detached between chunks.\n"
      "--train / --test limit the images used (0 = all). DIR holds the MNIST IDX files (.gz ok).\n",
      argv0);
}

struct Model : nn::Module {
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
  std::string name() const override { return "SeqMnistLSTM"; }
  explicit Model(int64_t hidden) {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(28, hidden, nn::RnnOptions{.batch_first = true}));
    fc = register_module("fc", std::make_shared<nn::Linear>(hidden, 10));
  }
  // One chunk: rows (B, k, 28), state in / out. Returns the logits from the last hidden state.
  Tensor chunk(const Tensor& rows, Tensor& h, Tensor& c) {
    RnnOutput o = lstm->forward(rows, h, c);
    h = o.h_n;
    c = o.c_n;
    return fc->forward(o.h_n.select(0, 0));
  }
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  galen::examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--data", a.data).text("--device", a.device).number("--chunk", a.chunk).number("--hidden", a.hidden);
  cli.number("--batch", a.batch).number("--epochs", a.epochs).number("--train", a.train).number("--test", a.test);
  cli.number("--lr", a.lr).number("--threads", a.threads).number("--seed", a.seed);
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    GALEN_CHECK(a.chunk >= 1 && 28 % a.chunk == 0, "--chunk must divide 28, got ", a.chunk);
    GALEN_CHECK(a.batch >= 1 && a.hidden >= 1 && a.epochs >= 0, "--batch, --hidden must be >= 1");
    if (a.threads > 0) set_num_threads(a.threads);
    const Device dev = Device::parse(a.device);
    manual_seed(a.seed);
    namespace mn = examples::mnist;
    Tensor xtr = mn::load_images(a.data, "train-images-idx3-ubyte"), ytr = mn::load_labels(a.data, "train-labels-idx1-ubyte");
    Tensor xte = mn::load_images(a.data, "t10k-images-idx3-ubyte"), yte = mn::load_labels(a.data, "t10k-labels-idx1-ubyte");
    if (a.train > 0 && a.train < xtr.size(0)) xtr = xtr.narrow(0, 0, a.train), ytr = ytr.narrow(0, 0, a.train);
    if (a.test > 0 && a.test < xte.size(0)) xte = xte.narrow(0, 0, a.test), yte = yte.narrow(0, 0, a.test);
    const int64_t n = xtr.size(0), chunks = 28 / a.chunk;
    std::printf("sequential MNIST: %lld train / %lld test images, 28 steps in %lld chunks of %lld; device %s, %d threads\n",
                (long long)n, (long long)xte.size(0), (long long)chunks, (long long)a.chunk, dev.str().c_str(),
                get_num_threads());

    Model model(a.hidden);
    model.to(dev);
    std::printf("%s\n", model.repr().c_str());
    optim::Adam opt(model.parameters(), optim::AdamOptions{a.lr});
    const auto t0 = std::chrono::steady_clock::now();
    for (int epoch = 0; epoch < a.epochs; ++epoch) {
      Tensor perm = randperm(n);
      double loss_sum = 0, correct = 0;
      int64_t updates = 0;
      for (int64_t s = 0; s < n; s += a.batch) {
        const int64_t m = std::min(a.batch, n - s);
        Tensor idx = perm.narrow(0, s, m);
        Tensor x = index_select(xtr, 0, idx).to(dev), y = index_select(ytr, 0, idx).to(dev);  // x (m, 28, 28)
        Tensor h, c;  // zeros for the first chunk
        for (int64_t k = 0; k < chunks; ++k) {
          Tensor logits = model.chunk(x.narrow(1, k * a.chunk, a.chunk), h, c);
          Tensor loss = cross_entropy(logits, y);
          opt.zero_grad();
          loss.backward();  // through this chunk's a.chunk steps only
          opt.step();
          h = h.detach();  // truncate: the next chunk starts from a constant state
          c = c.detach();
          loss_sum += loss.item();
          ++updates;
          if (k == chunks - 1) {
            NoGradGuard ng;
            correct += sum(eq(argmax(logits, 1), y).to(DType::i64)).item();
          }
        }
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %d: mean chunk loss %.4f, train accuracy (full sequence) %.2f%%, %.1f s\n", epoch + 1,
                  loss_sum / static_cast<double>(updates), 100.0 * correct / static_cast<double>(n), secs);
    }
    // Test: the whole sequence in one forward (no truncation needed without gradients).
    NoGradGuard ng;
    model.eval();
    double correct = 0;
    for (int64_t s = 0; s < xte.size(0); s += 1000) {
      const int64_t m = std::min<int64_t>(1000, xte.size(0) - s);
      Tensor x = xte.narrow(0, s, m).to(dev), y = yte.narrow(0, s, m).to(dev);
      Tensor h, c;
      Tensor logits = model.chunk(x, h, c);
      correct += sum(eq(argmax(logits, 1), y).to(DType::i64)).item();
    }
    std::printf("test accuracy %.2f%% on %lld images\n", 100.0 * correct / static_cast<double>(xte.size(0)),
                (long long)xte.size(0));
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
