// Strict JSON parsing and compact writing for galen's file headers. The parser
// is a recursive-descent reader over a string_view with an explicit depth limit,
// so a hostile header cannot exhaust the stack.
#include "galen/core/json.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <unordered_set>

#include "galen/core/error.h"

namespace galen::json {

const char* type_name(Type t) {
  switch (t) {
    case Type::null: return "null";
    case Type::boolean: return "bool";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

// ---- Value ---------------------------------------------------------------------

namespace {
[[noreturn]] void wrong_type(Type want, Type got) {
  throw Error(std::string("json: expected ") + type_name(want) + ", got " + type_name(got));
}
}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) wrong_type(Type::boolean, type());
  return std::get<bool>(v_);
}
const Number& Value::as_number() const {
  if (!is_number()) wrong_type(Type::number, type());
  return std::get<Number>(v_);
}
double Value::as_double() const { return as_number().value; }
int64_t Value::as_int() const {
  const Number& n = as_number();
  if (!n.is_int) throw Error("json: expected an integer, got " + write(*this));
  return n.int_value;
}
const std::string& Value::as_string() const {
  if (!is_string()) wrong_type(Type::string, type());
  return std::get<std::string>(v_);
}
const Array& Value::as_array() const {
  if (!is_array()) wrong_type(Type::array, type());
  return std::get<Array>(v_);
}
Array& Value::as_array() {
  if (!is_array()) wrong_type(Type::array, type());
  return std::get<Array>(v_);
}
const Object& Value::as_object() const {
  if (!is_object()) wrong_type(Type::object, type());
  return std::get<Object>(v_);
}
Object& Value::as_object() {
  if (!is_object()) wrong_type(Type::object, type());
  return std::get<Object>(v_);
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& kv : std::get<Object>(v_))
    if (kv.first == key) return &kv.second;
  return nullptr;
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) v_ = Object{};
  Object& o = as_object();
  for (auto& kv : o)
    if (kv.first == key) return kv.second;
  o.emplace_back(std::string(key), Value());
  return o.back().second;
}

void Value::push_back(Value v) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(v));
}

size_t Value::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  return 0;
}

// ---- parser ----------------------------------------------------------------------

namespace {

class Parser {
 public:
  Parser(std::string_view s, const ParseOptions& o) : s_(s), opt_(o) {}

