// Private random streams for the data pipeline. The data loader must give the
// same shuffles and the same augmentations whatever its number of worker
// threads, so it cannot draw from the global generator (whose offset would
// depend on the order threads reach it). Instead each epoch and each sample get
// their own Philox4x32-10 stream, keyed by a hash of (seed, epoch[, index]):
// the same generator as galen::rand, just a different key.
#pragma once

#include <cstdint>
#include <vector>

#include "galen/core/random.h"

namespace galen::data {

// splitmix64-style mixing of a few words into one 64-bit key.
uint64_t mix_seed(uint64_t a, uint64_t b);
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c);

// A Philox stream with state (key, offset): draw k uses block(offset + k, 0, key),
// exactly as the global generator does with state {seed = key, offset}. Not
// thread-safe; one per thread / sample.
class Generator {
 public:
  explicit Generator(uint64_t key = 0, uint64_t offset = 0) : key_(key), offset_(offset) {}
  double uniform();                         // [0, 1), 53 bits
  double uniform(double lo, double hi);     // [lo, hi)
  int64_t randint(int64_t lo, int64_t hi);  // [lo, hi), hi > lo
  GeneratorState state() const { return {key_, offset_}; }

 private:
  uint64_t key_, offset_;
};

// The generator random transforms use on this thread when none is passed
// explicitly: the data loader installs one per sample (keyed by seed, epoch
// and sample index) around Dataset::get. Null when none is installed; the
// transforms then draw from the global generator (galen::rand).
Generator* current_generator();

// Installs `g` as this thread's current generator for the guard's lifetime.
class GeneratorScope {
 public:
  explicit GeneratorScope(Generator* g);
  ~GeneratorScope();
  GeneratorScope(const GeneratorScope&) = delete;
  GeneratorScope& operator=(const GeneratorScope&) = delete;

 private:
  Generator* prev_;
};

// One U[0,1) number from `g`, else the current generator, else the global one.
double draw_uniform(Generator* g = nullptr);

// A permutation of 0..n-1: galen::randperm's Fisher-Yates on the Philox stream
// with state {key, 0}. Equal to galen::randperm(n) run after
// set_rng_state({key, 0}), but without touching the global state.
std::vector<int64_t> permutation(int64_t n, uint64_t key);

}  // namespace galen::data
