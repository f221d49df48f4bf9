// Longitudinal visit records: CSV -> per-patient sorted sequences -> standardised, imputed, padded batches and
// per-visit targets; patient-level K-fold; the PBC (pbcseq) task helpers. See longitudinal.h for the design.
#include "galen/data/longitudinal.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <sstream>

#include "galen/data/generator.h"

namespace galen::data {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string at_row(const CsvTable& t, int64_t row, const std::string& column) {
  return "'" + t.source() + "' line " + std::to_string(t.line(row)) + ", column '" + column + "'";
}

// Numeric values of a column, NaN where missing; a text cell in a column the spec says is numeric is an Error
// naming the file and line (a table parsed with Auto types keeps such a column as text).
std::vector<double> numeric_column(const CsvTable& t, const std::string& name) {
  const auto& col = t.column(name);
  if (col.type == ColumnType::Numeric) return col.numbers;
  std::vector<double> out(static_cast<size_t>(t.rows()), kNaN);
  for (int64_t r = 0; r < t.rows(); ++r) {
    if (col.missing[r]) continue;
    const std::string& cell = col.strings[r];
    const size_t b = cell.find_first_not_of(" \t");
    const size_t e = cell.find_last_not_of(" \t");
    const std::string core = b == std::string::npos ? "" : cell.substr(b, e - b + 1);
    char* end = nullptr;
    const double v = core.empty() ? 0.0 : std::strtod(core.c_str(), &end);
    GALEN_CHECK(!core.empty() && end == core.c_str() + core.size(), "longitudinal: ", at_row(t, r, name), ": '", cell,
                "' is not a number (the column is numeric; map text columns through "
                "LongitudinalSpec::categories)");
    out[r] = v;
  }
  return out;
}

std::vector<double> categorical_column(const CsvTable& t, const std::string& name,
                                       const std::map<std::string, double>& map) {
  const auto& col = t.column(name);
  std::vector<double> out(static_cast<size_t>(t.rows()), kNaN);
  for (int64_t r = 0; r < t.rows(); ++r) {
    if (col.missing[r]) continue;
    const std::string cell = col.type == ColumnType::String ? col.strings[r] : [&] {
      // A numeric-looking code ("0", "1") read as a number: look it up by its text.
      std::ostringstream os;
      os << col.numbers[r];
      return os.str();
    }();
    auto it = map.find(cell);
    if (it == map.end()) {
      std::string known;
      for (const auto& [k, v] : map) known += (known.empty() ? "'" : ", '") + k + "'";
      GALEN_FAIL("longitudinal: ", at_row(t, r, name), ": category '", cell, "' is not in the map (known: ", known,
                 ")");
    }
    out[r] = it->second;
  }
  return out;
}

void check_spec(const LongitudinalSpec& s) {
  std::set<std::string> seen{s.id_column};
  GALEN_CHECK(!s.id_column.empty() && !s.time_column.empty(), "longitudinal: id_column and time_column must be named");
  GALEN_CHECK(s.id_column != s.time_column, "longitudinal: id_column and time_column are both '", s.id_column, "'");
  for (const auto* list : {&s.feature_columns, &s.outcome_columns})
    for (const auto& c : *list) {
      GALEN_CHECK(c != s.id_column, "longitudinal: the id column '", c, "' cannot be a feature or outcome");
      GALEN_CHECK(seen.insert(c).second, "longitudinal: column '", c, "' is listed twice among features/outcomes");
    }
  for (const auto& [c, m] : s.categories) {
    GALEN_CHECK(std::find(s.feature_columns.begin(), s.feature_columns.end(), c) != s.feature_columns.end(),
                "longitudinal: a category map is given for '", c, "', which is not a feature column");
    GALEN_CHECK(!m.empty(), "longitudinal: the category map of '", c, "' is empty");
    GALEN_CHECK(!s.log_features.count(c), "longitudinal: categorical column '", c, "' cannot be logged");
  }
  for (const auto& c : s.log_features)
    GALEN_CHECK(std::find(s.feature_columns.begin(), s.feature_columns.end(), c) != s.feature_columns.end(),
                "longitudinal: log_features names '", c, "', which is not a feature column");
}

}  // namespace

// ---- LongitudinalData ----------------------------------------------------------------------------------------

