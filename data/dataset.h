// Datasets and the DataLoader: indexable collections of examples, and an
// iterable over shuffled, collated batches with optional background workers.
//
//   data::TensorDataset ds(images, labels);          // slices along dim 0
//   data::DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .seed = 1,
//                                .num_workers = 2});
//   for (int epoch = 0; epoch < 5; ++epoch)
//     for (auto& batch : loader) step(batch.input, batch.target);
//
// Reproducibility: the order of epoch e is a permutation drawn from a Philox
// stream keyed by mix_seed(seed, e) (generator.h), and every sample is fetched
// with its own stream keyed by (seed, e, index) installed as the thread's
// current generator, so random transforms inside Dataset::get give the same
// numbers whatever num_workers is. Batches are always delivered in order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::data {

// One example: an input and a target (the target may be undefined for
// unlabelled data; then batches have an undefined target too).
struct Example {
  Tensor input;
  Tensor target;
};

// A collated batch: input (B, ...) and target (B, ...), stacked along a new
// dim 0, plus the dataset indices of its rows and its position in the epoch.
struct Batch {
  Tensor input;
  Tensor target;
  std::vector<int64_t> indices;
  int64_t index = 0;  // batch number within the epoch
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example i, 0 <= i < size(). Must be safe to call from several threads at
  // once (the loader's workers do).
  virtual Example get(int64_t i) const = 0;
  // The examples at `indices`, stacked. The default calls get() for each
  // index and collates; datasets that can gather a batch at once (such as
  // TensorDataset) override it. Overrides that use random numbers should take
  // them from current_generator().
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
};

// Rows of `inputs` (and `targets`, when given) along dim 0. The tensors must
// agree in their first dimension.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets = Tensor());
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
  int64_t n_ = 0;
};

// Another dataset with a function applied to each example (transforms).
class MapDataset : public Dataset {
 public:
  using Fn = std::function<Example(Example)>;
  MapDataset(std::shared_ptr<const Dataset> base, Fn fn);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t i) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  Fn fn_;
};

// Stacks examples along a new dim 0 (every input must have the same shape and
// dtype, likewise every target). With `pinned`, the result lives in
// page-locked host memory when CUDA is available (a plain copy otherwise).
Batch collate(const std::vector<Example>& examples, const std::vector<int64_t>& indices,
              bool pinned = false);
// A copy of `t` (CPU) in page-locked host memory when built with CUDA and a GPU
// is present; otherwise `t` itself.
Tensor pin_memory(const Tensor& t);

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  // 0: batches are made on the calling thread when asked for. N > 0: N
  // background threads make them ahead of time.
  int num_workers = 0;
  // With workers: batches each worker may have ready or in flight ahead of
  // the consumer (like PyTorch's prefetch_factor); the queue holds at most
  // num_workers * prefetch batches.
  int prefetch = 2;
  // Collate into page-locked memory (faster, asynchronous copies to a GPU);
  // a no-op without CUDA.
  bool pin_memory = false;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  // Non-owning: `dataset` must outlive the loader.
  DataLoader(const Dataset& dataset, DataLoaderOptions options = {});
  ~DataLoader();  // stops and joins the workers, even mid-epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches per epoch.
  int64_t size() const;
  const DataLoaderOptions& options() const { return opt_; }
  const Dataset& dataset() const { return *dataset_; }

  // The epoch the next begin() starts (0 at construction, +1 per begin()).
  // Set it when resuming from a checkpoint to get that epoch's order.
  int64_t epoch() const { return next_epoch_; }
  void set_epoch(int64_t e) { next_epoch_ = e; }
  // The sample order of epoch e (the identity when not shuffling).
  std::vector<int64_t> order(int64_t epoch) const;

  class Iterator {
   public:
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return done() == o.done(); }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* l) : loader_(l) {}
    bool done() const;
    DataLoader* loader_;  // null for end()
  };
  // Starts the next epoch (ending an unfinished one) and fetches its first
  // batch. A worker's exception reaches the caller of begin() / ++ as a
  // galen::Error naming the batch.
  Iterator begin();
  Iterator end() { return Iterator(nullptr); }

  // Ends the current epoch early and joins the workers (the destructor does it too).
  void stop();

 private:
  struct Epoch;
  Batch make_batch(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const;
  void advance();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions opt_;
  int64_t next_epoch_ = 0;
  std::unique_ptr<Epoch> cur_;
};

}  // namespace galen::data
