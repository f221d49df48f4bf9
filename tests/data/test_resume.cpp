// Resuming from a checkpoint reproduces the next epoch bit for bit on the CPU:
// model, Adam state, LR schedule, the global RNG (dropout) and the loader's
// shuffle all come back.
#include <unistd.h>

#include <filesystem>

#include "galen/data/checkpoint.h"
#include "galen/data/dataset.h"
#include "galen/layers/activation.h"
#include "galen/layers/dropout.h"
#include "galen/layers/linear.h"
#include "galen/optim/adam.h"
#include "galen/optim/scheduler.h"
#include "test_util.h"

using namespace galen;

namespace {
struct Run {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  std::unique_ptr<data::DataLoader> loader;

  Run(std::shared_ptr<const data::Dataset> ds, uint64_t init_seed) {
    manual_seed(init_seed);
    model = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(4, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.3),
        std::make_shared<nn::Linear>(16, 3)});
    opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
    sched = std::make_unique<optim::StepLR>(*opt, 1, 0.5);
    loader = std::make_unique<data::DataLoader>(
        ds, data::DataLoaderOptions{.batch_size = 8, .shuffle = true, .seed = 5, .num_workers = 2});
  }

  std::vector<float> epoch() {
    std::vector<float> losses;
    model->train();
    for (auto& b : *loader) {
      opt->zero_grad();
      Tensor loss = cross_entropy(model->forward(b.input), b.target);
      loss.backward();
      opt->step();
      losses.push_back(loss.item<float>());
    }
    sched->step();
    return losses;
  }
};
}  // namespace

TEST_CASE("resume from a checkpoint reproduces the next epoch bit for bit", "[data][checkpoint]") {
  manual_seed(0);
  auto ds = std::make_shared<data::TensorDataset>(randn({44, 4}), randint(0, 3, {44}));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("galen_resume_" + std::to_string(::getpid()) + ".ckpt")).string();

  Run a(ds, 1);
  a.epoch();
  data::Checkpoint ck;
  ck.model = a.model->state_dict();
  ck.optimizer = a.opt->state_dict();
  ck.scheduler = a.sched->state_dict();
  ck.epoch = a.loader->epoch();
  ck.rng = get_rng_state();
  data::save_checkpoint(path, ck);
  const auto expect = a.epoch();
  const auto expect_params = a.model->state_dict();

  Run b(ds, 999);  // a different initialisation and RNG state
  const auto back = data::load_checkpoint(path);
  b.model->load_state_dict(back.model);
  b.opt->load_state_dict(back.optimizer);
  b.sched->load_state_dict(back.scheduler);
  b.loader->set_epoch(back.epoch);
  set_rng_state(back.rng);
  const auto got = b.epoch();
  std::filesystem::remove(path);

  REQUIRE(got == expect);  // bit for bit
  for (const auto& [k, t] : b.model->state_dict()) {
    INFO(k);
    REQUIRE(equal(t, expect_params.at(k)));
  }
  REQUIRE(b.sched->get_last_lr() == a.sched->get_last_lr());
}
