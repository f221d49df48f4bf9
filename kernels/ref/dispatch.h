// DType -> C++ type dispatch shared by the ref and cpu backends, plus the table
// of which dtypes each primitive supports. The table is part of the kernel
// specification: every backend accepts exactly these (op, dtype) pairs and
// answers anything else with no_kernel().
#pragma once

#include <cstdint>
#include <type_traits>

#include "galen/core/device.h"
#include "galen/core/dtype.h"
#include "galen/kernels/backend.h"

namespace galen::kernels::dispatch {

// Bit sets of dtypes.
inline constexpr unsigned kF32 = 1u << 0, kF64 = 1u << 1, kI32 = 1u << 2, kI64 = 1u << 3,
                          kU8 = 1u << 4, kBool = 1u << 5;
inline constexpr unsigned kFloat = kF32 | kF64;
inline constexpr unsigned kSignedInt = kI32 | kI64;
inline constexpr unsigned kNumeric = kFloat | kSignedInt | kU8;
inline constexpr unsigned kAll = kNumeric | kBool;

inline unsigned bit_of(DType t) {
  switch (t) {
    case DType::f32: return kF32;
    case DType::f64: return kF64;
    case DType::i32: return kI32;
    case DType::i64: return kI64;
    case DType::u8: return kU8;
    case DType::boolean: return kBool;
    default: return 0;  // f16 / bf16: no kernels yet
  }
}

template <typename T>
constexpr unsigned bit_of_type() {
  if constexpr (std::is_same_v<T, float>) return kF32;
  else if constexpr (std::is_same_v<T, double>) return kF64;
  else if constexpr (std::is_same_v<T, int32_t>) return kI32;
  else if constexpr (std::is_same_v<T, int64_t>) return kI64;
  else if constexpr (std::is_same_v<T, uint8_t>) return kU8;
  else return kBool;
}

// Calls f(T{}) for the C++ type of `dt` when dt is in `Set` (the other types are
// never instantiated), otherwise throws no_kernel(prim, dev, dt).
template <unsigned Set, typename F>
void on_type(const char* prim, DeviceType dev, DType dt, F&& f) {
  auto call = [&](auto tag) {
    using T = decltype(tag);
    if constexpr ((Set & bit_of_type<T>()) != 0) f(tag);
    else no_kernel(prim, dev, dt);
  };
  switch (dt) {
    case DType::f32: call(float{}); return;
    case DType::f64: call(double{}); return;
    case DType::i32: call(int32_t{}); return;
    case DType::i64: call(int64_t{}); return;
    case DType::u8: call(uint8_t{}); return;
    case DType::boolean: call(bool{}); return;
    default: no_kernel(prim, dev, dt);
  }
}

// ---- which dtypes each primitive accepts ------------------------------------
inline unsigned unary_types(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
    case UnaryOp::Abs:
    case UnaryOp::Sign:
    case UnaryOp::Square: return kFloat | kSignedInt;
    default: return kFloat;
  }
}
inline unsigned binary_types(BinaryOp op) {
  if (is_comparison(op)) return kAll;
  if (op == BinaryOp::Div || op == BinaryOp::Pow) return kFloat;
  return kNumeric;
}
inline bool supports(unsigned set, DType dt) { return (set & bit_of(dt)) != 0; }

}  // namespace galen::kernels::dispatch
