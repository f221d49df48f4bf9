// ChestX-ray14 layout: label / box / list files, the patient-level split, the
// CheXNet transforms and the dataset (see chestxray.h).
#include "galen/data/chestxray.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/data/generator.h"
#include "galen/data/image.h"
#include "galen/data/transforms.h"

namespace galen::data {

namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  GALEN_CHECK(f.good(), what, ": cannot open ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  GALEN_CHECK(!f.bad(), what, ": error reading ", path);
  return ss.str();
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

// Physical lines (LF or CRLF), a leading UTF-8 BOM removed.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// One CSV record on one line: comma-separated, "quoted" cells with "" escapes; cells trimmed.
std::vector<std::string> split_cells(const std::string& line, const std::string& what, int64_t lineno) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  GALEN_CHECK(!quoted, what, ":", lineno, ": unterminated quoted cell");
  cells.push_back(trim(cur));
  return cells;
}

bool blank(const std::string& line) { return trim(line).empty(); }

int64_t column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  return -1;
}

std::string header_list(const std::vector<std::string>& header) {
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) s += (i ? std::string(", \"") : std::string("\"")) + header[i] + "\"";
  return s;
}

double parse_double(const std::string& s, const std::string& what, int64_t lineno, const char* col) {
  const char* b = s.c_str();
  char* end = nullptr;
  const double v = std::strtod(b, &end);
  GALEN_CHECK(!s.empty() && end == b + s.size() && std::isfinite(v), what, ":", lineno, ": column \"", col,
              "\": expected a number, got \"", s, "\"");
  return v;
}

int64_t parse_int(const std::string& s, const std::string& what, int64_t lineno, const char* col) {
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  GALEN_CHECK(!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size(), what, ":", lineno, ": column \"",
              col, "\": expected an integer, got \"", s, "\"");
  return v;
}

std::string join_path(const std::string& root, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(root) / p).string();
}

std::string class_list(const std::vector<std::string>& classes) {
  std::string s;
  for (size_t i = 0; i < classes.size(); ++i) {
    if (i) s += ", ";
    s += classes[i];
  }
  return s;
}

void check_classes(const std::vector<std::string>& classes, const char* op) {
  GALEN_CHECK(!classes.empty(), op, ": the class list is empty");
  std::set<std::string> seen;
  for (const auto& c : classes) {
    GALEN_CHECK(!c.empty() && c.find('|') == std::string::npos, op, ": bad class name \"", c, "\"");
    GALEN_CHECK(seen.insert(c).second, op, ": class \"", c, "\" is listed twice");
  }
}

}  // namespace

const std::vector<std::string>& chestxray14_classes() {
  static const std::vector<std::string> k = {"Atelectasis", "Cardiomegaly", "Effusion",      "Infiltration",
                                             "Mass",        "Nodule",       "Pneumonia",     "Pneumothorax",
                                             "Consolidation", "Edema",      "Emphysema",     "Fibrosis",
                                             "Pleural_Thickening", "Hernia"};
  return k;
}

// ---- labels ---------------------------------------------------------------------------------------

int64_t ChestXrayLabels::find(const std::string& image) const {
  const auto it = index_.find(image);
  return it == index_.end() ? -1 : it->second;
}

int64_t ChestXrayLabels::class_index(const std::string& name) const {
  for (size_t i = 0; i < classes_.size(); ++i)
    if (classes_[i] == name) return static_cast<int64_t>(i);
  return -1;
}

Tensor ChestXrayLabels::multi_hot(int64_t row) const { return multi_hot(std::vector<int64_t>{row}).squeeze(0); }

Tensor ChestXrayLabels::multi_hot(const std::vector<int64_t>& rows) const {
  const int64_t c = static_cast<int64_t>(classes_.size());
  std::vector<float> v(rows.size() * static_cast<size_t>(c), 0.0f);
  for (size_t r = 0; r < rows.size(); ++r) {
    GALEN_CHECK(rows[r] >= 0 && rows[r] < size(), "ChestXrayLabels::multi_hot: row ", rows[r], " out of range for ",
                size(), " entries");
    for (int32_t k : class_ids_[rows[r]]) v[r * c + k] = 1.0f;
  }
  return from_vector<float>(v, {static_cast<int64_t>(rows.size()), c});
}

