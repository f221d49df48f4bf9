// Disease-progression models over longitudinal visit records: a recurrent (LSTM or GRU) encoder over a patient's
// visit history with two per-visit heads, and the recipe that trains and evaluates it on the Mayo PBC follow-up data
// (data/longitudinal.h) with patient-level K-fold cross-validation against simple baselines.
//
//   zoo::ProgressionOptions o;
//   o.input_size = batch.x.size(2);  o.cell = "lstm";  o.head = "attention";  o.skip_feature = bili_index;
//   auto model = std::make_shared<zoo::ProgressionModel>(o);
//   auto out = model->forward(batch.x, batch.lengths);  // out.risk_logits (B, T), out.next_value (B, T)
//
// Design.
//  * A prediction is made after EVERY visit, so the heads read the encoder's per-step outputs h_t (B, T, H), and
//    every quantity at step t depends only on visits 0..t (causal): the recurrent encoder is unidirectional, and the
//    attention head pools h_0..h_t only.
//  * head "last": the heads read h_t, the recurrent state after visit t (the "last state" of the history so far).
//  * head "attention": additive attention pooling (nn::AttentionPooling's proj and v: score_j = v·tanh(W h_j + b))
//    over h_0..h_t, computed for every t at once as a causally masked (B, T, T) softmax; the heads read
//    [h_t, context_t] (2H). At the last valid step the context equals AttentionPooling::forward(h, lengths).
//  * Task 1 (risk): a logit per visit; trained with binary cross-entropy on the visits whose outcome is known.
//  * Task 2 (next value): a regression per visit in standardised units. With skip_feature >= 0 the head predicts the
//    change from that input (e.g. the visit's own standardised log-bilirubin): next = x[..., skip] + head(.). The
//    model then starts from "last value carried forward" (the value head starts at zero) and learns the correction.
//  * Regularisation for a small cohort (~250 training patients): dropout on the heads' input, AdamW weight decay,
//    few epochs (more epochs overfit; see the README figures).
//  * Padding: steps t >= lengths[b] never influence a valid step (the recurrent op ignores them, the attention mask
//    excludes them); both outputs are 0 there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/data/longitudinal.h"
#include "galen/layers/attention.h"
#include "galen/layers/dropout.h"
#include "galen/layers/linear.h"
#include "galen/layers/module.h"
#include "galen/layers/rnn.h"

namespace galen::data {
class Progress;
}

namespace galen::zoo {

struct ProgressionOptions {
  int64_t input_size = 0;    // F, features per visit
  int64_t hidden_size = 32;  // H
  int64_t num_layers = 1;
  std::string cell = "lstm";       // "lstm" or "gru"
  std::string head = "attention";  // "attention" or "last"
  int64_t attn_hidden = 16;        // attention head's scoring MLP width
  double dropout = 0.0;            // between recurrent layers (num_layers > 1)
  double head_dropout = 0.2;       // on the heads' input, in training mode
  int64_t skip_feature = -1;       // input index the next-value head adds to (-1: none)
};

struct ProgressionOutput {
  Tensor risk_logits;  // (B, T) logit of the event after each visit; 0 on padding
  Tensor next_value;   // (B, T) predicted next value (standardised units); 0 on padding
  Tensor attention;    // (B, T, T) causal weights of step t over steps j (head "attention"), else undefined
};

class ProgressionModel : public nn::Module {
 public:
  explicit ProgressionModel(const ProgressionOptions& options);
  std::string name() const override { return "ProgressionModel"; }
  // x (B, T, F) floating; lengths (B) integer in 1..T (any device), undefined = all T steps valid.
  ProgressionOutput forward(const Tensor& x, const Tensor& lengths);
  // Risk logits with all steps valid.
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()).risk_logits; }
  const ProgressionOptions& options() const { return options_; }

  std::shared_ptr<nn::RNNBase> rnn;            // nn::LSTM or nn::GRU, batch_first
  std::shared_ptr<nn::AttentionPooling> pool;  // head "attention" only
  std::shared_ptr<nn::Dropout> drop;           // on the heads' input (no parameters)
  std::shared_ptr<nn::Linear> risk_head, value_head;

 protected:
  std::string extra_repr() const override;

 private:
  ProgressionOptions options_;
};

// Masked multi-task loss: mean BCE-with-logits over known risk targets + value_weight * mean squared error over known
// next-value targets (a mean over zero known targets counts 0). Targets (B, T) floating, known (B, T) bool.
struct ProgressionLoss {
  Tensor total, risk, value;
};
ProgressionLoss progression_loss(const ProgressionOutput& out, const Tensor& risk_target, const Tensor& risk_known,
                                 const Tensor& value_target, const Tensor& value_known, double value_weight = 1.0);

