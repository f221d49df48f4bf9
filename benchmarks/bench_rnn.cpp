// lstm / gru: a 2-layer LSTM / GRU, input 64, hidden 128, sequence 50, batch 32,
// f32 on the CPU; forward, and forward + backward of sum(output) (parameter
// gradients), galen vs LibTorch (torch::nn::LSTM / GRU). Unit: ms per run.
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/layers/rnn.h"
#include "torch_peer.h"
#include "torch_peer_rnn.h"

namespace galen_bench {

namespace {
constexpr int64_t kT = 50, kB = 32, kI = 64, kH = 128, kLayers = 2;

Bench bench_recurrent(bool lstm) {
  Bench b;
  b.name = lstm ? "lstm" : "gru";
  b.description = std::string(lstm ? "LSTM" : "GRU") +
                  " 2 layers, input 64, hidden 128, seq 50, batch 32, fwd and fwd+bwd, vs LibTorch";
  b.cases = [lstm] {
    std::vector<Case> cases;
    for (bool backward : {false, true}) {
      Case c;
      c.name = std::string("T50_B32_I64_H128_L2") + (backward ? "_fwd_bwd" : "_fwd");
      c.unit = Unit::Ms;
      c.setup = [lstm, backward] {
        galen::manual_seed(0);
        galen::Tensor x = galen::randn({kT, kB, kI});
        std::shared_ptr<galen::nn::RNNBase> m;
        galen::nn::RnnOptions o;
        o.num_layers = kLayers;
        if (lstm) m = std::make_shared<galen::nn::LSTM>(kI, kH, o);
        else m = std::make_shared<galen::nn::GRU>(kI, kH, o);
        std::vector<Impl> impls;
        impls.push_back({"galen", false, [m, x, lstm, backward]() {
                           galen::Tensor out =
                               lstm ? std::static_pointer_cast<galen::nn::LSTM>(m)->forward(x, {}, {}).output
                                    : std::static_pointer_cast<galen::nn::GRU>(m)->forward(x, {}).output;
                           if (backward) {
                             out.sum().backward();
                             m->zero_grad();
                           }
                           do_not_optimize(out.data_ptr());
                         }, {}});
        if (torch_peer::kBuilt)
          impls.push_back({"libtorch", true, torch_peer::rnn_layer(lstm, kT, kB, kI, kH, kLayers, backward), {}});
        return impls;
      };
      cases.push_back(c);
    }
    return cases;
  };
  return b;
}

Bench bench_lstm() { return bench_recurrent(true); }
Bench bench_gru() { return bench_recurrent(false); }
}  // namespace

static Register register_lstm(70, bench_lstm);
static Register register_gru(71, bench_gru);

}  // namespace galen_bench