LongitudinalData::LongitudinalData(std::string source, LongitudinalSpec spec, std::vector<PatientSequence> patients)
    : source_(std::move(source)), spec_(std::move(spec)), patients_(std::move(patients)) {
  for (size_t i = 0; i < patients_.size(); ++i) {
    GALEN_CHECK(by_id_.emplace(patients_[i].id, static_cast<int64_t>(i)).second, "LongitudinalData: patient id '",
                patients_[i].id, "' appears twice");
  }
}

const PatientSequence& LongitudinalData::patient(int64_t i) const {
  GALEN_CHECK(i >= 0 && i < num_patients(), "LongitudinalData: patient index ", i, " out of range [0, ", num_patients(),
              ") in '", source_, "'");
  return patients_[static_cast<size_t>(i)];
}

int64_t LongitudinalData::num_visits() const {
  int64_t n = 0;
  for (const auto& p : patients_) n += p.num_visits();
  return n;
}

int64_t LongitudinalData::max_visits() const {
  int64_t n = 0;
  for (const auto& p : patients_) n = std::max(n, p.num_visits());
  return n;
}

int64_t LongitudinalData::find_patient(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? -1 : it->second;
}

namespace {
int64_t index_in(const std::vector<std::string>& names, const std::string& name, const char* what,
                 const std::string& source) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    GALEN_FAIL("LongitudinalData ('", source, "'): no ", what, " '", name, "' (", what, "s: ", all, ")");
  }
  return it - names.begin();
}
}  // namespace

int64_t LongitudinalData::feature_index(const std::string& name) const {
  return index_in(spec_.feature_columns, name, "feature", source_);
}

int64_t LongitudinalData::outcome_index(const std::string& name) const {
  return index_in(spec_.outcome_columns, name, "outcome", source_);
}

// ---- reading -----------------------------------------------------------------------------------------------------

LongitudinalData longitudinal_from_table(const CsvTable& t, const LongitudinalSpec& spec) {
  check_spec(spec);
  GALEN_CHECK(t.rows() > 0, "longitudinal: '", t.source(), "' has no data rows");
  // Ids as text (a numeric id column prints back as written in the common integer case).
  const auto& idc = t.column(spec.id_column);
  std::vector<std::string> ids(static_cast<size_t>(t.rows()));
  for (int64_t r = 0; r < t.rows(); ++r) {
    GALEN_CHECK(!idc.missing[r], "longitudinal: ", at_row(t, r, spec.id_column), ": the patient id is missing");
    if (idc.type == ColumnType::String) {
      ids[r] = idc.strings[r];
    } else {
      std::ostringstream os;
      os.precision(17);
      os << idc.numbers[r];
      ids[r] = os.str();
    }
  }
  const std::vector<double> times = numeric_column(t, spec.time_column);
  for (int64_t r = 0; r < t.rows(); ++r)
    GALEN_CHECK(std::isfinite(times[r]), "longitudinal: ", at_row(t, r, spec.time_column),
                ": the visit time is missing or not finite");
  std::vector<std::vector<double>> feats, outs;
  for (const auto& c : spec.feature_columns) {
    auto cat = spec.categories.find(c);
    feats.push_back(cat != spec.categories.end() ? categorical_column(t, c, cat->second) : numeric_column(t, c));
    if (spec.log_features.count(c)) {
      for (int64_t r = 0; r < t.rows(); ++r) {
        double& v = feats.back()[r];
        if (std::isnan(v)) continue;
        GALEN_CHECK(v > 0, "longitudinal: ", at_row(t, r, c), ": ", v, " cannot be logged (log_features needs > 0)");
        v = std::log(v);
      }
    }
  }
  for (const auto& c : spec.outcome_columns) outs.push_back(numeric_column(t, c));

  // Group rows by patient (order of first appearance), then sort each patient's visits by time (stable).
  std::vector<PatientSequence> patients;
  std::map<std::string, size_t> slot;
  std::vector<std::vector<int64_t>> rows_of;
  for (int64_t r = 0; r < t.rows(); ++r) {
    auto [it, fresh] = slot.emplace(ids[r], patients.size());
    if (fresh) {
      patients.emplace_back();
      patients.back().id = ids[r];
      rows_of.emplace_back();
    }
    rows_of[it->second].push_back(r);
  }
  for (size_t p = 0; p < patients.size(); ++p) {
    auto& rows = rows_of[p];
    std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return times[a] < times[b]; });
    auto& ps = patients[p];
    for (int64_t r : rows) {
      ps.times.push_back(times[r]);
      ps.lines.push_back(t.line(r));
      std::vector<double> f(feats.size()), o(outs.size());
      for (size_t j = 0; j < feats.size(); ++j) f[j] = feats[j][r];
      for (size_t j = 0; j < outs.size(); ++j) o[j] = outs[j][r];
      ps.features.push_back(std::move(f));
      ps.outcomes.push_back(std::move(o));
    }
  }
  return LongitudinalData(t.source(), spec, std::move(patients));
}

