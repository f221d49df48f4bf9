// galen::Error and the GALEN_CHECK macro: every argument check in the library
// throws an Error whose message names the op, the offending shapes/dtypes and
// the file:line of the check.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace galen {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {

template <typename T>
void stream_one(std::ostringstream& os, const T& v) {
  os << v;
}
template <typename T>
void stream_one(std::ostringstream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (stream_one(os, args), ...);
  return os.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);

}  // namespace detail
}  // namespace galen

// GALEN_CHECK(cond, "op: what went wrong, got ", x.sizes());
#define GALEN_CHECK(cond, ...)                                                     \
  do {                                                                             \
    if (!(cond)) ::galen::detail::throw_error(__FILE__, __LINE__,                  \
                                              ::galen::detail::concat(__VA_ARGS__)); \
  } while (0)

#define GALEN_FAIL(...) \
  ::galen::detail::throw_error(__FILE__, __LINE__, ::galen::detail::concat(__VA_ARGS__))
