// A small, strict JSON reader/writer (RFC 8259) for file headers and metadata
// (safetensors, configs). Not a general-purpose library: no comments, no
// trailing commas, no NaN/Infinity; every error is a galen::Error
// "json: <problem> at byte N".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace galen::json {

class Value;
using Array = std::vector<Value>;
// Objects keep their members in document (or insertion) order; the parser
// refuses duplicate keys unless told otherwise.
using Object = std::vector<std::pair<std::string, Value>>;

enum class Type { null, boolean, number, string, array, object };
const char* type_name(Type t);

// A JSON number. Integer literals that fit in int64 keep their exact value
// (byte offsets above 2^53 must not round); everything is also kept as double.
struct Number {
  double value = 0.0;
  bool is_int = false;
  int64_t int_value = 0;
};

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}  // NOLINT
  Value(bool b) : v_(b) {}  // NOLINT
  Value(double d) : v_(Number{d, false, 0}) {}  // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(int64_t i) : v_(Number{static_cast<double>(i), true, i}) {}  // NOLINT
  Value(Number n) : v_(n) {}  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT
  Value(std::string s) : v_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT
  Value(Array a) : v_(std::move(a)) {}  // NOLINT
  Value(Object o) : v_(std::move(o)) {}  // NOLINT

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_number() const { return type() == Type::number; }
  // A number written without fraction or exponent that fits in int64.
  bool is_integer() const { return is_number() && std::get<Number>(v_).is_int; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  // Typed access; a wrong type throws galen::Error naming both types.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;  // requires is_integer()
  const Number& as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object member lookup: null when absent (or when this is not an object).
  const Value* find(std::string_view key) const;
  // Object member access, inserting null when absent (a null Value becomes {}).
  Value& operator[](std::string_view key);
  // Array append (a null Value becomes []).
  void push_back(Value v);
  size_t size() const;  // array / object length, 0 otherwise

 private:
  std::variant<std::nullptr_t, bool, Number, std::string, Array, Object> v_;
};

struct ParseOptions {
  int max_depth = 64;                // nesting of arrays/objects
  bool allow_duplicate_keys = false;  // if true, the last one wins
};

// Parses exactly one JSON value (surrounding whitespace allowed).
Value parse(std::string_view text, const ParseOptions& options = {});

// Compact output (no spaces). Strings are escaped as JSON requires; non-ASCII
// UTF-8 is written through unchanged. Non-finite doubles are refused.
std::string write(const Value& v);
// Appends s as a quoted, escaped JSON string.
void write_string(std::string& out, std::string_view s);

}  // namespace galen::json
