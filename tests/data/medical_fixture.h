// Shared by test_dicom.cpp and test_nifti.cpp: the medical fixture directory, the
// expected values recorded by tools/make_medical_fixtures.py, byte I/O for making
// damaged copies, and a self-removing temporary directory.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "galen/core/json.h"
#include "galen/core/serialize.h"
#include "test_util.h"

namespace galen_test_medical {

inline const std::string kMed = std::string(GALEN_FIXTURES_DIR) + "/medical/";

inline const galen::SafetensorsFile& expected() {
  static const galen::SafetensorsFile f = galen::load_safetensors(kMed + "expected.safetensors");
  return f;
}
inline galen::json::Value meta(const std::string& key) {
  auto it = expected().metadata.find(key);
  REQUIRE(it != expected().metadata.end());
  return galen::json::parse(it->second);
}

inline std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("galen_medical_" + std::to_string(::getpid()) + "_" + std::to_string(++n));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace galen_test_medical
