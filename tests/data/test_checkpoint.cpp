// Checkpoints: round trip, validation of damaged / foreign files, and atomic
// saves that leave the previous checkpoint intact when a write fails.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "galen/data/checkpoint.h"
#include "test_util.h"

using namespace galen;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("galen_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(++n));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

data::Checkpoint sample() {
  data::Checkpoint ck;
  ck.model["fc1.weight"] = randn({4, 3});
  ck.model["fc1.bias"] = randn({4});
  ck.model["bn.num_batches_tracked"] = scalar_tensor(17, DType::i64);
  ck.optimizer["state.0.exp_avg"] = randn({4, 3});
  ck.optimizer["state.0.step"] = scalar_tensor(12, DType::f64);
  ck.optimizer["param_groups.0.lr"] = scalar_tensor(1e-3, DType::f64);
  ck.scheduler["last_epoch"] = scalar_tensor(3, DType::f64);
  ck.epoch = 3;
  ck.rng = {0xFFFFFFFFFFFFFFFFull, 123456789012345ull};
  ck.metadata = R"({"arch":"mlp","val_acc":0.981,"notes":["a","b"]})";
  return ck;
}

void require_same(const data::TensorMap& a, const data::TensorMap& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [k, t] : a) {
    INFO(k);
    REQUIRE(b.count(k) == 1);
    REQUIRE(b.at(k).dtype() == t.dtype());
    REQUIRE(equal(b.at(k), t));
  }
}
}  // namespace

TEST_CASE("checkpoint round trip", "[data][checkpoint]") {
  TempDir dir;
  const auto ck = sample();
  data::save_checkpoint(dir / "a.ckpt", ck);
  const auto back = data::load_checkpoint(dir / "a.ckpt");
  require_same(ck.model, back.model);
  require_same(ck.optimizer, back.optimizer);
  require_same(ck.scheduler, back.scheduler);
  REQUIRE(back.epoch == 3);
  REQUIRE(back.rng.seed == ck.rng.seed);
  REQUIRE(back.rng.offset == ck.rng.offset);
  REQUIRE(back.metadata == ck.metadata);
  // It is an ordinary safetensors file with prefixed keys.
  const auto raw = load_safetensors(dir / "a.ckpt");
  REQUIRE(raw.tensors.count("model.fc1.weight") == 1);
  REQUIRE(raw.tensors.count("optim.state.0.exp_avg") == 1);
  REQUIRE(raw.tensors.count("sched.last_epoch") == 1);
  REQUIRE(raw.metadata.at("format") == "galen.checkpoint");
  // Empty optimizer / scheduler sections are fine.
  data::Checkpoint small;
  small.model["w"] = ones({2});
  data::save_checkpoint(dir / "b.ckpt", small);
  REQUIRE(data::load_checkpoint(dir / "b.ckpt").optimizer.empty());
}

TEST_CASE("checkpoint: bad input on save is refused before writing", "[data][checkpoint]") {
  TempDir dir;
  auto ck = sample();
  ck.metadata = "{not json";
  REQUIRE_THROWS_WITH(data::save_checkpoint(dir / "x.ckpt", ck), Catch::Contains("not valid JSON"));
  ck = sample();
  ck.optimizer["bad"] = Tensor();
  REQUIRE_THROWS_WITH(data::save_checkpoint(dir / "x.ckpt", ck), Catch::Contains("'bad'"));
  REQUIRE_THROWS_WITH(data::save_checkpoint(dir / "x.ckpt", data::Checkpoint{}), Catch::Contains("empty"));
  REQUIRE_FALSE(fs::exists(dir / "x.ckpt"));
}

