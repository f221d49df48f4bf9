// Datasets, collation and the DataLoader with background workers (see dataset.h).
#include "galen/data/dataset.h"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <utility>

#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/data/generator.h"
#ifdef GALEN_WITH_CUDA
#include "galen/kernels/cuda/cuda_backend.h"
#endif

namespace galen::data {

namespace {

// Key of the current epoch's sample streams, set by the loader around
// get_batch so the default Dataset::get_batch can key each sample's stream.
thread_local std::optional<uint64_t> t_epoch_key;

struct EpochKeyScope {
  std::optional<uint64_t> prev;
  explicit EpochKeyScope(uint64_t k) : prev(t_epoch_key) { t_epoch_key = k; }
  ~EpochKeyScope() { t_epoch_key = prev; }
};

Tensor alloc_host(const Shape& shape, DType dtype, bool pinned) {
#ifdef GALEN_WITH_CUDA
  if (pinned && cuda_is_available()) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    const size_t nb = static_cast<size_t>(n) * element_size(dtype);
    if (nb > 0) {
      void* p = kernels::cuda_host_alloc(nb);
      return from_blob(p, shape, dtype, Device{}, [](void* q) { kernels::cuda_host_free(q); });
    }
  }
#else
  (void)pinned;
#endif
  return empty(shape, dtype);
}

// Stacks tensors (all of one shape and dtype) along a new dim 0.
Tensor stack_into(const std::vector<const Tensor*>& xs, const char* what, bool pinned) {
  const Tensor& first = *xs.front();
  Shape shape = first.sizes();
  shape.insert(shape.begin(), static_cast<int64_t>(xs.size()));
  Tensor out = alloc_host(shape, first.dtype(), pinned);
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = *xs[i];
    GALEN_CHECK(x.sizes() == first.sizes() && x.dtype() == first.dtype(), "collate: ", what, " ", i,
                " has shape ", x.sizes(), " and dtype ", dtype_name(x.dtype()), ", but ", what, " 0 has shape ",
                first.sizes(), " and dtype ", dtype_name(first.dtype()));
    out.select(0, static_cast<int64_t>(i)).copy_(x.detach());
  }
  return out;
}

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

// ---- datasets -----------------------------------------------------------------

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<Example> ex;
  ex.reserve(indices.size());
  for (int64_t i : indices) {
    if (t_epoch_key) {
      Generator g(mix_seed(*t_epoch_key, static_cast<uint64_t>(i)));
      GeneratorScope scope(&g);
      ex.push_back(get(i));
    } else {
      ex.push_back(get(i));
    }
  }
  return collate(ex, indices);
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  GALEN_CHECK(inputs_.defined() && inputs_.dim() >= 1, "TensorDataset: inputs must have at least one dim");
  n_ = inputs_.size(0);
  if (targets_.defined())
    GALEN_CHECK(targets_.dim() >= 1 && targets_.size(0) == n_, "TensorDataset: inputs have ", n_,
                " rows but targets have shape ", targets_.sizes());
}

Example TensorDataset::get(int64_t i) const {
  GALEN_CHECK(i >= 0 && i < n_, "TensorDataset: index ", i, " out of range [0, ", n_, ")");
  return {inputs_.select(0, i), targets_.defined() ? targets_.select(0, i) : Tensor()};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  for (int64_t i : indices) GALEN_CHECK(i >= 0 && i < n_, "TensorDataset: index ", i, " out of range [0, ", n_, ")");
  const Tensor idx = from_vector<int64_t>(indices, {static_cast<int64_t>(indices.size())}).to(inputs_.device());
  Batch b;
  b.input = index_select(inputs_.detach(), 0, idx);
  if (targets_.defined()) b.target = index_select(targets_.detach(), 0, idx.to(targets_.device()));
  b.indices = indices;
  return b;
}

MapDataset::MapDataset(std::shared_ptr<const Dataset> base, Fn fn) : base_(std::move(base)), fn_(std::move(fn)) {
  GALEN_CHECK(base_ != nullptr, "MapDataset: base dataset is null");
  GALEN_CHECK(static_cast<bool>(fn_), "MapDataset: function is empty");
}

