// Shared by the MNIST examples: command line, data loading (IDX, real MNIST or
// Fashion-MNIST), the training loop (DataLoader, Adam, cross entropy, progress,
// per-epoch evaluation and checkpoint, --resume) and evaluation.
#pragma once

#include <galen/galen.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "cli.h"

namespace galen::examples {

namespace mnist {

struct Args {
  std::string data = "data/mnist";
  int epochs = 5, threads = 0, workers = 1;
  int64_t batch = 32;
  double lr = 1e-3;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string checkpoint = "mnist_mlp.ckpt.safetensors";
  bool resume = false;
  bool cosine = false;  // cosine-annealed learning rate over all steps (per batch)
};

inline void usage(const char* argv0) {
  std::printf(
      "usage: %s [--data DIR] [--epochs N] [--batch B] [--lr LR] [--device cpu|cuda] [--threads T]\n"
      "          [--workers W] [--seed S] [--checkpoint PATH] [--resume] [--cosine|--constant-lr]\n"
      "DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and\n"
      "t10k-labels-idx1-ubyte (each optionally .gz): MNIST via tools/fetch_mnist.sh, or\n"
      "Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).\n",
      argv0);
}

inline std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& cand : {dir + "/" + name, dir + "/" + name + ".gz"})
    if (std::filesystem::exists(cand)) return cand;
  GALEN_FAIL("mnist: ", name, "[.gz] not found in '", dir, "' (run tools/fetch_mnist.sh, or pass --data)");
}

// (N,28,28) u8 -> (N,28,28) f32 in [0,1].
inline Tensor load_images(const std::string& dir, const std::string& name) {
  return data::read_idx(find_file(dir, name)).to(DType::f32) / 255.0;
}
inline Tensor load_labels(const std::string& dir, const std::string& name) {
  return data::read_idx(find_file(dir, name)).to(DType::i64);
}

// Accuracy and mean loss of `model` over (x, y), in chunks, without autograd.
inline std::pair<double, double> evaluate(nn::Module& model, const Tensor& x, const Tensor& y, Device dev) {
  NoGradGuard ng;
  model.eval();
  double correct = 0, loss = 0;
  const int64_t n = x.size(0), chunk = 1000;
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t m = std::min(chunk, n - s);
    Tensor xb = x.narrow(0, s, m).to(dev), yb = y.narrow(0, s, m).to(dev);
    Tensor logits = model.forward(xb);
    loss += cross_entropy(logits, yb, Tensor(), -100, 0.0, Reduction::Sum).item();
    correct += sum(eq(argmax(logits, 1), yb).to(DType::i64)).item();
  }
  model.train();
  return {correct / static_cast<double>(n), loss / static_cast<double>(n)};
}

// Parses the command line, loads MNIST, trains `model` with Adam and the
// DataLoader, evaluates and checkpoints after every epoch. Returns the exit code.
inline int run(int argc, char** argv, const std::function<std::shared_ptr<nn::Module>()>& make_model, Args a) {
  galen::examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--data", a.data).number("--epochs", a.epochs).number("--batch", a.batch).number("--lr", a.lr);
  cli.text("--device", a.device).number("--threads", a.threads).number("--workers", a.workers);
  cli.number("--seed", a.seed).text("--checkpoint", a.checkpoint).flag("--resume", a.resume);
  cli.flag("--cosine", a.cosine).flag("--constant-lr", a.cosine, false);
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  try {
    if (a.threads > 0) set_num_threads(a.threads);
    const Device dev = Device::parse(a.device);
    manual_seed(a.seed);

    Tensor xtr = load_images(a.data, "train-images-idx3-ubyte");
    Tensor ytr = load_labels(a.data, "train-labels-idx1-ubyte");
    Tensor xte = load_images(a.data, "t10k-images-idx3-ubyte");
    Tensor yte = load_labels(a.data, "t10k-labels-idx1-ubyte");
    GALEN_CHECK(xtr.size(0) == ytr.size(0) && xte.size(0) == yte.size(0), "mnist: image and label counts differ");
    std::printf("data: %lld train / %lld test images from %s; device %s, %d threads\n", (long long)xtr.size(0),
                (long long)xte.size(0), a.data.c_str(), dev.str().c_str(), get_num_threads());

    std::shared_ptr<nn::Module> model = make_model();
    model->to(dev);
    optim::Adam opt(model->parameters(), optim::AdamOptions{a.lr});
    std::printf("%s\n%lld parameters\n", model->repr().c_str(), (long long)model->num_parameters());

    const int64_t batches = (xtr.size(0) + a.batch - 1) / a.batch;
    std::unique_ptr<optim::CosineAnnealingLR> sched;
    if (a.cosine) sched = std::make_unique<optim::CosineAnnealingLR>(opt, a.epochs * batches);

    int start_epoch = 0;
    if (a.resume && std::filesystem::exists(a.checkpoint)) {
      data::Checkpoint ck = data::load_checkpoint(a.checkpoint);
      model->load_state_dict(ck.model);
      opt.load_state_dict(ck.optimizer);
      if (sched) sched->load_state_dict(ck.scheduler);
      set_rng_state(ck.rng);
      start_epoch = static_cast<int>(ck.epoch);
      std::printf("resumed from %s after epoch %d\n", a.checkpoint.c_str(), start_epoch);
    }

    data::TensorDataset train(xtr, ytr);
    data::DataLoaderOptions lo;
    lo.batch_size = a.batch;
    lo.shuffle = true;
    lo.seed = a.seed;
    lo.num_workers = a.workers;
    lo.pin_memory = dev.is_cuda();
    data::DataLoader loader(train, lo);
    loader.set_epoch(start_epoch);  // the shuffle order of epoch e depends only on (seed, e)

    data::Progress progress(a.epochs, batches);
    for (int epoch = start_epoch; epoch < a.epochs; ++epoch) {
      progress.start_epoch(epoch);
      double correct = 0, seen = 0;
      for (data::Batch& b : loader) {
        Tensor x = b.input.to(dev), y = b.target.to(dev);
        Tensor logits = model->forward(x);
        Tensor loss = cross_entropy(logits, y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        if (sched) sched->step();
        {
          NoGradGuard ng;
          correct += sum(eq(argmax(logits, 1), y).to(DType::i64)).item();
        }
        seen += static_cast<double>(b.size());
        progress.step(loss.item(), b.size());
      }
      auto [test_acc, test_loss] = evaluate(*model, xte, yte, dev);
      char extra[128];
      std::snprintf(extra, sizeof extra, "train acc %.2f%%  test loss %.4f  test acc %.2f%%", 100.0 * correct / seen,
                    test_loss, 100.0 * test_acc);
      progress.end_epoch(extra);
      data::Checkpoint ck;
      ck.model = model->state_dict();
      ck.optimizer = opt.state_dict();
      if (sched) ck.scheduler = sched->state_dict();
      ck.epoch = epoch + 1;
      ck.rng = get_rng_state();
      data::save_checkpoint(a.checkpoint, ck);
    }
    auto [test_acc, test_loss] = evaluate(*model, xte, yte, dev);
    std::printf("final test accuracy %.2f%% (test loss %.4f); checkpoint %s\n", 100.0 * test_acc, test_loss,
                a.checkpoint.c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace mnist

}  // namespace galen::examples
