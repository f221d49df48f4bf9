// Training checkpoints: model state_dict, optimizer and scheduler state, the
// epoch, the global RNG state and free-form JSON metadata in one safetensors
// file, written atomically (temporary file, fsync, rename: a failed or
// interrupted save never damages the checkpoint already at `path`).
//
// Layout: tensors under "model.<key>", "optim.<key>", "sched.<key>";
// __metadata__ = {"format": "galen.checkpoint", "format_version": "1",
// "sections": "model,optim,sched", "epoch": "<int>", "rng_seed": "<u64>",
// "rng_offset": "<u64>", "user": "<JSON text>"}.
//
//   data::Checkpoint ck{model->state_dict(), opt.state_dict(), sched.state_dict(), epoch,
//                       get_rng_state()};
//   data::save_checkpoint("run/last.safetensors", ck);
//   auto back = data::load_checkpoint("run/last.safetensors");
//   model->load_state_dict(back.model); opt.load_state_dict(back.optimizer);
//   set_rng_state(back.rng);
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "galen/core/random.h"
#include "galen/core/tensor.h"

namespace galen::data {

using TensorMap = std::map<std::string, Tensor>;  // = nn::StateDict

struct Checkpoint {
  TensorMap model;
  TensorMap optimizer;
  TensorMap scheduler;
  int64_t epoch = 0;     // e.g. the number of finished epochs
  GeneratorState rng{};  // galen::get_rng_state() at save time
  std::string metadata = "{}";  // any JSON text (validated on save and load)
};

inline constexpr int kCheckpointFormatVersion = 1;

void save_checkpoint(const std::string& path, const Checkpoint& ck);
// Validates the file (safetensors layout, format name and version, sections,
// key prefixes, epoch / RNG fields, metadata JSON): any problem is a
// galen::Error naming the file. Tensors come back on the CPU.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace galen::data