TEST_CASE("checkpoint: truncated, corrupted and foreign files are clear Errors", "[data][checkpoint]") {
  TempDir dir;
  data::save_checkpoint(dir / "good.ckpt", sample());
  const std::string bytes = slurp(dir / "good.ckpt");

  for (size_t cut : {size_t(0), size_t(5), size_t(40), bytes.size() / 2, bytes.size() - 1}) {
    INFO("truncated to " << cut << " bytes");
    spit(dir / "cut.ckpt", bytes.substr(0, cut));
    REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "cut.ckpt"), Catch::Contains("cut.ckpt"));
  }
  // Corrupted JSON header.
  std::string bad = bytes;
  bad[9] = '#';
  bad[20] = '\x01';
  spit(dir / "hdr.ckpt", bad);
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "hdr.ckpt"), Catch::Contains("hdr.ckpt"));
  // A wrong header length.
  bad = bytes;
  bad[0] = '\xff';
  bad[3] = '\x7f';
  spit(dir / "len.ckpt", bad);
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "len.ckpt"), Catch::Contains("len.ckpt"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "missing.ckpt"), Catch::Contains("missing.ckpt"));

  // Valid safetensors that are not checkpoints, or damaged metadata.
  save_safetensors(dir / "plain.st", {{"w", ones({2})}});
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "plain.st"), Catch::Contains("\"format\""));
  const auto f = load_safetensors(dir / "good.ckpt");
  auto tweak = [&](const std::string& key, const std::string& value) {
    auto md = f.metadata;
    if (value.empty()) md.erase(key);
    else md[key] = value;
    save_safetensors(dir / "t.ckpt", f.tensors, md);
    return dir / "t.ckpt";
  };
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("format_version", "99")), Catch::Contains("version 99"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("format_version", "one")), Catch::Contains("format_version"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("epoch", "3.5")), Catch::Contains("epoch"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("rng_offset", "-1")), Catch::Contains("rng_offset"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("rng_seed", "")), Catch::Contains("rng_seed"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("sections", "model")), Catch::Contains("sections"));
  REQUIRE_THROWS_WITH(data::load_checkpoint(tweak("user", "{oops")), Catch::Contains("JSON"));
  auto extra = f.tensors;
  extra["stray"] = ones({1});
  save_safetensors(dir / "s.ckpt", extra, f.metadata);
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "s.ckpt"), Catch::Contains("'stray'"));
  std::map<std::string, Tensor> no_model;
  for (const auto& [k, t] : f.tensors)
    if (k.rfind("model.", 0) != 0) no_model[k] = t;
  save_safetensors(dir / "nm.ckpt", no_model, f.metadata);
  REQUIRE_THROWS_WITH(data::load_checkpoint(dir / "nm.ckpt"), Catch::Contains("no model tensors"));
}

TEST_CASE("checkpoint: a failed save leaves the previous checkpoint intact", "[data][checkpoint]") {
  TempDir dir;
  const std::string p = dir / "last.ckpt";
  const auto first = sample();
  data::save_checkpoint(p, first);
  const std::string before = slurp(p);
  // Make the temporary file impossible to create (its path is a directory):
  // works even when running as root, where a read-only directory would not stop us.
  fs::create_directory(p + ".tmp." + std::to_string(::getpid()));
  auto second = sample();
  second.epoch = 4;
  REQUIRE_THROWS_WITH(data::save_checkpoint(p, second), Catch::Contains("last.ckpt"));
  REQUIRE(slurp(p) == before);
  REQUIRE(data::load_checkpoint(p).epoch == 3);
  fs::remove(p + ".tmp." + std::to_string(::getpid()));
  // Saving over a path that is a directory fails and leaves the directory alone.
  fs::create_directory(dir / "adir");
  REQUIRE_THROWS_AS(data::save_checkpoint(dir / "adir", second), Error);
  REQUIRE(fs::is_directory(dir / "adir"));
  // A read-only directory (only effective when not root).
  if (::geteuid() != 0) {
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
    REQUIRE_THROWS_AS(data::save_checkpoint(p, second), Error);
    fs::permissions(dir.path, fs::perms::owner_all);
    REQUIRE(slurp(p) == before);
  }
  // And a successful save replaces it.
  data::save_checkpoint(p, second);
  REQUIRE(data::load_checkpoint(p).epoch == 4);
}