Example MapDataset::get(int64_t i) const { return fn_(base_->get(i)); }

// ---- collation ----------------------------------------------------------------

Batch collate(const std::vector<Example>& examples, const std::vector<int64_t>& indices, bool pinned) {
  GALEN_CHECK(!examples.empty(), "collate: no examples");
  GALEN_CHECK(indices.empty() || indices.size() == examples.size(), "collate: ", examples.size(),
              " examples but ", indices.size(), " indices");
  std::vector<const Tensor*> in, tg;
  const bool has_target = examples.front().target.defined();
  for (size_t i = 0; i < examples.size(); ++i) {
    GALEN_CHECK(examples[i].input.defined(), "collate: example ", i, " has no input");
    GALEN_CHECK(examples[i].target.defined() == has_target, "collate: example ", i,
                (has_target ? " has no target but example 0 has one" : " has a target but example 0 has none"));
    in.push_back(&examples[i].input);
    if (has_target) tg.push_back(&examples[i].target);
  }
  Batch b;
  b.input = stack_into(in, "input", pinned);
  if (has_target) b.target = stack_into(tg, "target", pinned);
  b.indices = indices;
  if (b.indices.empty()) {
    b.indices.resize(examples.size());
    std::iota(b.indices.begin(), b.indices.end(), int64_t{0});
  }
  return b;
}

Tensor pin_memory(const Tensor& t) {
#ifdef GALEN_WITH_CUDA
  if (t.defined() && t.device().is_cpu() && cuda_is_available()) {
    Tensor out = alloc_host(t.sizes(), t.dtype(), true);
    out.copy_(t.detach());
    return out;
  }
#endif
  return t;
}

// ---- the loader ------------------------------------------------------------------

struct DataLoader::Epoch {
  struct Result {
    Batch batch;
    std::exception_ptr error;
    int worker = -1;
  };
  int64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t nbatches = 0;
  int64_t window = 0;
  int64_t consumed = 0;  // batches handed to the consumer so far
  Batch current;
  bool has_current = false;

