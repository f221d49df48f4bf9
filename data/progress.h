// A training progress reporter. On a terminal: one line rewritten in place,
//   epoch 2/5 [#####.....] 512/1875 loss 0.1234 1234 img/s ETA 0:12
// When output is not a terminal (a log file, CI): plain lines, one every
// `interval_s` seconds or each 10% of the epoch, whichever comes first, and a
// final line per epoch.
//
//   data::Progress bar(epochs, loader.size());
//   for (int64_t e = 0; e < epochs; ++e) {
//     bar.start_epoch(e);
//     for (auto& b : loader) { ...; bar.step(loss.item(), b.size()); }
//     bar.end_epoch("val acc 0.981");
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace galen::data {

struct ProgressOptions {
  std::ostream* out = nullptr;  // default: std::cout
  // -1: detect (isatty on stdout when `out` is std::cout, else not a terminal);
  // 0: plain lines; 1: terminal mode.
  int terminal = -1;
  double interval_s = 10.0;   // plain mode: at most this long between lines
  double refresh_s = 0.1;     // terminal mode: redraw at most this often
  int bar_width = 10;
  std::string unit = "img";   // throughput unit ("img/s")
  std::function<double()> clock;  // seconds; default steady_clock (tests inject one)
};

class Progress {
 public:
  Progress(int64_t epochs, int64_t batches_per_epoch, ProgressOptions options = {});
  ~Progress();  // ends an unfinished terminal line

  // Epochs are numbered from 0 here and shown from 1.
  void start_epoch(int64_t epoch);
  // One more batch done, with its loss and number of samples. The loss shown
  // is the mean over the epoch so far.
  void step(double loss, int64_t samples);
  // Final line of the epoch, with an optional extra text.
  void end_epoch(const std::string& extra = "");

  bool terminal() const { return terminal_; }
  // The status line as it would be printed now (no trailing newline).
  std::string line() const;

 private:
  double now() const;
  void emit(bool final_line, const std::string& extra);

  ProgressOptions opt_;
  std::ostream* out_;
  bool terminal_;
  int64_t epochs_, batches_;
  int64_t epoch_ = 0, done_ = 0, samples_ = 0;
  double loss_sum_ = 0;
  double t0_ = 0, last_print_ = 0;
  int64_t last_decile_ = 0;
  size_t last_len_ = 0;
  bool open_line_ = false;
};

// "0:12", "3:05", "1:02:03".
std::string format_duration(double seconds);

}  // namespace galen::data
