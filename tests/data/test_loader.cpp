// Datasets and the DataLoader: order, shuffling determinism (independent of
// num_workers), drop_last, partial batches, worker errors, early exit.
#include <atomic>
#include <chrono>
#include <thread>

#include "galen/data/dataset.h"
#include "galen/data/generator.h"
#include "galen/data/transforms.h"
#include "test_util.h"

using namespace galen;
using data::DataLoader;
using data::DataLoaderOptions;

namespace {

// inputs[i] = (i, 10 i, 100 i) as f32, targets[i] = i (i64).
std::shared_ptr<data::TensorDataset> numbered(int64_t n) {
  Tensor idx = arange(static_cast<double>(n), DType::f32);
  Tensor x = stack({idx, mul(idx, 10.0), mul(idx, 100.0)}, 1);
  return std::make_shared<data::TensorDataset>(x, arange(static_cast<double>(n)));
}

// A dataset built on Dataset::get only (the default get_batch path).
struct Counting : data::Dataset {
  int64_t n;
  int64_t fail_at = -1;
  int sleep_us = 0;
  mutable std::atomic<int64_t> calls{0};
  explicit Counting(int64_t n_) : n(n_) {}
  int64_t size() const override { return n; }
  data::Example get(int64_t i) const override {
    ++calls;
    if (sleep_us) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    GALEN_CHECK(i != fail_at, "Counting: sample ", i, " is broken");
    return {add(arange(4.0, DType::f32).reshape({2, 2}), 10.0 * static_cast<double>(i)),
            scalar_tensor(static_cast<double>(i), DType::i64)};
  }
};

std::vector<std::vector<int64_t>> epoch_indices(DataLoader& l) {
  std::vector<std::vector<int64_t>> out;
  for (auto& b : l) out.push_back(b.indices);
  return out;
}

}  // namespace

TEST_CASE("DataLoader: sequential batches, last partial batch, drop_last", "[data][loader]") {
  auto ds = numbered(10);
  DataLoader l(ds, {.batch_size = 4});
  REQUIRE(l.size() == 3);
  std::vector<int64_t> sizes;
  int64_t expect = 0;
  for (auto& b : l) {
    REQUIRE(b.index == static_cast<int64_t>(sizes.size()));
    sizes.push_back(b.size());
    REQUIRE(b.input.sizes() == Shape{b.size(), 3});
    REQUIRE(b.target.sizes() == Shape{b.size()});
    const auto t = b.target.to_vector<int64_t>();
    const auto x = b.input.to_vector<float>();
    for (int64_t r = 0; r < b.size(); ++r, ++expect) {
      REQUIRE(t[r] == expect);
      REQUIRE(b.indices[r] == expect);
      REQUIRE(x[r * 3 + 2] == 100.0f * expect);
    }
  }
  REQUIRE(sizes == std::vector<int64_t>{4, 4, 2});

  DataLoader d(ds, {.batch_size = 4, .drop_last = true});
  REQUIRE(d.size() == 2);
  REQUIRE(epoch_indices(d).size() == 2);
  DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
  REQUIRE(epoch_indices(exact).size() == 2);
}

TEST_CASE("DataLoader: empty dataset and bad options", "[data][loader]") {
  auto empty_ds = std::make_shared<data::TensorDataset>(zeros({0, 3}));
  DataLoader l(empty_ds, {.batch_size = 4, .num_workers = 2});
  REQUIRE(l.size() == 0);
  REQUIRE(l.begin() == l.end());
  REQUIRE_THROWS_AS(DataLoader(empty_ds, {.batch_size = 0}), Error);
  REQUIRE_THROWS_AS(DataLoader(empty_ds, {.num_workers = -1}), Error);
  REQUIRE_THROWS_AS(data::TensorDataset(zeros({3, 2}), zeros({4})), Error);
}

