// safetensors read/write: an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
// "__metadata__": {"k": "v"}}, then the raw little-endian data. The reader
// validates the header length, the JSON, every dtype, shape and offset against
// the file size before touching data: a truncated or hostile file is a
// galen::Error naming the file and the problem, never a crash.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // on CPU
  std::map<std::string, std::string> metadata;
};

// Writes atomically: to "<path>.tmp.<pid>", fsync, rename over `path`.
// Tensors on any device / layout are written as contiguous CPU data.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);
// In-memory forms (the file functions are built on these).
std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what = "<memory>");

}  // namespace galen