ChestXrayLabels parse_chestxray_labels(const std::string& text, const std::string& what, const LabelOptions& options) {
  check_classes(options.classes, "read_chestxray_labels");
  ChestXrayLabels out;
  out.classes_ = options.classes;
  out.source_ = what;
  const std::vector<std::string> lines = split_lines(text);
  GALEN_CHECK(!lines.empty() && !blank(lines[0]), what, ":1: missing header line");
  const std::vector<std::string> header = split_cells(lines[0], what, 1);
  const int64_t c_image = column(header, "Image Index"), c_find = column(header, "Finding Labels"),
                c_patient = column(header, "Patient ID");
  GALEN_CHECK(c_image >= 0 && c_find >= 0 && c_patient >= 0, what,
              ":1: the header must name the columns \"Image Index\", \"Finding Labels\" and \"Patient ID\"; it has ",
              header_list(header));
  const int64_t c_follow = column(header, "Follow-up #"), c_age = column(header, "Patient Age"),
                c_gender = column(header, "Patient Gender"), c_view = column(header, "View Position"),
                c_w = column(header, "OriginalImage[Width"), c_h = column(header, "Height]"),
                c_sx = column(header, "OriginalImagePixelSpacing[x"), c_sy = column(header, "y]");
  const int64_t needed = std::max({c_image, c_find, c_patient}) + 1;
  std::map<std::string, int64_t> class_id;
  for (size_t k = 0; k < options.classes.size(); ++k) class_id[options.classes[k]] = static_cast<int64_t>(k);

  for (size_t li = 1; li < lines.size(); ++li) {
    if (blank(lines[li])) continue;
    const int64_t lineno = static_cast<int64_t>(li) + 1;
    const std::vector<std::string> cells = split_cells(lines[li], what, lineno);
    GALEN_CHECK(static_cast<int64_t>(cells.size()) >= needed, what, ":", lineno, ": ", cells.size(),
                " cells, but the header puts needed columns up to cell ", needed);
    const auto cell = [&](int64_t c) -> std::string { return c >= 0 && c < static_cast<int64_t>(cells.size()) ? cells[c] : ""; };
    ChestXrayEntry e;
    e.line = lineno;
    e.image = cells[c_image];
    e.patient_id = cells[c_patient];
    GALEN_CHECK(!e.image.empty(), what, ":", lineno, ": empty \"Image Index\"");
    GALEN_CHECK(!e.patient_id.empty(), what, ":", lineno, ": empty \"Patient ID\" for ", e.image);
    const std::string findings = cells[c_find];
    GALEN_CHECK(!findings.empty(), what, ":", lineno, ": empty \"Finding Labels\" for ", e.image,
                " (write \"No Finding\" for none)");
    std::vector<int32_t> ids;
    if (findings != "No Finding") {
      std::stringstream ss(findings);
      std::string f;
      while (std::getline(ss, f, '|')) {
        f = trim(f);
        GALEN_CHECK(!f.empty(), what, ":", lineno, ": empty finding in \"", findings, "\"");
        GALEN_CHECK(f != "No Finding", what, ":", lineno, ": \"No Finding\" combined with other findings in \"",
                    findings, "\"");
        const auto it = class_id.find(f);
        if (it == class_id.end()) {
          GALEN_CHECK(options.ignore_unknown_labels, what, ":", lineno, ": unknown finding \"", f, "\" for ", e.image,
                      "; known classes: ", class_list(options.classes));
          continue;
        }
        if (std::find(ids.begin(), ids.end(), it->second) != ids.end()) continue;
        ids.push_back(static_cast<int32_t>(it->second));
        e.findings.push_back(f);
      }
    }
    if (!cell(c_follow).empty()) e.follow_up = parse_int(cell(c_follow), what, lineno, "Follow-up #");
    if (std::string a = cell(c_age); !a.empty()) {
      if (a.back() == 'Y' || a.back() == 'y') a.pop_back();  // "058Y" in older releases
      e.age = parse_double(a, what, lineno, "Patient Age");
    }
    e.gender = cell(c_gender);
    e.view = cell(c_view);
    if (!cell(c_w).empty()) e.width = parse_int(cell(c_w), what, lineno, "OriginalImage[Width");
    if (!cell(c_h).empty()) e.height = parse_int(cell(c_h), what, lineno, "Height]");
    if (!cell(c_sx).empty()) e.spacing_x = parse_double(cell(c_sx), what, lineno, "OriginalImagePixelSpacing[x");
    if (!cell(c_sy).empty()) e.spacing_y = parse_double(cell(c_sy), what, lineno, "y]");
    const auto [it, fresh] = out.index_.emplace(e.image, out.size());
    GALEN_CHECK(fresh, what, ":", lineno, ": image ", e.image, " is already listed on line ",
                out.entries_[it->second].line);
    out.entries_.push_back(std::move(e));
    out.class_ids_.push_back(std::move(ids));
  }
  return out;
}

