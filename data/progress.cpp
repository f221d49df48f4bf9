// Training progress reporter (see progress.h).
#include "galen/data/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "galen/core/error.h"

namespace galen::data {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>((s / 60) % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

Progress::Progress(int64_t epochs, int64_t batches, ProgressOptions options)
    : opt_(std::move(options)), epochs_(epochs), batches_(batches) {
  GALEN_CHECK(epochs >= 1 && batches >= 0, "Progress: bad epochs ", epochs, " / batches ", batches);
  out_ = opt_.out ? opt_.out : &std::cout;
  if (opt_.terminal < 0) terminal_ = out_ == &std::cout && ::isatty(STDOUT_FILENO);
  else terminal_ = opt_.terminal != 0;
  if (opt_.bar_width < 1) opt_.bar_width = 1;
}

Progress::~Progress() {
  if (open_line_) {
    *out_ << '\n';
    out_->flush();
  }
}

double Progress::now() const {
  if (opt_.clock) return opt_.clock();
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void Progress::start_epoch(int64_t epoch) {
  if (open_line_) {
    *out_ << '\n';
    open_line_ = false;
  }
  epoch_ = epoch;
  done_ = samples_ = 0;
  loss_sum_ = 0;
  t0_ = last_print_ = now();
  last_decile_ = 0;
  last_len_ = 0;
}

std::string Progress::line() const {
  std::ostringstream os;
  os << "epoch " << epoch_ + 1 << '/' << epochs_ << " [";
  const int fill = batches_ > 0 ? static_cast<int>(opt_.bar_width * std::min<int64_t>(done_, batches_) / batches_) : 0;
  for (int i = 0; i < opt_.bar_width; ++i) os << (i < fill ? '#' : '.');
  os << "] " << done_ << '/' << batches_;
  if (done_ > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", loss_sum_ / static_cast<double>(done_));
    os << " loss " << buf;
    const double el = now() - t0_;
    if (el > 0) {
      os << ' ' << static_cast<int64_t>(std::llround(static_cast<double>(samples_) / el)) << ' ' << opt_.unit << "/s";
      if (done_ < batches_) os << " ETA " << format_duration(el / static_cast<double>(done_) * static_cast<double>(batches_ - done_));
      else os << " time " << format_duration(el);
    }
  }
  return os.str();
}

void Progress::emit(bool final_line, const std::string& extra) {
  std::string s = line();
  if (!extra.empty()) s += "  " + extra;
  if (terminal_) {
    // Rewrite in place; pad over a longer previous line.
    *out_ << '\r' << s;
    if (s.size() < last_len_) *out_ << std::string(last_len_ - s.size(), ' ');
    last_len_ = s.size();
    if (final_line) {
      *out_ << '\n';
      open_line_ = false;
    } else {
      open_line_ = true;
    }
  } else {
    *out_ << s << '\n';
  }
  out_->flush();
  last_print_ = now();
}

void Progress::step(double loss, int64_t samples) {
  ++done_;
  samples_ += samples;
  loss_sum_ += loss;
  const double t = now();
  if (terminal_) {
    if (t - last_print_ >= opt_.refresh_s || done_ == 1 || done_ == batches_) emit(false, "");
    return;
  }
  // Plain: each 10% or every interval_s (the end of the epoch is end_epoch's).
  const int64_t decile = batches_ > 0 ? done_ * 10 / batches_ : 0;
  if (done_ < batches_ && (decile > last_decile_ || t - last_print_ >= opt_.interval_s)) {
    last_decile_ = decile;
    emit(false, "");
  }
}

void Progress::end_epoch(const std::string& extra) { emit(true, extra); }

}  // namespace galen::data
