// Where a tensor lives: Device{DeviceType::CPU} or Device{DeviceType::CUDA, 0}.
#pragma once

#include <ostream>
#include <string>

namespace galen {

enum class DeviceType : int { CPU = 0, CUDA = 1 };
inline constexpr DeviceType CPU = DeviceType::CPU;
inline constexpr DeviceType CUDA = DeviceType::CUDA;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: implicit from DeviceType
  // Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// True when the CUDA backend was compiled in and at least one GPU is visible.
bool cuda_is_available();
int cuda_device_count();

}  // namespace galen
