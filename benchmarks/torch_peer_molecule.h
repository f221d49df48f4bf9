// The LibTorch peer of bench_molecule.cpp: the zoo's GIN-E and MPNN
// (zoo/molecule.h) written in plain LibTorch, message passing with
// index_select / index_add as PyG does on CPU, trained for one epoch (forward,
// MSE, backward, Adam) over pre-collated batches, behind a torch-free
// interface (see torch_peer.h for the pattern).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace galen_bench::torch_peer {

// One collated batch as host arrays (copied by the peer at setup): x (N, F) f32,
// edge_index (2, E) i64 (row 0 source, row 1 target), edge_attr (E, D) f32,
// batch (N) i64 sorted, y (G) f32.
struct MolBatch {
  const float* x;
  int64_t N, F;
  const int64_t* edge_index;
  int64_t E;
  const float* edge_attr;
  int64_t D;
  const int64_t* batch;
  int64_t G;
  const float* y;
};

// The architecture of zoo::MolGNNConfig with readout "sum" and no dropout.
struct MolSpec {
  std::string model;  // "gine" or "mpnn"
  int64_t hidden = 64, layers = 4, head_hidden = 64, edge_hidden = 32;
};

#ifdef GALEN_BENCH_HAVE_TORCH
// One training epoch over all batches (Adam, lr 1e-3).
std::function<void()> molecule_epoch(const std::vector<MolBatch>& batches, const MolSpec& spec);
#else
inline std::function<void()> molecule_epoch(const std::vector<MolBatch>&, const MolSpec&) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
