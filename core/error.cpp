// Error formatting: the message first, then where it was raised.
#include "galen/core/error.h"

#include <cstring>

namespace galen::detail {

void throw_error(const char* file, int line, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  throw Error(msg + " (" + base + ":" + std::to_string(line) + ")");
}

}  // namespace galen::detail
