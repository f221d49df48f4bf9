// Progress reporter: the terminal line and the plain periodic lines, with an
// injected clock.
#include <sstream>

#include "galen/data/progress.h"
#include "test_util.h"

using namespace galen;

namespace {
std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("format_duration", "[data][progress]") {
  REQUIRE(data::format_duration(0) == "0:00");
  REQUIRE(data::format_duration(12.4) == "0:12");
  REQUIRE(data::format_duration(185) == "3:05");
  REQUIRE(data::format_duration(3723) == "1:02:03");
  REQUIRE(data::format_duration(-1) == "?");
}

TEST_CASE("Progress: terminal mode rewrites one line", "[data][progress]") {
  std::ostringstream os;
  double t = 100.0;
  data::ProgressOptions o;
  o.out = &os;
  o.terminal = 1;
  o.refresh_s = 0.0;
  o.clock = [&] { return t; };
  data::Progress p(5, 4, o);
  REQUIRE(p.terminal());
  p.start_epoch(1);
  t += 1.0;
  p.step(0.5, 32);
  t += 1.0;
  p.step(0.25, 32);
  // 2 of 4 batches in 2 s: 32 img/s, 2 s left.
  REQUIRE(p.line() == "epoch 2/5 [#####.....] 2/4 loss 0.3750 32 img/s ETA 0:02");
  t += 2.0;
  p.step(0.25, 32);
  p.step(0.0, 32);
  p.end_epoch("val 0.9");
  const std::string s = os.str();
  REQUIRE(s.find('\r') != std::string::npos);
  REQUIRE(s.back() == '\n');
  REQUIRE(lines(s).size() == 1);  // everything on one (rewritten) line
  REQUIRE_THAT(s, Catch::EndsWith("epoch 2/5 [##########] 4/4 loss 0.2500 32 img/s time 0:04  val 0.9\n"));
}

TEST_CASE("Progress: plain lines every 10% or every interval", "[data][progress]") {
  std::ostringstream os;
  double t = 0.0;
  data::ProgressOptions o;
  o.out = &os;
  o.terminal = 0;
  o.interval_s = 1000.0;
  o.clock = [&] { return t; };
  data::Progress p(2, 100, o);
  REQUIRE_FALSE(p.terminal());
  p.start_epoch(0);
  for (int i = 0; i < 100; ++i) {
    t += 0.01;
    p.step(1.0, 10);
  }
  p.end_epoch();
  auto ls = lines(os.str());
  REQUIRE(ls.size() == 10);  // 10%, 20%, ..., 90%, and the final line
  REQUIRE(ls.front().rfind("epoch 1/2 [#.........] 10/100 loss 1.0000 1000 img/s ETA 0:01", 0) == 0);
  REQUIRE(ls.back() == "epoch 1/2 [##########] 100/100 loss 1.0000 1000 img/s time 0:01");
  REQUIRE(os.str().find('\r') == std::string::npos);

  // A slow epoch prints at least every interval_s even between deciles.
  std::ostringstream os2;
  o.out = &os2;
  o.interval_s = 5.0;
  t = 0.0;
  data::Progress q(1, 1000, o);
  q.start_epoch(0);
  for (int i = 0; i < 50; ++i) {
    t += 1.0;
    q.step(1.0, 1);
  }
  REQUIRE(lines(os2.str()).size() == 10);  // every 5 s over 50 s, no decile reached
}