namespace {
CsvOptions csv_options(const LongitudinalSpec& spec) {
  CsvOptions o = spec.csv;
  o.types[spec.id_column] = ColumnType::String;
  o.types[spec.time_column] = ColumnType::Numeric;
  for (const auto& c : spec.feature_columns)
    o.types[c] = spec.categories.count(c) ? ColumnType::String : ColumnType::Numeric;
  for (const auto& c : spec.outcome_columns) o.types[c] = ColumnType::Numeric;
  return o;
}
}  // namespace

LongitudinalData read_longitudinal_csv(const std::string& path, const LongitudinalSpec& spec) {
  check_spec(spec);
  return longitudinal_from_table(read_csv(path, csv_options(spec)), spec);
}

LongitudinalData parse_longitudinal_csv(const std::string& text, const LongitudinalSpec& spec,
                                        const std::string& what) {
  check_spec(spec);
  return longitudinal_from_table(parse_csv(text, csv_options(spec), what), spec);
}

// ---- standardisation and batches ------------------------------------------------------------------------------

namespace {
void check_patients(const LongitudinalData& d, const std::vector<int64_t>& patients, const char* op) {
  for (int64_t p : patients)
    GALEN_CHECK(p >= 0 && p < d.num_patients(), op, ": patient index ", p, " out of range [0, ", d.num_patients(),
                ") for '", d.source(), "'");
}
}  // namespace

VisitStandardizer fit_standardizer(const LongitudinalData& d, const std::vector<int64_t>& train_patients) {
  GALEN_CHECK(!train_patients.empty(), "fit_standardizer: no training patients given");
  check_patients(d, train_patients, "fit_standardizer");
  const size_t nf = static_cast<size_t>(d.num_features()), n = nf + 1;
  VisitStandardizer st;
  st.names = d.spec().feature_columns;
  st.names.push_back("dt");
  std::vector<long double> s(n, 0.0L), s2(n, 0.0L);
  st.observed.assign(n, 0);
  // Two passes (mean, then squared deviations) keep the variance accurate for large-valued columns.
  auto each = [&](const std::function<void(size_t, double)>& f) {
    for (int64_t p : train_patients) {
      const auto& ps = d.patient(p);
      for (int64_t v = 0; v < ps.num_visits(); ++v) {
        for (size_t j = 0; j < nf; ++j)
          if (!std::isnan(ps.features[v][j])) f(j, ps.features[v][j]);
        f(nf, v == 0 ? 0.0 : ps.times[v] - ps.times[v - 1]);
      }
    }
  };
  each([&](size_t j, double x) {
    s[j] += x;
    ++st.observed[j];
  });
  st.mean.assign(n, 0.0);
  for (size_t j = 0; j < n; ++j)
    if (st.observed[j] > 0) st.mean[j] = static_cast<double>(s[j] / st.observed[j]);
  each([&](size_t j, double x) { s2[j] += (x - st.mean[j]) * (x - st.mean[j]); });
  st.std.assign(n, 1.0);
  for (size_t j = 0; j < n; ++j) {
    if (st.observed[j] == 0) continue;
    const double sd = std::sqrt(static_cast<double>(s2[j] / st.observed[j]));
    st.std[j] = sd > 0 ? sd : 1.0;
  }
  return st;
}

