// Longitudinal (repeated-visit) clinical records: a long-format CSV (one row per visit: patient id, visit time,
// features, outcomes) becomes per-patient visit sequences sorted by time, then padded (B, T, F) batches with (B)
// i64 lengths for a recurrent model's variable-length path, plus per-visit targets with a "known" mask.
//
//   data::LongitudinalSpec spec = data::pbc::pbcseq_spec();
//   auto d = data::read_longitudinal_csv("data/files/pbcseq.csv", spec);
//   auto folds = data::kfold_patients(d.num_patients(), 5, /*seed=*/1);
//   auto train = data::kfold_train(folds, 0);
//   auto st = data::fit_standardizer(d, train);             // training patients only
//   auto batch = data::make_sequence_batch(d, st, folds[0]);  // x (B, T, F), lengths (B)
//   auto y = data::pbc::event_within_targets(d, folds[0]);   // values (B, T), known (B, T)
//
// Design: the record keeps values as read (after the explicit category maps and optional log transforms), with
// NaN for missing cells; standardisation and imputation happen only when a batch is made, from a standardiser
// fitted on a given set of patients, so a test fold never leaks into the statistics. Missing cells become the
// training mean (0 after standardisation) and a 0/1 missingness indicator per feature is appended, so the model can
// tell an imputed value from an observed one. Errors name the file and the line.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/data/csv.h"

namespace galen::data {

struct LongitudinalSpec {
  std::string id_column = "id";              // any text; numeric ids are compared as written
  std::string time_column = "day";           // numeric, never missing
  std::vector<std::string> feature_columns;  // numeric, or text columns listed in `categories`
  std::vector<std::string> outcome_columns;  // numeric, kept raw (for targets; never model inputs)
  // Text columns mapped explicitly to numbers, e.g. {"sex", {{"f", 0}, {"m", 1}}}. A cell outside the map is an
  // Error (with file and line); a missing cell stays missing.
  std::map<std::string, std::map<std::string, double>> categories;
  // Features stored as log(value) (skewed labs); a value <= 0 is an Error.
  std::set<std::string> log_features;
  CsvOptions csv;  // delimiter, missing-value spellings ("", "NA", ...); column types are set from this spec
};

// One patient's visits, sorted by time (ties keep file order).
struct PatientSequence {
  std::string id;
  std::vector<double> times;
  std::vector<std::vector<double>> features;  // [visit][feature], after category maps / logs; NaN = missing
  std::vector<std::vector<double>> outcomes;  // [visit][outcome]; NaN = missing
  std::vector<int64_t> lines;                 // source line of each visit
  int64_t num_visits() const { return static_cast<int64_t>(times.size()); }
};

class LongitudinalData {
 public:
  LongitudinalData(std::string source, LongitudinalSpec spec, std::vector<PatientSequence> patients);
  const std::string& source() const { return source_; }
  const LongitudinalSpec& spec() const { return spec_; }
  const std::vector<PatientSequence>& patients() const { return patients_; }
  const PatientSequence& patient(int64_t i) const;  // Error when out of range
  int64_t num_patients() const { return static_cast<int64_t>(patients_.size()); }
  int64_t num_visits() const;
  int64_t max_visits() const;
  int64_t num_features() const { return static_cast<int64_t>(spec_.feature_columns.size()); }
  int64_t find_patient(const std::string& id) const;     // -1 when absent
  int64_t feature_index(const std::string& name) const;  // Error when absent
  int64_t outcome_index(const std::string& name) const;  // Error when absent

