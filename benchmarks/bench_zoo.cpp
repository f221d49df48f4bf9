// zoo: ResNet-50 and DenseNet-121 at 224x224, galen vs the same networks in
// LibTorch eager (torch_peer_zoo.cpp), in one run:
//   <arch>/infer_b1_224   eval-mode forward of one image under no-grad, ms
//   <arch>/train_b8_224   one SGD training step (lr 0.01, momentum 0.9, cross
//                         entropy, 1000 classes) on a batch of 8, ms per step;
//                         images/s = 8000 / ms (printed as a note)
// Inputs are N(0,1) and labels fixed random: the cost does not depend on values.
//
// Peak memory of the training step (notes on stderr, with the train cases):
// each side runs in a fresh child process, this same binary started with
// posix_spawn and `--filter ^zoo_memory_child/<arch>_<side>$`. The child records
// its resident set (VmRSS) before building the model, builds model, optimizer
// and batch, runs two steps (the first allocates the momentum buffers), then
// reads its peak resident set (VmHWM); the parent also takes ru_maxrss from
// wait4 as a cross-check. Reported: the peak above the child's starting RSS
// (what the model + optimizer + activations + allocator caches cost) and the
// absolute peak; for DenseNet-121 also galen with memory_efficient layers. A fresh process per measurement, because a peak cannot be
// reset, and spawn rather than fork, because a forked child of an OpenMP
// process hangs in libgomp's stale thread pool. Set GALEN_BENCH_ZOO_NO_MEMORY=1
// to skip the memory measurement.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/autograd.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/optim/sgd.h"
#include "galen/zoo/zoo.h"
#include "torch_peer.h"
#include "torch_peer_zoo.h"

extern char** environ;

namespace galen_bench {

namespace {

constexpr int64_t kHW = 224;
constexpr int64_t kTrainBatch = 8;
constexpr const char* kChildEnv = "GALEN_BENCH_ZOO_MEMORY_OUT";

// "densenet121_me": DenseNet-121 with memory_efficient (checkpointed) layers; memory child only.
std::shared_ptr<galen::nn::Module> make_model(const std::string& arch) {
  if (arch == "resnet50") return galen::zoo::resnet50();
  return galen::zoo::densenet121({.memory_efficient = arch == "densenet121_me"});
}

std::function<void()> galen_infer(const std::string& arch) {
  auto model = make_model(arch);
  model->eval();
  galen::Tensor x = galen::randn({1, 3, kHW, kHW});
  return [model, x]() {
    galen::NoGradGuard ng;
    galen::Tensor y = model->forward(x);
    do_not_optimize(y.data_ptr());
  };
}

std::function<void()> galen_train_step(const std::string& arch) {
  auto model = make_model(arch);
  model->train();
  auto opt = std::make_shared<galen::optim::SGD>(model->parameters(),
                                                 galen::optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  galen::Tensor x = galen::randn({kTrainBatch, 3, kHW, kHW});
  galen::Tensor y = galen::randint(0, 1000, {kTrainBatch});
  return [model, opt, x, y]() {
    opt->zero_grad();
    galen::Tensor loss = galen::cross_entropy(model->forward(x), y);
    loss.backward();
    opt->step();
  };
}

// "VmRSS:" / "VmHWM:" of /proc/self/status in KiB (0 when unreadable).
long proc_status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return 0;
}

struct MemResult {
  bool ok = false;
  long baseline_kib = 0, hwm_kib = 0, maxrss_kib = 0;
  std::string error;
};

// Runs zoo_memory_child/<arch>_<side> in a fresh process (see the top comment).
MemResult measure_in_child(const std::string& arch, const std::string& side) {
  MemResult r;
  char tmpl[] = "/tmp/galen_bench_zoo_XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) {
    r.error = "mkstemp failed";
    return r;
  }
  close(fd);
  const std::string out = tmpl;
  const std::string filter = "^zoo_memory_child/" + arch + "_" + side + "$";
  const std::string threads = std::to_string(galen::get_num_threads());
  std::vector<std::string> args = {"galen_bench", "--filter", filter, "--warmup", "0", "--repeats", "1",
                                   "--min-time-ms", "0", "--threads", threads};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.push_back(std::string(kChildEnv) + "=" + out);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  // The child's stdout (its own timing table) is not wanted; stderr stays.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.error = "posix_spawn failed";
    std::remove(out.c_str());
    return r;
  }
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = "child process failed";
    std::remove(out.c_str());
    return r;
  }
  r.maxrss_kib = ru.ru_maxrss;
  std::ifstream in(out);
  if (in >> r.baseline_kib >> r.hwm_kib) r.ok = true;
  else r.error = "child wrote no result";
  std::remove(out.c_str());
  return r;
}

std::string mib(long kib) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(kib) / 1024.0);
  return buf;
}

