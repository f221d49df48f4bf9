// Device parsing/printing and CUDA availability (through the backend registry).
#include "galen/core/device.h"

#include "galen/core/error.h"
#include "galen/kernels/backend.h"

namespace galen {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return Device{DeviceType::CPU};
  if (s == "cuda") return Device{DeviceType::CUDA, 0};
  if (s.rfind("cuda:", 0) == 0) {
    const std::string idx = s.substr(5);
    GALEN_CHECK(!idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos,
                "Device::parse: bad device index in '", s, "'");
    return Device{DeviceType::CUDA, std::stoi(idx)};
  }
  GALEN_FAIL("Device::parse: unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

int cuda_device_count() {
  if (!kernels::has_backend(DeviceType::CUDA)) return 0;
  return kernels::backend(DeviceType::CUDA).device_count();
}

bool cuda_is_available() { return cuda_device_count() > 0; }

}  // namespace galen