TEST_CASE("DataLoader: seeded shuffle is a permutation, reproducible, independent of num_workers",
          "[data][loader]") {
  auto ds = numbered(37);
  const auto state_before = get_rng_state();
  std::vector<std::vector<std::vector<int64_t>>> runs;  // [workers][epoch*batches]
  for (int workers : {0, 1, 3}) {
    DataLoader l(ds, {.batch_size = 5, .shuffle = true, .seed = 42, .num_workers = workers, .prefetch = 1});
    std::vector<std::vector<int64_t>> all;
    for (int e = 0; e < 3; ++e)
      for (auto& b : l) {
        // the batch rows are the dataset rows named by the indices
        const auto t = b.target.to_vector<int64_t>();
        REQUIRE(t == b.indices);
        all.push_back(b.indices);
      }
    runs.push_back(all);
  }
  REQUIRE(runs[0] == runs[1]);
  REQUIRE(runs[0] == runs[2]);
  // the global generator is untouched by shuffling
  REQUIRE(get_rng_state().seed == state_before.seed);
  REQUIRE(get_rng_state().offset == state_before.offset);

  DataLoader l(ds, {.batch_size = 37, .shuffle = true, .seed = 42});
  const auto e0 = l.order(0), e1 = l.order(1);
  REQUIRE(e0 != e1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 37; ++i) REQUIRE(sorted[i] == i);
  REQUIRE(epoch_indices(l).front() == e0);
  REQUIRE(l.epoch() == 1);
  // A different seed gives a different order.
  DataLoader other(ds, {.batch_size = 37, .shuffle = true, .seed = 43});
  REQUIRE(other.order(0) != e0);
  // set_epoch replays an epoch (resuming from a checkpoint).
  l.set_epoch(0);
  REQUIRE(epoch_indices(l).front() == e0);

  // The permutation is galen::randperm's on the Philox stream {mix_seed(seed, epoch), 0}.
  set_rng_state({data::mix_seed(42, 1), 0});
  REQUIRE(randperm(37).to_vector<int64_t>() == e1);
  set_rng_state(state_before);
}

TEST_CASE("DataLoader: random transforms are the same for any num_workers", "[data][loader]") {
  auto base = std::make_shared<Counting>(23);
  // Angles, translations, scales and flips come from per-sample streams, so the
  // batches agree bit for bit whatever the number of workers.
  auto clean = std::make_shared<data::MapDataset>(base, [](data::Example ex) {
    Tensor img = ex.input.unsqueeze(0).to(DType::f32);
    img = data::random_affine(img, 45.0, {0.2, 0.2}, {0.8, 1.2});
    return data::Example{data::random_horizontal_flip(img), ex.target};
  });
  std::vector<Tensor> ref;
  for (int workers : {0, 3}) {
    DataLoader l(clean, {.batch_size = 4, .shuffle = true, .seed = 7, .num_workers = workers});
    size_t k = 0;
    for (int e = 0; e < 2; ++e)
      for (auto& b : l) {
        if (workers == 0) ref.push_back(b.input);
        else REQUIRE(equal(b.input, ref[k++]));
      }
    if (workers != 0) REQUIRE(k == ref.size());
  }
  // And the two epochs differ (a new stream per epoch).
  REQUIRE_FALSE(equal(ref[0], ref[ref.size() / 2]));
}

TEST_CASE("DataLoader: default collation through Dataset::get", "[data][loader]") {
  auto ds = std::make_shared<Counting>(7);
  DataLoader l(ds, {.batch_size = 3, .num_workers = 2});
  int64_t n = 0;
  for (auto& b : l) {
    REQUIRE(b.input.sizes() == Shape{b.size(), 2, 2});
    REQUIRE(b.target.dtype() == DType::i64);
    REQUIRE(b.target.to_vector<int64_t>() == b.indices);
    n += b.size();
  }
  REQUIRE(n == 7);
  // Mismatched shapes are an Error naming the example.
  std::vector<data::Example> bad = {{zeros({2}), Tensor()}, {zeros({3}), Tensor()}};
  REQUIRE_THROWS_WITH(data::collate(bad, {}), Catch::Contains("input 1 has shape [3]"));
}