// ---- checkpoint: the model, its options and the input standardiser in one data::Checkpoint file ----------------
// Metadata JSON: {"model": "galen.progression", "options": {...}, "standardizer": {...}, "features": [...],
// "user": <extra_json>}. Doubles are written in shortest round-trip form, so a loaded model predicts bit-identically.
struct ProgressionBundle {
  std::shared_ptr<ProgressionModel> model;
  data::VisitStandardizer standardizer;
  std::vector<std::string> feature_names;  // the model's F input names (as make_sequence_batch writes them)
  std::string user_json = "{}";
};
void save_progression(const std::string& path, const ProgressionModel& model, const data::VisitStandardizer& st,
                      const std::vector<std::string>& feature_names, int64_t epochs,
                      const std::string& user_json = "{}");
ProgressionBundle load_progression(const std::string& path);  // Error naming the file on any mismatch

// ---- the PBC recipe -----------------------------------------------------------------------------------------
namespace pbc {

// Everything a fold needs, for a set of patients, with a given (training) standardiser:
//   batch: x (B, T, F), lengths (B); risk: death / transplant within 2 years after each visit (known where not
//   censored); next: the next visit's log-bilirubin in the standardised units of the "bili" input (known where a next
//   visit with bilirubin exists). bili_mean / bili_std convert back: log_bili = next * std + mean.
struct PbcTensors {
  data::SequenceBatch batch;
  data::VisitTargets risk, next;
  int64_t bili_index = -1;  // index of the (logged) bilirubin input in x
  double bili_mean = 0, bili_std = 1;
};
PbcTensors make_tensors(const data::LongitudinalData& d, const data::VisitStandardizer& st,
                        const std::vector<int64_t>& patients);

struct TrainOptions {
  int64_t epochs = 40;
  int64_t batch_size = 32;  // patients per step
  double lr = 1e-3;
  double weight_decay = 1e-4;  // AdamW-style decoupled decay
  double value_weight = 1.0;
  double clip_norm = 1.0;  // <= 0: no clipping
  uint64_t seed = 0;       // patient shuffle order per epoch
  Device device{};
};
// Trains `model` (already on options.device) on the patients of `t` with AdamW; returns the mean loss of each epoch.
// `progress` (optional) is stepped once per batch (its epochs are this call's epochs).
std::vector<double> train(ProgressionModel& model, const PbcTensors& t, const TrainOptions& options,
                          data::Progress* progress = nullptr);

// Per-visit predictions on the known targets of `t` (eval mode, no autograd), in visit order (patient, then visit).
struct Predictions {
  std::vector<double> risk;     // P(event within 2 years) at visits with a known outcome
  std::vector<int> risk_label;  // 0 / 1
  std::vector<double> next;     // predicted next log-bilirubin (natural units) at visits with a known next value
  std::vector<double> next_true;
};
Predictions predict(ProgressionModel& model, const PbcTensors& t, Device device = Device{});

// Baseline for task 1: L2-regularised logistic regression on the latest visit's encoded inputs (the same x row the
// model sees at that step: standardised features, time since the previous visit, missingness indicators).
// Minimises mean BCE + l2/2 * |w|^2 (bias not penalised) by full-batch gradient descent with galen ops and Adam
// (lr 0.05) until the gradient's max-norm falls below 1e-6 or max_iters.
struct LogisticRegression {
  std::vector<double> w;
  double b = 0;
  int64_t iters = 0;
  double grad_max = 0;  // at the end
  double predict_proba(const double* x) const;
};
LogisticRegression fit_logistic_regression(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                                           double l2 = 1e-2, int64_t max_iters = 3000);
// The rows of x at the known risk visits of `t`, and their labels.
void risk_rows(const PbcTensors& t, std::vector<std::vector<double>>& x, std::vector<int>& y);
// Baseline for task 2: last observed log-bilirubin carried forward (the visit's own value when observed, else the
// latest earlier observation, else the training mean), at the known next-value visits of `t`.
std::vector<double> last_value_carried_forward(const data::LongitudinalData& d, const PbcTensors& t);

// Patient-level K-fold cross-validation of the model and both baselines on the same folds.
struct CvOptions {
  int64_t folds = 5;
  uint64_t seed = 0;         // fold assignment and model initialisation
  ProgressionOptions model;  // input_size / skip_feature are filled in
  TrainOptions train;
  double lr_l2 = 1e-2;   // logistic-regression penalty
  bool verbose = true;   // one line per fold on stdout
  bool progress = true;  // a data::Progress bar per fold
};
struct FoldResult {
  int64_t train_patients = 0, test_patients = 0, risk_visits = 0, risk_events = 0, next_visits = 0;
  double auc_model = 0, auc_logreg = 0, mae_model = 0, mae_lvcf = 0, final_loss = 0, seconds = 0;
};
struct CvResult {
  std::vector<FoldResult> folds;
};
CvResult cross_validate(const data::LongitudinalData& d, const CvOptions& options);

// Mean and sample standard deviation (ddof 1; 0 for one value).
std::pair<double, double> mean_sd(const std::vector<double>& v);

}  // namespace pbc

}  // namespace galen::zoo
