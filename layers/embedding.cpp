// Embedding module over galen::embedding.
#include "galen/layers/embedding.h"

#include "galen/core/ops.h"
#include "galen/layers/init.h"

namespace galen::nn {

Embedding::Embedding(int64_t num, int64_t dim) : num_embeddings(num), embedding_dim(dim) {
  GALEN_CHECK(num >= 1 && dim >= 1, "Embedding: num_embeddings and embedding_dim must be >= 1, got ", num, " and ",
              dim);
  weight = register_parameter("weight", empty({num, dim}));
  reset_parameters();
}

void Embedding::reset_parameters() { init::normal_(weight, 0.0, 1.0); }

Tensor Embedding::forward(const Tensor &indices) { return embedding(weight, indices); }

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

}  // namespace galen::nn