SequenceBatch make_sequence_batch(const LongitudinalData& d, const VisitStandardizer& st,
                                  const std::vector<int64_t>& patients, const EncodeOptions& o) {
  check_patients(d, patients, "make_sequence_batch");
  const int64_t nf = d.num_features();
  GALEN_CHECK(static_cast<int64_t>(st.mean.size()) == nf + 1 && st.std.size() == st.mean.size(),
              "make_sequence_batch: the standardiser has ", st.mean.size(), " inputs, expected ", nf + 1,
              " (the features and dt) for '", d.source(), "'");
  GALEN_CHECK(o.dtype == DType::f32 || o.dtype == DType::f64, "make_sequence_batch: dtype must be f32 or f64");
  SequenceBatch b;
  b.patients = patients;
  b.feature_names = d.spec().feature_columns;
  if (o.time_delta) b.feature_names.push_back("dt");
  if (o.missing_mask)
    for (const auto& c : d.spec().feature_columns) b.feature_names.push_back(c + "_missing");
  const int64_t B = static_cast<int64_t>(patients.size()), F = static_cast<int64_t>(b.feature_names.size());
  int64_t T = 0;
  for (int64_t p : patients) T = std::max(T, d.patient(p).num_visits());
  std::vector<double> x(static_cast<size_t>(B * T * F), 0.0);
  std::vector<int64_t> len(static_cast<size_t>(B));
  std::vector<uint8_t> valid(static_cast<size_t>(B * T), 0);
  for (int64_t i = 0; i < B; ++i) {
    const auto& ps = d.patient(patients[i]);
    len[i] = ps.num_visits();
    for (int64_t v = 0; v < ps.num_visits(); ++v) {
      valid[i * T + v] = 1;
      double* row = &x[static_cast<size_t>((i * T + v) * F)];
      int64_t c = 0;
      for (int64_t j = 0; j < nf; ++j, ++c) {
        const double val = ps.features[v][j];
        row[c] = std::isnan(val) ? 0.0 : (val - st.mean[j]) / st.std[j];  // missing: the training mean
      }
      if (o.time_delta) row[c++] = ((v == 0 ? 0.0 : ps.times[v] - ps.times[v - 1]) - st.mean[nf]) / st.std[nf];
      if (o.missing_mask)
        for (int64_t j = 0; j < nf; ++j) row[c++] = std::isnan(ps.features[v][j]) ? 1.0 : 0.0;
    }
  }
  b.x = from_vector<double>(x, {B, T, F}, DType::f64).to(o.dtype);
  b.lengths = from_vector<int64_t>(len, {B}, DType::i64);
  b.valid = from_vector<uint8_t>(valid, {B, T}, DType::u8).to(DType::boolean);
  return b;
}

VisitTargets make_visit_targets(const LongitudinalData& d, const std::vector<int64_t>& patients,
                                const VisitTargetFn& fn, DType dtype) {
  check_patients(d, patients, "make_visit_targets");
  GALEN_CHECK(dtype == DType::f32 || dtype == DType::f64, "make_visit_targets: dtype must be f32 or f64");
  const int64_t B = static_cast<int64_t>(patients.size());
  int64_t T = 0;
  for (int64_t p : patients) T = std::max(T, d.patient(p).num_visits());
  std::vector<double> val(static_cast<size_t>(B * T), 0.0);
  std::vector<uint8_t> known(static_cast<size_t>(B * T), 0);
  for (int64_t i = 0; i < B; ++i) {
    const auto& ps = d.patient(patients[i]);
    for (int64_t v = 0; v < ps.num_visits(); ++v) {
      const std::optional<double> y = fn(ps, v);
      if (!y.has_value()) continue;
      GALEN_CHECK(std::isfinite(*y), "make_visit_targets: the target of patient '", ps.id, "' visit ", v, " ('",
                  d.source(), "' line ", ps.lines[v], ") is not finite: ", *y);
      val[i * T + v] = *y;
      known[i * T + v] = 1;
    }
  }
  return {from_vector<double>(val, {B, T}, DType::f64).to(dtype),
          from_vector<uint8_t>(known, {B, T}, DType::u8).to(DType::boolean)};
}

// ---- K-fold ---------------------------------------------------------------------------------------------------

std::vector<std::vector<int64_t>> kfold_patients(int64_t num_patients, int64_t k, uint64_t seed) {
  GALEN_CHECK(k >= 2 && k <= num_patients, "kfold_patients: need 2 <= k <= number of patients (", num_patients,
              "), got k = ", k);
  const std::vector<int64_t> perm = permutation(num_patients, mix_seed(seed, 0x6b666f6c64ull));  // "kfold"
  std::vector<std::vector<int64_t>> folds(static_cast<size_t>(k));
  const int64_t base = num_patients / k, extra = num_patients % k;
  int64_t at = 0;
  for (int64_t f = 0; f < k; ++f) {
    const int64_t n = base + (f < extra ? 1 : 0);
    folds[f].assign(perm.begin() + at, perm.begin() + at + n);
    std::sort(folds[f].begin(), folds[f].end());
    at += n;
  }
  return folds;
}

