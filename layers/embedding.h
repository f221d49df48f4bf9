// Embedding: a lookup table of num_embeddings vectors of size embedding_dim.
#pragma once

#include "galen/layers/module.h"

namespace galen::nn {

// indices (any shape, i64/i32) -> (*indices.shape, embedding_dim). weight (num_embeddings, embedding_dim),
// initialised N(0, 1) as in PyTorch.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  std::string name() const override { return "Embedding"; }
  Tensor forward(const Tensor &indices) override;
  void reset_parameters();

  int64_t num_embeddings, embedding_dim;
  Tensor weight;

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
