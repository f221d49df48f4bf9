// The recurrent gate kernels (kernels::Backend::rnn_cell_forward / _backward):
// the CPU backend against the reference on awkward sizes (B, H = 1, odd,
// primes, more than a vector width), every cell, with and without biases,
// lengths (padded rows), output stride and saved workspace; f64 and f32.
#include <random>
#include <vector>

#include "galen/core/internal.h"
#include "test_util.h"

using namespace galen;
using namespace galen::kernels;

namespace {

Tensor rnd(const Shape& s, DType dt, uint64_t seed, double scale = 2.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(-scale, scale);
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = d(g);
  return from_vector<double>(v, s, DType::f64).to(dt);
}

struct Outs {
  Tensor h, c, y, ws, dgi, dgh, dhp, dcp;
};

// Runs forward then backward on backend `be` with the same inputs.
Outs run(Backend& be, RnnCell cell, DType dt, int64_t B, int64_t H, bool bias, const int64_t* lengths, int64_t t,
         bool with_y, bool with_ws, uint64_t seed) {
  const int64_t G = rnn_gates(cell), W = rnn_saved(cell), ldy = H + 3;
  Tensor gi = rnd({B, G * H}, dt, seed), gh = rnd({B, G * H}, dt, seed + 1);
  Tensor bi = rnd({G * H}, dt, seed + 2), bh = rnd({G * H}, dt, seed + 3);
  Tensor hp = rnd({B, H}, dt, seed + 4, 1.0), cp = rnd({B, H}, dt, seed + 5);
  Outs o;
  o.h = full({B, H}, 7.0, dt), o.c = full({B, H}, 7.0, dt);
  o.y = full({B, ldy}, 7.0, dt);  // the columns past H must stay untouched
  o.ws = full({B, W * H}, 7.0, dt);
  RnnStep s{cell, B, H, lengths, t};
  const bool lstm = cell == RnnCell::Lstm;
  be.rnn_cell_forward(s, dt, gi.data_ptr(), gh.data_ptr(), bias ? bi.data_ptr() : nullptr,
                      bias ? bh.data_ptr() : nullptr, hp.data_ptr(), lstm ? cp.data_ptr() : nullptr,
                      o.h.data_ptr(), lstm ? o.c.data_ptr() : nullptr, with_y ? o.y.data_ptr() : nullptr, ldy,
                      with_ws ? o.ws.data_ptr() : nullptr);
  if (!with_ws) return o;
  Tensor dy = rnd({B, ldy}, dt, seed + 6), dh = rnd({B, H}, dt, seed + 7), dc = rnd({B, H}, dt, seed + 8);
  const bool gru = cell == RnnCell::Gru;
  o.dgi = full({B, G * H}, 7.0, dt), o.dgh = full({B, G * H}, 7.0, dt);
  o.dhp = full({B, H}, 7.0, dt), o.dcp = full({B, H}, 7.0, dt);
  be.rnn_cell_backward(s, dt, o.ws.data_ptr(), hp.data_ptr(), lstm ? cp.data_ptr() : nullptr,
                       with_y ? dy.data_ptr() : nullptr, ldy, dh.data_ptr(), lstm ? dc.data_ptr() : nullptr,
                       o.dgi.data_ptr(), gru ? o.dgh.data_ptr() : nullptr, o.dhp.data_ptr(),
                       lstm ? o.dcp.data_ptr() : nullptr);
  return o;
}

}  // namespace