  std::mutex mu;
  std::condition_variable cv;
  int64_t next_claim = 0;
  bool stopping = false;
  std::map<int64_t, Result> ready;
  std::vector<std::thread> threads;

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stopping = true;
    }
    cv.notify_all();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    threads.clear();
  }
  ~Epoch() { shutdown(); }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), opt_(options) {
  GALEN_CHECK(dataset_ != nullptr, "DataLoader: dataset is null");
  GALEN_CHECK(opt_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", opt_.batch_size);
  GALEN_CHECK(opt_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", opt_.num_workers);
  GALEN_CHECK(opt_.prefetch >= 1, "DataLoader: prefetch must be >= 1, got ", opt_.prefetch);
}

DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    : DataLoader(std::shared_ptr<const Dataset>(&dataset, [](const Dataset*) {}), options) {}

DataLoader::~DataLoader() { stop(); }

void DataLoader::stop() { cur_.reset(); }

int64_t DataLoader::size() const {
  const int64_t n = dataset_->size(), bs = opt_.batch_size;
  return opt_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  const int64_t n = dataset_->size();
  if (opt_.shuffle) return permutation(n, mix_seed(opt_.seed, static_cast<uint64_t>(epoch)));
  std::vector<int64_t> o(static_cast<size_t>(n));
  std::iota(o.begin(), o.end(), int64_t{0});
  return o;
}

Batch DataLoader::make_batch(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const {
  const int64_t bs = opt_.batch_size;
  const int64_t lo = b * bs, hi = std::min<int64_t>(lo + bs, static_cast<int64_t>(order.size()));
  std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
  // Sample streams are keyed by (seed, epoch, index); the epoch part differs
  // from the shuffle key (a third word) so the two streams never coincide.
  EpochKeyScope key(mix_seed(opt_.seed, static_cast<uint64_t>(epoch), 0x5A4D504Cull));
  Batch batch = dataset_->get_batch(idx);
  GALEN_CHECK(batch.input.defined() && batch.input.dim() >= 1 && batch.input.size(0) == hi - lo,
              "DataLoader: get_batch returned an input of shape ",
              batch.input.defined() ? batch.input.sizes() : Shape{}, " for ", hi - lo, " indices");
  if (opt_.pin_memory) {
    batch.input = pin_memory(batch.input);
    batch.target = pin_memory(batch.target);
  }
  batch.indices = std::move(idx);
  batch.index = b;
  return batch;
}

DataLoader::Iterator DataLoader::begin() {
  stop();
  auto e = std::make_unique<Epoch>();
  e->epoch = next_epoch_++;
  e->order = order(e->epoch);
  e->nbatches = size();
  e->window = static_cast<int64_t>(opt_.num_workers) * opt_.prefetch;
  Epoch* ep = e.get();
  cur_ = std::move(e);
  for (int w = 0; w < opt_.num_workers && w < ep->nbatches; ++w) {
    ep->threads.emplace_back([this, ep, w] {
      for (;;) {
        int64_t b;
        {
          std::unique_lock<std::mutex> lk(ep->mu);
          ep->cv.wait(lk, [&] {
            return ep->stopping || ep->next_claim >= ep->nbatches || ep->next_claim < ep->consumed + ep->window;
          });
          if (ep->stopping || ep->next_claim >= ep->nbatches) return;
          b = ep->next_claim++;
        }
        Epoch::Result r;
        r.worker = w;
        try {
          r.batch = make_batch(ep->epoch, b, ep->order);
        } catch (...) {
          r.error = std::current_exception();
        }
        {
          std::lock_guard<std::mutex> lk(ep->mu);
          ep->ready.emplace(b, std::move(r));
        }
        ep->cv.notify_all();
      }
    });
  }
  advance();
  return Iterator(this);
}

void DataLoader::advance() {
  Epoch& e = *cur_;
  e.has_current = false;
  e.current = Batch{};
  if (e.consumed >= e.nbatches) return;
  const int64_t b = e.consumed;
  auto fail = [&](const std::exception_ptr& err, int worker) {
    const std::string what = describe(err);
    e.consumed = e.nbatches;  // the epoch is over
    e.shutdown();
    const int64_t bs = opt_.batch_size;
    const int64_t lo = b * bs, hi = std::min<int64_t>(lo + bs, static_cast<int64_t>(e.order.size()));
    GALEN_FAIL("DataLoader: batch ", b, " of epoch ", e.epoch, " (positions ", lo, "..", hi - 1, " of the order",
               worker >= 0 ? ", made by worker " + std::to_string(worker) : std::string(), ") failed: ", what);
  };
  if (opt_.num_workers == 0) {
    try {
      e.current = make_batch(e.epoch, b, e.order);
    } catch (...) {
      fail(std::current_exception(), -1);
    }
    ++e.consumed;
  } else {
    Epoch::Result r;
    {
      std::unique_lock<std::mutex> lk(e.mu);
      e.cv.wait(lk, [&] { return e.ready.count(b) > 0; });
      auto it = e.ready.find(b);
      r = std::move(it->second);
      e.ready.erase(it);
      ++e.consumed;
    }
    e.cv.notify_all();
    if (r.error) fail(r.error, r.worker);
    e.current = std::move(r.batch);
  }
  e.has_current = true;
}

Batch& DataLoader::Iterator::operator*() const {
  GALEN_CHECK(!done(), "DataLoader::Iterator: dereferencing the end of the epoch");
  return loader_->cur_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  GALEN_CHECK(!done(), "DataLoader::Iterator: incrementing past the end of the epoch");
  loader_->advance();
  return *this;
}

bool DataLoader::Iterator::done() const {
  return loader_ == nullptr || loader_->cur_ == nullptr || !loader_->cur_->has_current;
}

}  // namespace galen::data