ChestXrayLabels read_chestxray_labels(const std::string& path, const LabelOptions& options) {
  return parse_chestxray_labels(read_text(path, "read_chestxray_labels"), path, options);
}

// ---- boxes ----------------------------------------------------------------------------------------

std::vector<ChestXrayBox> parse_chestxray_boxes(const std::string& text, const std::string& what,
                                                const std::vector<std::string>& classes) {
  check_classes(classes, "read_chestxray_boxes");
  const std::vector<std::string> lines = split_lines(text);
  GALEN_CHECK(!lines.empty() && !blank(lines[0]), what, ":1: missing header line");
  const std::vector<std::string> header = split_cells(lines[0], what, 1);
  const int64_t c_image = column(header, "Image Index"), c_label = column(header, "Finding Label");
  int64_t c_x = -1;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i].rfind("Bbox", 0) == 0 || header[i] == "x") {
      c_x = static_cast<int64_t>(i);
      break;
    }
  GALEN_CHECK(c_image >= 0 && c_label >= 0 && c_x >= 0, what,
              ":1: the header must name \"Image Index\", \"Finding Label\" and the box columns (\"Bbox [x\", y, w, h); "
              "it has ", header_list(header));
  const int64_t needed = std::max({c_image, c_label, c_x + 3}) + 1;
  std::vector<ChestXrayBox> out;
  for (size_t li = 1; li < lines.size(); ++li) {
    if (blank(lines[li])) continue;
    const int64_t lineno = static_cast<int64_t>(li) + 1;
    const std::vector<std::string> cells = split_cells(lines[li], what, lineno);
    GALEN_CHECK(static_cast<int64_t>(cells.size()) >= needed, what, ":", lineno, ": ", cells.size(),
                " cells, expected at least ", needed, " (image, label, x, y, w, h)");
    ChestXrayBox b;
    b.line = lineno;
    b.image = cells[c_image];
    b.label = cells[c_label] == "Infiltrate" ? "Infiltration" : cells[c_label];  // the official file's spelling
    GALEN_CHECK(!b.image.empty(), what, ":", lineno, ": empty \"Image Index\"");
    GALEN_CHECK(std::find(classes.begin(), classes.end(), b.label) != classes.end(), what, ":", lineno,
                ": unknown finding \"", cells[c_label], "\"; known classes: ", class_list(classes));
    b.x = parse_double(cells[c_x], what, lineno, "x");
    b.y = parse_double(cells[c_x + 1], what, lineno, "y");
    b.w = parse_double(cells[c_x + 2], what, lineno, "w");
    b.h = parse_double(cells[c_x + 3], what, lineno, "h");
    GALEN_CHECK(b.w > 0 && b.h > 0, what, ":", lineno, ": box size must be positive, got ", b.w, " x ", b.h);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<ChestXrayBox> read_chestxray_boxes(const std::string& path, const std::vector<std::string>& classes) {
  return parse_chestxray_boxes(read_text(path, "read_chestxray_boxes"), path, classes);
}

// ---- lists ----------------------------------------------------------------------------------------

ImageList read_image_list(const std::string& path) {
  ImageList l;
  l.source = path;
  const std::vector<std::string> lines = split_lines(read_text(path, "read_image_list"));
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string name = trim(lines[i]);
    if (name.empty()) continue;
    l.names.push_back(std::move(name));
    l.lines.push_back(static_cast<int64_t>(i) + 1);
  }
  return l;
}