std::vector<int64_t> kfold_train(const std::vector<std::vector<int64_t>>& folds, int64_t fold) {
  GALEN_CHECK(fold >= 0 && fold < static_cast<int64_t>(folds.size()), "kfold_train: fold ", fold, " out of range [0, ",
              folds.size(), ")");
  std::vector<int64_t> out;
  for (size_t f = 0; f < folds.size(); ++f)
    if (static_cast<int64_t>(f) != fold) out.insert(out.end(), folds[f].begin(), folds[f].end());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- PBC ------------------------------------------------------------------------------------------------------

namespace pbc {

LongitudinalSpec pbcseq_spec() {
  LongitudinalSpec s;
  s.id_column = "id";
  s.time_column = "day";
  s.feature_columns = {"trt",  "age",     "sex",      "ascites", "hepato",   "spiders", "edema", "bili",
                       "chol", "albumin", "alk.phos", "ast",     "platelet", "protime", "stage"};
  s.outcome_columns = {"futime", "status"};
  s.categories["sex"] = {{"f", 0.0}, {"m", 1.0}};
  s.log_features = {"bili", "chol", "alk.phos", "ast", "protime"};
  return s;
}

std::optional<double> event_within(double day, double futime, double status, double horizon_days) {
  GALEN_CHECK(status == 0 || status == 1 || status == 2,
              "pbc::event_within: status must be 0 (censored), 1 "
              "(transplant) or 2 (death), got ",
              status);
  GALEN_CHECK(futime >= day, "pbc::event_within: follow-up ends (futime ", futime, ") before the visit (day ", day,
              ")");
  GALEN_CHECK(horizon_days > 0, "pbc::event_within: horizon_days must be > 0, got ", horizon_days);
  const double left = futime - day;
  if (status != 0 && left <= horizon_days) return 1.0;
  if (left >= horizon_days) return 0.0;
  return std::nullopt;  // censored before the horizon: outcome unknown
}

VisitTargets event_within_targets(const LongitudinalData& d, const std::vector<int64_t>& patients, double horizon_days,
                                  DType dtype) {
  const int64_t fi = d.outcome_index("futime"), si = d.outcome_index("status");
  return make_visit_targets(
      d, patients,
      [&](const PatientSequence& p, int64_t v) -> std::optional<double> {
        const double futime = p.outcomes[v][fi], status = p.outcomes[v][si];
        auto at = [&] { return "'" + d.source() + "' line " + std::to_string(p.lines[v]); };
        GALEN_CHECK(!std::isnan(futime) && !std::isnan(status), "pbc::event_within_targets: ", at(),
                    ": futime or status is missing");
        GALEN_CHECK(futime == p.outcomes[0][fi] && status == p.outcomes[0][si], "pbc::event_within_targets: ", at(),
                    ": futime/status of patient '", p.id, "' differ between visits");
        try {
          return event_within(p.times[v], futime, status, horizon_days);
        } catch (const Error& e) {
          GALEN_FAIL(at(), ": ", e.what());
        }
      },
      dtype);
}

VisitTargets next_log_bili_targets(const LongitudinalData& d, const std::vector<int64_t>& patients, DType dtype) {
  const int64_t bi = d.feature_index("bili");
  const bool logged = d.spec().log_features.count("bili") > 0;
  return make_visit_targets(
      d, patients,
      [&](const PatientSequence& p, int64_t v) -> std::optional<double> {
        if (v + 1 >= p.num_visits()) return std::nullopt;
        const double b = p.features[v + 1][bi];
        if (std::isnan(b)) return std::nullopt;
        if (logged) return b;
        GALEN_CHECK(b > 0, "pbc::next_log_bili_targets: '", d.source(), "' line ", p.lines[v + 1], ": bili ", b,
                    " cannot be logged");
        return std::log(b);
      },
      dtype);
}

}  // namespace pbc

}  // namespace galen::data