void report_memory(const std::string& arch) {
  if (std::getenv("GALEN_BENCH_ZOO_NO_MEMORY")) return;
  const MemResult g = measure_in_child(arch, "galen");
  MemResult t;
  if (torch_peer::kBuilt) t = measure_in_child(arch, "libtorch");
  std::ostringstream os;
  os << "zoo/" << arch << "/train_b8_224 peak memory (fresh process, RSS above its start; absolute peak): ";
  if (g.ok) os << "galen " << mib(g.hwm_kib - g.baseline_kib) << " (" << mib(g.hwm_kib) << ", ru_maxrss "
               << mib(g.maxrss_kib) << ")";
  else os << "galen: " << g.error;
  if (torch_peer::kBuilt) {
    if (t.ok) os << ", libtorch " << mib(t.hwm_kib - t.baseline_kib) << " (" << mib(t.hwm_kib) << ", ru_maxrss "
                 << mib(t.maxrss_kib) << ")";
    else os << ", libtorch: " << t.error;
    if (g.ok && t.ok && t.hwm_kib > t.baseline_kib) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "; galen/libtorch %.2fx",
                    static_cast<double>(g.hwm_kib - g.baseline_kib) / static_cast<double>(t.hwm_kib - t.baseline_kib));
      os << buf;
    }
  }
  note(os.str());
  if (arch == "densenet121") {
    const MemResult me = measure_in_child("densenet121_me", "galen");
    if (me.ok) note("zoo/densenet121/train_b8_224 peak memory, galen with memory_efficient=true: " +
                    mib(me.hwm_kib - me.baseline_kib) + " (" + mib(me.hwm_kib) + ")");
    else note("zoo/densenet121/train_b8_224 memory_efficient: " + me.error);
  }
}

std::vector<Case> zoo_cases() {
  std::vector<Case> cases;
  for (const std::string arch : {"resnet50", "densenet121"}) {
    Case inf;
    inf.name = arch + "/infer_b1_224";
    inf.unit = Unit::Ms;
    inf.setup = [arch] {
      galen::manual_seed(0);
      std::vector<Impl> impls{{"galen", false, galen_infer(arch), {}}};
      if (torch_peer::kBuilt) impls.push_back({"libtorch", true, torch_peer::zoo_infer(arch, 1, kHW), {}});
      else note("zoo: no LibTorch peer (galen_bench built without LibTorch)");
      return impls;
    };
    cases.push_back(inf);
    Case tr;
    tr.name = arch + "/train_b8_224";
    tr.unit = Unit::Ms;
    tr.setup = [arch] {
      report_memory(arch);
      note("zoo/" + arch + "/train_b8_224: images/s = " + std::to_string(kTrainBatch) + "000 / (ms per step)");
      galen::manual_seed(0);
      std::vector<Impl> impls{{"galen", false, galen_train_step(arch), {}}};
      if (torch_peer::kBuilt) impls.push_back({"libtorch", true, torch_peer::zoo_train_step(arch, kTrainBatch, kHW), {}});
      return impls;
    };
    cases.push_back(tr);
  }
  return cases;
}

Bench bench_zoo() {
  Bench b;
  b.name = "zoo";
  b.description = "ResNet-50 / DenseNet-121 at 224x224: inference batch 1, SGD training step batch 8 (+ peak memory)";
  b.cases = zoo_cases;
  return b;
}

// The peak-memory child (see the top comment): runs only when started by measure_in_child.
Bench bench_zoo_memory_child() {
  Bench b;
  b.name = "zoo_memory_child";
  b.description = "internal: the peak-memory child process of the zoo bench";
  b.skip_reason = []() -> std::string {
    return std::getenv(kChildEnv) ? "" : "internal helper, run by the zoo bench in a child process";
  };
  b.cases = [] {
    std::vector<Case> cases;
    for (const std::string arch : {"resnet50", "densenet121", "densenet121_me"}) {
      for (const std::string side : {"galen", "libtorch"}) {
        if (arch == "densenet121_me" && side == "libtorch") continue;
        Case c;
        c.name = arch + "_" + side;
        c.unit = Unit::Ms;
        c.setup = [arch, side] {
          const long baseline = proc_status_kib("VmRSS");
          galen::manual_seed(0);
          std::function<void()> step = side == "galen" ? galen_train_step(arch)
                                                       : torch_peer::zoo_train_step(arch, kTrainBatch, kHW);
          if (!step) throw std::runtime_error("zoo_memory_child: no " + side + " implementation");
          auto run = [step, baseline]() {
            step();
            std::ofstream out(std::getenv(kChildEnv));
            out << baseline << " " << proc_status_kib("VmHWM") << "\n";
          };
          return std::vector<Impl>{{side, false, run, {}}};
        };
        cases.push_back(c);
      }
    }
    return cases;
  };
  return b;
}

}  // namespace

static Register register_zoo(80, bench_zoo);
static Register register_zoo_memory_child(81, bench_zoo_memory_child);

}  // namespace galen_bench