void write_image_list(const std::string& path, const std::vector<std::string>& names) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    GALEN_CHECK(f.good(), "write_image_list: cannot create ", tmp);
    for (const auto& n : names) {
      GALEN_CHECK(n.find('\n') == std::string::npos && !trim(n).empty(), "write_image_list: bad image name \"", n,
                  "\"");
      f << n << '\n';
    }
    f.flush();
    GALEN_CHECK(f.good(), "write_image_list: error writing ", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  GALEN_CHECK(!ec, "write_image_list: cannot rename ", tmp, " to ", path, ": ", ec.message());
}

// ---- split ----------------------------------------------------------------------------------------

std::vector<int> split_groups(const std::vector<std::string>& groups, const SplitFractions& f, uint64_t seed) {
  GALEN_CHECK(f.train >= 0 && f.val >= 0 && f.test >= 0 && std::fabs(f.train + f.val + f.test - 1.0) < 1e-9,
              "split_groups: fractions must be non-negative and sum to 1, got train ", f.train, ", val ", f.val,
              ", test ", f.test);
  std::vector<std::string> distinct(groups.begin(), groups.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const int64_t g = static_cast<int64_t>(distinct.size());
  const std::vector<int64_t> perm = permutation(g, seed);
  const int64_t n_train = std::min<int64_t>(g, std::llround(f.train * static_cast<double>(g)));
  const int64_t n_val = std::min<int64_t>(g - n_train, std::llround(f.val * static_cast<double>(g)));
  std::map<std::string, int> which;
  for (int64_t k = 0; k < g; ++k) which[distinct[perm[k]]] = k < n_train ? 0 : (k < n_train + n_val ? 1 : 2);
  std::vector<int> out;
  out.reserve(groups.size());
  for (const auto& s : groups) out.push_back(which.at(s));
  return out;
}

PatientSplit split_by_patient(const ChestXrayLabels& labels, const SplitFractions& fractions, uint64_t seed) {
  std::vector<std::string> patients;
  for (const auto& e : labels.entries()) patients.push_back(e.patient_id);
  const std::vector<int> split = split_groups(patients, fractions, seed);
  PatientSplit s;
  for (size_t i = 0; i < split.size(); ++i) {
    const std::string& img = labels.entries()[i].image;
    (split[i] == 0 ? s.train : split[i] == 1 ? s.val : s.test).push_back(img);
  }
  return s;
}

// ---- layout ---------------------------------------------------------------------------------------

std::shared_ptr<ChestXray14> ChestXray14::open(const std::string& root, const ChestXrayOpenOptions& options) {
  auto d = std::make_shared<ChestXray14>();
  d->root_ = root;
  GALEN_CHECK(fs::is_directory(root), "ChestXray14::open: ", root, " is not a directory");
  d->labels_ = read_chestxray_labels(join_path(root, options.labels_file), options.labels);
  d->image_dir_ = join_path(root, options.image_dir);
  GALEN_CHECK(fs::is_directory(d->image_dir_), "ChestXray14::open: image folder ", d->image_dir_, " does not exist");
  const std::string boxes = join_path(root, options.boxes_file);
  if (!options.boxes_file.empty() && fs::exists(boxes)) {
    d->boxes_ = read_chestxray_boxes(boxes, options.labels.classes);
    for (const auto& b : d->boxes_)
      GALEN_CHECK(d->labels_.find(b.image) >= 0, boxes, ":", b.line, ": image ", b.image, " is not in ",
                  d->labels_.source());
  }
  return d;
}

std::vector<ChestXrayBox> ChestXray14::boxes_of(const std::string& image) const {
  std::vector<ChestXrayBox> out;
  for (const auto& b : boxes_)
    if (b.image == image) out.push_back(b);
  return out;
}

std::string ChestXray14::image_path(const std::string& image) const { return (fs::path(image_dir_) / image).string(); }

std::vector<int64_t> ChestXray14::list(const std::string& list_file) const {
  const ImageList l = read_image_list(join_path(root_, list_file));
  std::vector<int64_t> rows;
  for (size_t i = 0; i < l.names.size(); ++i) {
    const int64_t r = labels_.find(l.names[i]);
    GALEN_CHECK(r >= 0, l.source, ":", l.lines[i], ": image ", l.names[i], " is not in ", labels_.source());
    rows.push_back(r);
  }
  return rows;
}

std::vector<int64_t> ChestXray14::all() const {
  std::vector<int64_t> rows(static_cast<size_t>(labels_.size()));
  for (int64_t i = 0; i < labels_.size(); ++i) rows[i] = i;
  return rows;
}

// ---- transforms -----------------------------------------------------------------------------------

ChestXrayTransform ChestXrayTransform::train(int64_t resize, int64_t crop) {
  ChestXrayTransform t;
  t.resize = resize;
  t.crop = crop;
  t.mode = CropMode::Random;
  t.hflip = true;
  return t;
}

ChestXrayTransform ChestXrayTransform::eval(int64_t resize, int64_t crop) {
  ChestXrayTransform t;
  t.resize = resize;
  t.crop = crop;
  return t;
}

ChestXrayTransform ChestXrayTransform::ten_crop(int64_t resize, int64_t crop) {
  ChestXrayTransform t = eval(resize, crop);
  t.mode = CropMode::TenCrop;
  return t;
}

Tensor chestxray_transform(const Tensor& image, const ChestXrayTransform& t) {
  GALEN_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3), "chestxray_transform: expected a decoded "
              "(H, W, C) or (H, W) image, got ", image.defined() ? image.sizes() : Shape{});
  GALEN_CHECK(t.crop >= 1, "chestxray_transform: crop must be positive, got ", t.crop);
  Tensor img = image;
  if (img.dim() == 3) {
    const int64_t c = img.size(2);
    GALEN_CHECK(c >= 1 && c <= 4, "chestxray_transform: image has ", c, " channels");
    if (c == 2) img = img.narrow(2, 0, 1);  // gray + alpha
    if (c == 4) img = img.narrow(2, 0, 3);  // RGBA
  }
  // Geometry on the stored channels (1 for gray), expanded to 3 at the end.
  Tensor x = to_tensor(img.contiguous());
  if (t.resize > 0) x = resize(x, t.resize);
  switch (t.mode) {
    case CropMode::Random: x = random_crop(x, t.crop, t.crop); break;
    case CropMode::Center: x = center_crop(x, t.crop, t.crop); break;
    case CropMode::TenCrop: x = ten_crop(x, t.crop, t.crop); break;
  }
  if (t.hflip) x = random_horizontal_flip(x);
  if (x.size(-3) == 1) {
    Shape s = x.sizes();
    s[s.size() - 3] = 3;
    x = x.expand(s).contiguous();
  }
  return normalize(x, t.mean, t.std);
}