TEST_CASE("DataLoader: a failing sample surfaces as an Error naming the batch", "[data][loader]") {
  for (int workers : {0, 1, 3}) {
    INFO("num_workers " << workers);
    auto ds = std::make_shared<Counting>(20);
    ds->fail_at = 13;  // batch 3 with batch_size 4, no shuffle
    DataLoader l(ds, {.batch_size = 4, .num_workers = workers});
    int64_t seen = 0;
    std::string msg;
    try {
      for (auto& b : l) seen += b.size();
    } catch (const Error& e) {
      msg = e.what();
    }
    REQUIRE(seen == 12);
    REQUIRE_THAT(msg, Catch::Contains("batch 3 of epoch 0"));
    REQUIRE_THAT(msg, Catch::Contains("sample 13 is broken"));
    if (workers > 0) REQUIRE_THAT(msg, Catch::Contains("worker"));
    // The loader is usable again afterwards (the next epoch fails the same way).
    REQUIRE_THROWS_AS([&] { for (auto& b : l) (void)b; }(), Error);
  }
}

TEST_CASE("DataLoader: leaving an epoch early stops the workers", "[data][loader]") {
  auto ds = std::make_shared<Counting>(400);
  ds->sleep_us = 200;
  {
    DataLoader l(ds, {.batch_size = 4, .num_workers = 2, .prefetch = 2});
    int k = 0;
    for (auto& b : l) {
      (void)b;
      if (++k == 2) break;
    }
    // A new range-for starts the next epoch from its beginning.
    for (auto& b : l) {
      REQUIRE(b.index == 0);
      REQUIRE(b.indices.front() == 0);
      break;
    }
  }  // destructor joins mid-epoch
  // Only a bounded window of batches was made ahead: far fewer than 100 batches.
  REQUIRE(ds->calls.load() < 4 * 20);
}

TEST_CASE("DataLoader: pin_memory works (a plain copy without CUDA)", "[data][loader]") {
  auto ds = numbered(9);
  DataLoader l(ds, {.batch_size = 4, .num_workers = 1, .pin_memory = true});
  int64_t total = 0;
  for (auto& b : l) {
    REQUIRE(b.input.device().is_cpu());
    total += static_cast<int64_t>(sum(b.target).item());
  }
  REQUIRE(total == 36);
  Tensor t = arange(6.0, DType::f32);
  REQUIRE(equal(data::pin_memory(t), t));
}

TEST_CASE("Generator streams are Philox and reproducible", "[data][loader]") {
  data::Generator a(99), b(99), c(100);
  const double x = a.uniform();
  REQUIRE(x == b.uniform());
  REQUIRE(x != c.uniform());
  // Same numbers as galen::rand in f64 under state {99, 0}.
  const auto saved = get_rng_state();
  set_rng_state({99, 0});
  const auto r = rand({2}, DType::f64).to_vector<double>();
  set_rng_state(saved);
  REQUIRE(r[0] == x);
  REQUIRE(r[1] == a.uniform());
  for (int i = 0; i < 100; ++i) {
    const int64_t v = a.randint(-3, 4);
    REQUIRE((v >= -3 && v < 4));
  }
  REQUIRE(data::current_generator() == nullptr);
  {
    data::GeneratorScope s(&c);
    REQUIRE(data::current_generator() == &c);
  }
  REQUIRE(data::current_generator() == nullptr);
}

TEST_CASE("DataLoader: pin_memory batches copy to the GPU intact", "[data][loader][cuda]") {
  GALEN_REQUIRE_CUDA();
  auto ds = numbered(11);
  DataLoader l(ds, {.batch_size = 4, .num_workers = 2, .pin_memory = true});
  for (auto& b : l) {
    REQUIRE(b.input.device().is_cpu());
    Tensor g = b.input.cuda();
    REQUIRE(g.device().is_cuda());
    REQUIRE(equal(g.cpu(), b.input));
    REQUIRE(b.target.to_vector<int64_t>() == b.indices);
  }
}
