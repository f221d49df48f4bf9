// Checkpoint save / load on top of safetensors (see checkpoint.h).
#include "galen/data/checkpoint.h"

#include <charconv>

#include "galen/core/error.h"
#include "galen/core/json.h"
#include "galen/core/serialize.h"

namespace galen::data {

namespace {

constexpr const char* kFormat = "galen.checkpoint";
struct Section {
  const char* name;
  TensorMap Checkpoint::*member;
};
const Section kSections[] = {{"model", &Checkpoint::model},
                             {"optim", &Checkpoint::optimizer},
                             {"sched", &Checkpoint::scheduler}};

template <typename T>
bool parse_int(const std::string& s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

const std::string& meta(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  GALEN_CHECK(it != f.metadata.end(), "load_checkpoint: '", path, "' has no \"", key,
              "\" metadata entry (not a galen checkpoint, or a damaged one)");
  return it->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  try {
    json::parse(ck.metadata);
  } catch (const Error& e) {
    GALEN_FAIL("save_checkpoint: metadata for '", path, "' is not valid JSON: ", e.what());
  }
  GALEN_CHECK(!ck.model.empty(), "save_checkpoint: the model state for '", path, "' is empty");
  std::map<std::string, Tensor> all;
  std::string sections;
  for (const auto& s : kSections) {
    if (!sections.empty()) sections += ',';
    sections += s.name;
    for (const auto& [k, t] : ck.*s.member) {
      GALEN_CHECK(!k.empty(), "save_checkpoint: an empty key in the ", s.name, " section");
      GALEN_CHECK(t.defined(), "save_checkpoint: ", s.name, " entry '", k, "' is an undefined tensor");
      all.emplace(std::string(s.name) + "." + k, t);
    }
  }
  std::map<std::string, std::string> md;
  md["format"] = kFormat;
  md["format_version"] = std::to_string(kCheckpointFormatVersion);
  md["sections"] = sections;
  md["epoch"] = std::to_string(ck.epoch);
  md["rng_seed"] = std::to_string(ck.rng.seed);
  md["rng_offset"] = std::to_string(ck.rng.offset);
  md["user"] = ck.metadata;
  save_safetensors(path, all, md);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsFile f;
  try {
    f = load_safetensors(path);
  } catch (const Error& e) {
    GALEN_FAIL("load_checkpoint: '", path, "' is not a readable checkpoint: ", e.what());
  }
  GALEN_CHECK(meta(f, "format", path) == kFormat, "load_checkpoint: '", path, "' has format \"",
              meta(f, "format", path), "\", expected \"", kFormat, "\"");
  int version = 0;
  const std::string& vs = meta(f, "format_version", path);
  GALEN_CHECK(parse_int(vs, version), "load_checkpoint: '", path, "' has a malformed format_version \"", vs, "\"");
  GALEN_CHECK(version >= 1 && version <= kCheckpointFormatVersion, "load_checkpoint: '", path,
              "' has format version ", version, "; this galen reads versions 1..", kCheckpointFormatVersion);
  std::string expect;
  for (const auto& s : kSections) {
    if (!expect.empty()) expect += ',';
    expect += s.name;
  }
  GALEN_CHECK(meta(f, "sections", path) == expect, "load_checkpoint: '", path, "' lists sections \"",
              meta(f, "sections", path), "\", expected \"", expect, "\"");
  Checkpoint ck;
  const std::string& es = meta(f, "epoch", path);
  GALEN_CHECK(parse_int(es, ck.epoch), "load_checkpoint: '", path, "' has a malformed epoch \"", es, "\"");
  const std::string& ss = meta(f, "rng_seed", path);
  const std::string& os = meta(f, "rng_offset", path);
  GALEN_CHECK(parse_int(ss, ck.rng.seed), "load_checkpoint: '", path, "' has a malformed rng_seed \"", ss, "\"");
  GALEN_CHECK(parse_int(os, ck.rng.offset), "load_checkpoint: '", path, "' has a malformed rng_offset \"", os, "\"");
  ck.metadata = meta(f, "user", path);
  try {
    json::parse(ck.metadata);
  } catch (const Error& e) {
    GALEN_FAIL("load_checkpoint: '", path, "' has user metadata that is not valid JSON: ", e.what());
  }
  for (auto& [key, t] : f.tensors) {
    const size_t dot = key.find('.');
    bool placed = false;
    if (dot != std::string::npos && dot + 1 < key.size()) {
      const std::string prefix = key.substr(0, dot);
      for (const auto& s : kSections)
        if (prefix == s.name) {
          (ck.*s.member)[key.substr(dot + 1)] = t;
          placed = true;
        }
    }
    GALEN_CHECK(placed, "load_checkpoint: '", path, "' holds tensor '", key,
                "', which belongs to no section (model., optim., sched.)");
  }
  GALEN_CHECK(!ck.model.empty(), "load_checkpoint: '", path, "' has no model tensors (no \"model.\" keys)");
  return ck;
}

}  // namespace galen::data