 private:
  std::string source_;
  LongitudinalSpec spec_;
  std::vector<PatientSequence> patients_;
  std::map<std::string, int64_t> by_id_;
};

// Plain or gzip CSV file / text in memory / an already parsed table. Patients appear in order of first appearance.
LongitudinalData read_longitudinal_csv(const std::string& path, const LongitudinalSpec& spec);
LongitudinalData parse_longitudinal_csv(const std::string& text, const LongitudinalSpec& spec,
                                        const std::string& what = "<memory>");
LongitudinalData longitudinal_from_table(const CsvTable& table, const LongitudinalSpec& spec);

// Per-input statistics fitted over every visit of the given (training) patients: the features, then the time since
// the previous visit ("dt", 0 at a first visit). Population std (ddof 0, as scikit-learn's StandardScaler); a
// column with no observed training value gets mean 0, std 1; a constant one std 1.
struct VisitStandardizer {
  std::vector<std::string> names;
  std::vector<double> mean, std;
  std::vector<int64_t> observed;  // non-missing training values per input
};
VisitStandardizer fit_standardizer(const LongitudinalData& d, const std::vector<int64_t>& train_patients);

struct EncodeOptions {
  bool time_delta = true;    // append standardised time since the previous visit
  bool missing_mask = true;  // append one 0/1 indicator per feature (1 = was missing, imputed)
  DType dtype = DType::f32;
};

// Patients in the order given. F = features [+ "dt"] [+ "<feature>_missing" each]; padding is 0.
struct SequenceBatch {
  Tensor x;        // (B, T, F), T = the longest of these patients
  Tensor lengths;  // (B) i64, number of visits
  Tensor valid;    // (B, T) bool, true on real visits
  std::vector<int64_t> patients;
  std::vector<std::string> feature_names;  // F names
};
SequenceBatch make_sequence_batch(const LongitudinalData& d, const VisitStandardizer& st,
                                  const std::vector<int64_t>& patients, const EncodeOptions& options = {});

// Per-visit targets padded like the batch: fn(patient, visit) gives the value or nullopt (unknown).
struct VisitTargets {
  Tensor values;  // (B, T), 0 where unknown or padding
  Tensor known;   // (B, T) bool
};
using VisitTargetFn = std::function<std::optional<double>(const PatientSequence&, int64_t visit)>;
VisitTargets make_visit_targets(const LongitudinalData& d, const std::vector<int64_t>& patients,
                                const VisitTargetFn& fn, DType dtype = DType::f32);

// Patient-level K-fold split: a seeded permutation of 0..num_patients-1 (data::permutation, the same on every
// platform) cut into k folds whose sizes differ by at most one. Every patient is in exactly one fold.
std::vector<std::vector<int64_t>> kfold_patients(int64_t num_patients, int64_t k, uint64_t seed);
// All patients outside fold `fold`, ascending.
std::vector<int64_t> kfold_train(const std::vector<std::vector<int64_t>>& folds, int64_t fold);

// The Mayo PBC follow-up data (survival::pbcseq; data/files/pbcseq.csv).
namespace pbc {
// id "id", time "day" (days from enrolment); features trt, age, sex (f 0 / m 1), ascites, hepato, spiders, edema,
// bili, chol, albumin, alk.phos, ast, platelet, protime, stage, with bili, chol, alk.phos, ast, protime logged;
// outcomes futime (end of follow-up, days from enrolment) and status (0 censored, 1 transplant, 2 death).
LongitudinalSpec pbcseq_spec();
// Death or transplant within horizon_days of the visit at `day`, for a patient followed to `futime` with `status`:
//   1 when status is 1 or 2 and futime - day <= horizon;  0 when futime - day >= horizon (event-free over the
//   horizon; an event at exactly the horizon counts as 1);  unknown (nullopt) when censored earlier.
// Error for a status outside {0, 1, 2} or futime < day.
std::optional<double> event_within(double day, double futime, double status, double horizon_days = 730.5);
// event_within for every visit (futime / status from the outcome columns, which must be constant per patient).
VisitTargets event_within_targets(const LongitudinalData& d, const std::vector<int64_t>& patients,
                                  double horizon_days = 730.5, DType dtype = DType::f32);
// log(bilirubin) at the next visit; unknown on the last visit and where the next value is missing.
VisitTargets next_log_bili_targets(const LongitudinalData& d, const std::vector<int64_t>& patients,
                                   DType dtype = DType::f32);
}  // namespace pbc

}  // namespace galen::data
