// IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed.
// Layout: 2 zero bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
// 0x0D f32, 0x0E f64), the number of dims, one big-endian u32 per dim, then the
// big-endian data. The reader checks every size against the actual length.
#pragma once

#include <string>

#include "galen/core/tensor.h"

namespace galen::data {

// Reads an IDX file (".gz" or not: detected from the gzip magic bytes) into a
// CPU tensor: u8 stays u8, i8/i16/i32 become i32, f32 and f64 keep their type.
// Throws galen::Error naming the file for a missing, truncated, oversized or
// malformed file.
Tensor read_idx(const std::string& path);
// The same from bytes already in memory (`what` names them in errors).
Tensor parse_idx(const std::string& bytes, const std::string& what);

// Whole file into memory, transparently gunzipping gzip files.
std::string read_file_maybe_gz(const std::string& path);

}  // namespace galen::data