TEST_CASE("rnn gate kernels: cpu matches ref on awkward sizes", "[rnn][kernels]") {
  const std::vector<int64_t> lens = {3, 1, 5, 2, 4, 5, 1, 3, 2, 5, 4};
  for (DType dt : {DType::f64, DType::f32})
    for (RnnCell cell : {RnnCell::Tanh, RnnCell::Relu, RnnCell::Lstm, RnnCell::Gru})
      for (auto [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {11, 33}, {2, 129}, {5, 16}})
        for (int variant = 0; variant < 4; ++variant) {
          const bool bias = variant != 1, with_y = variant != 2, with_ws = variant != 3;
          const bool padded = variant == 0 || variant == 2;
          const int64_t t = 2;
          INFO("dtype " << dtype_name(dt) << " cell " << static_cast<int>(cell) << " B " << B << " H " << H
                        << " variant " << variant);
          const uint64_t seed = static_cast<uint64_t>(B * 1000 + H * 10 + variant);
          Outs r = run(ref_backend(), cell, dt, B, H, bias, padded ? lens.data() : nullptr, t, with_y, with_ws, seed);
          Outs c = run(cpu_backend(), cell, dt, B, H, bias, padded ? lens.data() : nullptr, t, with_y, with_ws, seed);
          // f64: same formulas, different evaluation order; f32: vectorised exp/tanh within a few ulp.
          const double atol = dt == DType::f64 ? 1e-13 : 2e-6, rtol = dt == DType::f64 ? 1e-12 : 1e-5;
          REQUIRE_CLOSE(c.h, r.h, atol, rtol);
          REQUIRE_CLOSE(c.c, r.c, atol, rtol);
          REQUIRE_CLOSE(c.y, r.y, atol, rtol);
          REQUIRE_CLOSE(c.ws, r.ws, atol, rtol);
          if (with_ws) {
            REQUIRE_CLOSE(c.dgi, r.dgi, atol, rtol);
            REQUIRE_CLOSE(c.dgh, r.dgh, atol, rtol);
            REQUIRE_CLOSE(c.dhp, r.dhp, atol, rtol);
            REQUIRE_CLOSE(c.dcp, r.dcp, atol, rtol);
          }
        }
}

TEST_CASE("rnn gate kernels: padded rows carry state and gradients through", "[rnn][kernels]") {
  const int64_t B = 3, H = 4;
  const std::vector<int64_t> lens = {1, 3, 2};
  for (Backend* be : {&ref_backend(), &cpu_backend()})
    for (RnnCell cell : {RnnCell::Tanh, RnnCell::Lstm, RnnCell::Gru}) {
      Outs o = run(*be, cell, DType::f64, B, H, true, lens.data(), 2, true, true, 99);
      // Rows 0 and 2 are padding at t = 2: y = 0, gate gradients 0.
      for (int64_t b : {0, 2}) {
        REQUIRE(equal(o.y.select(0, b).narrow(0, 0, H), zeros({H}, DType::f64)));
        REQUIRE(equal(o.dgi.select(0, b), zeros({rnn_gates(cell) * H}, DType::f64)));
      }
      REQUIRE(!equal(o.y.select(0, 1).narrow(0, 0, H), zeros({H}, DType::f64)));
      REQUIRE(equal(o.y.narrow(1, H, 3), full({B, 3}, 7.0, DType::f64)));  // past H: untouched
    }
}

TEST_CASE("rnn gate kernels: padded rows copy h_prev (and c_prev) exactly", "[rnn][kernels]") {
  const std::vector<int64_t> lens = {0};  // t = 0 >= 0: the row is padding
  for (Backend* be : {&ref_backend(), &cpu_backend()}) {
    const int64_t H = 5;
    Tensor gi = rnd({1, 4 * H}, DType::f32, 1), gh = rnd({1, 4 * H}, DType::f32, 2);
    Tensor hp = rnd({1, H}, DType::f32, 3), cp = rnd({1, H}, DType::f32, 4);
    Tensor h = empty({1, H}), c = empty({1, H});
    be->rnn_cell_forward(RnnStep{RnnCell::Lstm, 1, H, lens.data(), 0}, DType::f32, gi.data_ptr(), gh.data_ptr(),
                         nullptr, nullptr, hp.data_ptr(), cp.data_ptr(), h.data_ptr(), c.data_ptr(), nullptr, 0,
                         nullptr);
    REQUIRE(equal(h, hp));
    REQUIRE(equal(c, cp));
  }
}

TEST_CASE("rnn gate kernels refuse integer dtypes", "[rnn][kernels][errors]") {
  int64_t buf[8] = {};
  REQUIRE_THROWS_WITH(cpu_backend().rnn_cell_forward(RnnStep{RnnCell::Tanh, 1, 1, nullptr, 0}, DType::i64, buf, buf,
                                                     nullptr, nullptr, buf, nullptr, buf, nullptr, nullptr, 0,
                                                     nullptr),
                      Catch::Contains("rnn_cell_forward: no CPU kernel for dtype i64"));
}
