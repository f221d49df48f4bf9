// The LibTorch peer of bench_gnn.cpp: the same two-layer GCN and GIN written
// with plain LibTorch ops (index_select / index_add, as PyG's scatter does on
// CPU), behind a torch-free interface (see torch_peer.h for the pattern).
#pragma once

#include <cstdint>
#include <functional>

namespace galen_bench::torch_peer {

// A collated graph batch given as host arrays: x (N, F) f32, edge_index (2, E)
// i64 (row 0 source, row 1 target), batch (N) i64 sorted, G graphs.
struct GnnBatch {
  const float* x;
  int64_t N, F;
  const int64_t* edge_index;
  int64_t E;
  const int64_t* batch;
  int64_t G;
};

#ifdef GALEN_BENCH_HAVE_TORCH
// Forward + backward of sum(global_mean_pool(GCN2(x))) with GCN2 = GCNConv(F, H) ->
// ReLU -> GCNConv(H, H) (self-loops added and D^-1/2 (A+I) D^-1/2 computed every
// forward, as PyG's GCNConv without caching); parameter gradients dropped after.
std::function<void()> gnn_gcn2(const GnnBatch& b, int64_t hidden);
// The same for sum(global_add_pool(GIN2(x))), GIN2 = GINConv(MLP(F, H, H)) -> ReLU
// -> GINConv(MLP(H, H, H)), MLP = Linear, ReLU, Linear; eps = 0.
std::function<void()> gnn_gin2(const GnnBatch& b, int64_t hidden);
#else
inline std::function<void()> gnn_gcn2(const GnnBatch&, int64_t) { return {}; }
inline std::function<void()> gnn_gin2(const GnnBatch&, int64_t) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