// ---- dataset --------------------------------------------------------------------------------------

ChestXrayDataset::ChestXrayDataset(std::shared_ptr<const ChestXray14> layout, std::vector<int64_t> rows,
                                   ChestXrayTransform transform, bool check_files)
    : layout_(std::move(layout)), rows_(std::move(rows)), transform_(std::move(transform)) {
  GALEN_CHECK(layout_ != nullptr, "ChestXrayDataset: no layout");
  for (int64_t r : rows_)
    GALEN_CHECK(r >= 0 && r < layout_->labels().size(), "ChestXrayDataset: row ", r, " out of range for ",
                layout_->labels().size(), " labelled images");
  if (!check_files) return;
  int64_t missing = 0;
  std::string first;
  for (int64_t r : rows_) {
    const std::string p = layout_->image_path(layout_->labels().entries()[r].image);
    if (!fs::is_regular_file(p)) {
      if (!missing) first = p + " (line " + std::to_string(layout_->labels().entries()[r].line) + " of " +
                            layout_->labels().source() + ")";
      ++missing;
    }
  }
  GALEN_CHECK(missing == 0, "ChestXrayDataset: ", missing, " of ", rows_.size(), " image files are missing, e.g. ",
              first);
}

const std::string& ChestXrayDataset::image(int64_t i) const {
  GALEN_CHECK(i >= 0 && i < size(), "ChestXrayDataset: index ", i, " out of range for ", size(), " examples");
  return layout_->labels().entries()[rows_[i]].image;
}

