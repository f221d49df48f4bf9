// Element types. f16/bf16 have enum slots reserved for storage-only use later;
// no kernel handles them yet, so every op reports them as unsupported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace galen {

enum class DType : uint8_t { f32, f64, i32, i64, u8, boolean, f16, bf16 };

size_t element_size(DType t);
const char* dtype_name(DType t);  // "f32", "f64", "i32", "i64", "u8", "bool", ...
bool is_floating(DType t);        // f32, f64, f16, bf16
bool is_integral(DType t);        // i32, i64, u8, bool
// Result type of a binary op between a and b (bool < u8 < i32 < i64 < f32 < f64).
DType promote_types(DType a, DType b);

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace galen