  Value run() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(what, pos_); }
  [[noreturn]] void fail_at(const std::string& what, size_t at) const {
    throw Error("json: " + what + " at byte " + std::to_string(at));
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  void skip_ws() {
    while (!at_end()) {
      const char c = peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  void expect_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) fail("invalid literal");
    pos_ += w.size();
  }

  Value value(int depth) {
    if (at_end()) fail("unexpected end of input");
    switch (peek()) {
      case 'n': expect_word("null"); return Value();
      case 't': expect_word("true"); return Value(true);
      case 'f': expect_word("false"); return Value(false);
      case '"': return Value(string());
      case '[': return array(depth + 1);
      case '{': return object(depth + 1);
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
        fail(std::string("unexpected character '") + printable(peek()) + "'");
    }
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
  }

  void check_depth(int depth) {
    if (depth > opt_.max_depth) fail("nesting deeper than " + std::to_string(opt_.max_depth));
  }

  Value array(int depth) {
    check_depth(depth);
    ++pos_;  // '['
    Array out;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return Value(std::move(out));
    }
    for (;;) {
      skip_ws();
      out.push_back(value(depth));
      skip_ws();
      if (at_end()) fail("unterminated array");
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == ']') { ++pos_; break; }
      fail("expected ',' or ']' in array");
    }
    return Value(std::move(out));
  }

  Value object(int depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Object out;
    std::unordered_set<std::string> seen;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return Value(std::move(out));
    }
    for (;;) {
      skip_ws();
      if (at_end()) fail("unterminated object");
      if (peek() != '"') fail("expected a string key in object");
      const size_t key_pos = pos_;
      std::string key = string();
      skip_ws();
      if (at_end() || peek() != ':') fail("expected ':' after object key");
      ++pos_;
      skip_ws();
      Value v = value(depth);
      if (!seen.insert(key).second) {
        if (!opt_.allow_duplicate_keys) fail_at("duplicate key \"" + key + "\"", key_pos);
        for (auto& kv : out)
          if (kv.first == key) kv.second = std::move(v);
      } else {
        out.emplace_back(std::move(key), std::move(v));
      }
      skip_ws();
      if (at_end()) fail("unterminated object");
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == '}') { ++pos_; break; }
      fail("expected ',' or '}' in object");
    }
    return Value(std::move(out));
  }

  // Base-10 exponent of the leading significant digit of a validated number
  // literal (saturating), to tell overflow from underflow.
  static int64_t decimal_exponent(const char* p, const char* last) {
    if (*p == '-') ++p;
    int64_t int_digits = 0, lead_frac_zeros = 0;
    bool int_nonzero = false, seen_sig = false;
    while (p < last && *p >= '0' && *p <= '9') {
      if (*p != '0') int_nonzero = true;
      if (int_nonzero) ++int_digits;
      ++p;
    }
    if (p < last && *p == '.') {
      ++p;
      while (p < last && *p >= '0' && *p <= '9') {
        if (*p != '0') seen_sig = true;
        if (!seen_sig) ++lead_frac_zeros;
        ++p;
      }
    }
    int64_t e = 0;
    if (p < last && (*p == 'e' || *p == 'E')) {
      ++p;
      bool neg = false;
      if (*p == '+' || *p == '-') neg = *p++ == '-';
      while (p < last) {
        if (e < 1000000000) e = e * 10 + (*p - '0');
        ++p;
      }
      if (neg) e = -e;
    }
    const int64_t lead = int_nonzero ? int_digits - 1 : -(lead_frac_zeros + 1);
    return lead + e;
  }

  Value number() {
    const size_t start = pos_;
    bool integral = true;
    if (peek() == '-') ++pos_;
    if (at_end()) fail("truncated number");
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    } else {
      fail("invalid number");
    }
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (at_end() || !std::isdigit(static_cast<unsigned char>(peek())))
        fail("expected digits after '.'");
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (at_end() || !std::isdigit(static_cast<unsigned char>(peek())))
        fail("expected digits in exponent");
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    Number n;
    auto rd = std::from_chars(first, last, n.value);
    if (rd.ec == std::errc::result_out_of_range) {
      // from_chars says "out of range" for overflow and underflow alike;
      // underflow rounds to zero, overflow is refused.
      if (decimal_exponent(first, last) < 0) n.value = (*first == '-') ? -0.0 : 0.0;
      else fail_at("number out of range", start);
    } else if (rd.ec != std::errc() || rd.ptr != last || !std::isfinite(n.value)) {
      fail_at("invalid number", start);
    }
    if (integral) {
      int64_t iv = 0;
      auto ri = std::from_chars(first, last, iv);
      if (ri.ec == std::errc() && ri.ptr == last) {
        n.is_int = true;
        n.int_value = iv;
      }
    }
    return Value(n);
  }

  unsigned hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else fail_at("invalid hex digit in \\u escape", pos_ - 1);
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Copies one raw UTF-8 sequence starting at pos_, validating it (no overlong
  // forms, no surrogates, nothing above U+10FFFF).
  void copy_utf8(std::string& out) {
    const size_t start = pos_;
    const auto b0 = static_cast<unsigned char>(s_[pos_]);
    int len;
    unsigned cp, min;
    if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; min = 0x80; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; cp = b0 & 0x0F; min = 0x800; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; cp = b0 & 0x07; min = 0x10000; }
    else fail("invalid UTF-8 in string");
    if (s_.size() - pos_ < static_cast<size_t>(len)) fail("truncated UTF-8 sequence in string");
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + i]);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8 in string");
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      fail("invalid UTF-8 in string");
    out.append(s_.data() + start, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = peek();
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (u < 0x20) fail("unescaped control character in string");
      if (u >= 0x80) {
        copy_utf8(out);
        continue;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      const size_t esc_pos = pos_;
      ++pos_;
      if (at_end()) fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail_at("unpaired surrogate in \\u escape", esc_pos);
            pos_ += 2;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at("unpaired surrogate in \\u escape", esc_pos);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail_at("unpaired surrogate in \\u escape", esc_pos);
          }
          put_utf8(out, cp);
          break;
        }
        default: fail_at(std::string("invalid escape '\\") + printable(e) + "'", esc_pos);
      }
    }
  }

  std::string_view s_;
  ParseOptions opt_;
  size_t pos_ = 0;
};

void write_value(std::string& out, const Value& v) {
  switch (v.type()) {
    case Type::null: out += "null"; break;
    case Type::boolean: out += v.as_bool() ? "true" : "false"; break;
    case Type::number: {
      const Number& n = v.as_number();
      char buf[40];
      std::to_chars_result r;
      if (n.is_int) {
        r = std::to_chars(buf, buf + sizeof buf, n.int_value);
      } else {
        if (!std::isfinite(n.value)) throw Error("json: cannot write a non-finite number");
        r = std::to_chars(buf, buf + sizeof buf, n.value);  // shortest round-trip form
      }
      out.append(buf, r.ptr);
      break;
    }
    case Type::string: write_string(out, v.as_string()); break;
    case Type::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ',';
        first = false;
        write_value(out, e);
      }
      out += ']';
      break;
    }
    case Type::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.as_object()) {
        if (!first) out += ',';
        first = false;
        write_string(out, kv.first);
        out += ':';
        write_value(out, kv.second);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

Value parse(std::string_view text, const ParseOptions& options) { return Parser(text, options).run(); }

void write_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string write(const Value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

}  // namespace galen::json