Example ChestXrayDataset::get(int64_t i) const {
  const std::string& name = image(i);
  Example e;
  e.input = chestxray_transform(read_image(layout_->image_path(name)), transform_);
  e.target = layout_->labels().multi_hot(rows_[i]);
  return e;
}

Tensor ChestXrayDataset::labels() const { return layout_->labels().multi_hot(rows_); }

// ---- class weights --------------------------------------------------------------------------------

ClassWeights class_weights(const Tensor& multi_hot) {
  GALEN_CHECK(multi_hot.defined() && multi_hot.dim() == 2 && multi_hot.size(0) > 0, "class_weights: expected "
              "(N, C) multi-hot labels with N > 0, got ", multi_hot.defined() ? multi_hot.sizes() : Shape{});
  const int64_t n = multi_hot.size(0), c = multi_hot.size(1);
  const std::vector<double> v = multi_hot.to_vector<double>();
  ClassWeights w;
  w.positives.assign(c, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      const double y = v[i * c + k];
      GALEN_CHECK(y == 0.0 || y == 1.0, "class_weights: label (", i, ", ", k, ") is ", y, ", expected 0 or 1");
      w.positives[k] += y == 1.0;
    }
  for (int64_t k = 0; k < c; ++k) {
    w.negatives.push_back(n - w.positives[k]);
    w.positive.push_back(static_cast<double>(w.negatives[k]) / static_cast<double>(n));
    w.negative.push_back(static_cast<double>(w.positives[k]) / static_cast<double>(n));
  }
  return w;
}

Tensor ClassWeights::pos_weight() const {
  std::vector<float> v;
  for (size_t k = 0; k < positives.size(); ++k)
    v.push_back(positives[k] ? static_cast<float>(static_cast<double>(negatives[k]) / static_cast<double>(positives[k]))
                             : 1.0f);
  return from_vector<float>(v, {static_cast<int64_t>(v.size())});
}

Tensor ClassWeights::element_weights(const Tensor& targets) const {
  const int64_t c = static_cast<int64_t>(positive.size());
  GALEN_CHECK(targets.defined() && targets.dim() >= 1 && targets.size(-1) == c, "ClassWeights::element_weights: "
              "targets must end in ", c, " classes, got ", targets.defined() ? targets.sizes() : Shape{});
  Tensor y = targets.detach().to(DType::f32);
  Tensor wp = from_vector<double>(positive, {c}).to(DType::f32).to(y.device());
  Tensor wn = from_vector<double>(negative, {c}).to(DType::f32).to(y.device());
  return add(mul(y, wp), mul(1.0 - y, wn));
}

}  // namespace galen::data
