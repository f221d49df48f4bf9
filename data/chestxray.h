// The NIH ChestX-ray14 data layout and the CheXNet input pipeline:
//
//   <root>/Data_Entry_2017.csv   Image Index, Finding Labels ("A|B" or "No Finding"),
//                                Follow-up #, Patient ID, Patient Age, Patient Gender,
//                                View Position, OriginalImage[Width, Height],
//                                OriginalImagePixelSpacing[x, y]  (extra columns ignored)
//   <root>/images/               the image files (PNG / JPEG / BMP through data/image.h)
//   <root>/train_val_list.txt, test_list.txt (or any list: one image name per line)
//   <root>/BBox_List_2017.csv    optional: Image Index, Finding Label, Bbox [x, y, w, h]
//
// Label files are read line by line here (not through csv.h) so that every
// error names the file and the physical line, and because the official
// headers split "OriginalImage[Width,Height]" and "Bbox [x,y,w,h]" over
// several unquoted columns; columns are found by their header names.
//
//   auto layout = data::ChestXray14::open("/data/chestxray14");
//   auto train = std::make_shared<data::ChestXrayDataset>(layout, layout->list("train_list.txt"),
//                                                         data::ChestXrayTransform::train());
//   auto weights = data::class_weights(train->labels());       // CheXNet's weighted BCE
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/data/dataset.h"

namespace galen::data {

// The 14 findings in the standard order (Atelectasis ... Hernia).
const std::vector<std::string>& chestxray14_classes();

struct ChestXrayEntry {
  std::string image;                  // Image Index
  std::vector<std::string> findings;  // class names; empty for "No Finding"
  std::string patient_id;
  int64_t follow_up = -1;             // -1 when the column is absent or empty
  double age = -1;                    // years; "058Y" style is accepted; -1 when absent
  std::string gender, view;           // "" when absent
  int64_t width = 0, height = 0;      // OriginalImage[Width, Height]; 0 when absent
  double spacing_x = 0, spacing_y = 0;  // OriginalImagePixelSpacing; 0 when absent
  int64_t line = 0;                   // line in the label file (1 = header)
};

struct LabelOptions {
  std::vector<std::string> classes = chestxray14_classes();
  // false: a finding not in `classes` is an Error; true: it is dropped.
  bool ignore_unknown_labels = false;
};

class ChestXrayLabels {
 public:
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<ChestXrayEntry>& entries() const { return entries_; }
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  const std::string& source() const { return source_; }
  // Row of an image, -1 when absent.
  int64_t find(const std::string& image) const;
  // The multi-hot (C) f32 label vector of row i / (N, C) for rows.
  Tensor multi_hot(int64_t row) const;
  Tensor multi_hot(const std::vector<int64_t>& rows) const;
  int64_t class_index(const std::string& name) const;  // -1 when unknown

 private:
  friend ChestXrayLabels parse_chestxray_labels(const std::string&, const std::string&, const LabelOptions&);
  std::vector<std::string> classes_;
  std::vector<ChestXrayEntry> entries_;
  std::vector<std::vector<int32_t>> class_ids_;  // per entry
  std::unordered_map<std::string, int64_t> index_;
  std::string source_;
};

// Malformed rows (too few cells, empty Image Index / Patient ID / Finding
// Labels, bad numbers), unknown findings and duplicate images throw
// galen::Error "<file>:<line>: ...". A UTF-8 BOM and CRLF line ends are accepted.
ChestXrayLabels read_chestxray_labels(const std::string& path, const LabelOptions& options = {});
ChestXrayLabels parse_chestxray_labels(const std::string& text, const std::string& what,
                                       const LabelOptions& options = {});

// A finding's box in original-image pixels.
struct ChestXrayBox {
  std::string image;
  std::string label;  // a class name ("Infiltrate" in the official file is mapped to "Infiltration")
  double x = 0, y = 0, w = 0, h = 0;
  int64_t line = 0;
};
// Columns Image Index, Finding Label, then the box: a column named "Bbox [x" (or
// "x") followed by y, w, h. Labels must be in `classes`; sizes positive.
std::vector<ChestXrayBox> read_chestxray_boxes(const std::string& path,
                                               const std::vector<std::string>& classes = chestxray14_classes());
std::vector<ChestXrayBox> parse_chestxray_boxes(const std::string& text, const std::string& what,
                                                const std::vector<std::string>& classes = chestxray14_classes());

// A list file: one image name per line (surrounding spaces and blank lines ignored).
struct ImageList {
  std::vector<std::string> names;
  std::vector<int64_t> lines;
  std::string source;
};
ImageList read_image_list(const std::string& path);
// Writes the names one per line (atomically: temporary file + rename).
void write_image_list(const std::string& path, const std::vector<std::string>& names);

// ---- patient-level split ----------------------------------------------------------------------
struct SplitFractions {
  double train = 0.7, val = 0.1, test = 0.2;  // non-negative, sum 1
};
// Assigns each group (patient) to 0 = train, 1 = val, 2 = test: the distinct
// groups, sorted, are shuffled by a Philox permutation keyed by `seed`; the
// first round(train * G) go to train, the next round(val * G) to val, the rest
// to test. Returns the split of each element of `groups`, so members of a
// group always share a split.
std::vector<int> split_groups(const std::vector<std::string>& groups, const SplitFractions& fractions, uint64_t seed);
struct PatientSplit {
  std::vector<std::string> train, val, test;  // image names in label-file order
};
PatientSplit split_by_patient(const ChestXrayLabels& labels, const SplitFractions& fractions, uint64_t seed);

// ---- the layout -------------------------------------------------------------------------------
struct ChestXrayOpenOptions {
  std::string labels_file = "Data_Entry_2017.csv";  // relative to root unless absolute
  std::string image_dir = "images";
  std::string boxes_file = "BBox_List_2017.csv";    // read when present
  LabelOptions labels;
};

class ChestXray14 {
 public:
  static std::shared_ptr<ChestXray14> open(const std::string& root, const ChestXrayOpenOptions& options = {});
  const ChestXrayLabels& labels() const { return labels_; }
  const std::string& root() const { return root_; }
  const std::string& image_dir() const { return image_dir_; }
  const std::vector<ChestXrayBox>& boxes() const { return boxes_; }
  // The boxes of one image.
  std::vector<ChestXrayBox> boxes_of(const std::string& image) const;
  std::string image_path(const std::string& image) const;
  // Rows of the images a list file names (relative to root unless absolute).
  // An image missing from the label file is an Error "<list>:<line>: ...".
  std::vector<int64_t> list(const std::string& list_file) const;
  // Rows of every labelled image.
  std::vector<int64_t> all() const;

 private:
  std::string root_, image_dir_;
  ChestXrayLabels labels_;
  std::vector<ChestXrayBox> boxes_;
};

// ---- CheXNet transforms and the dataset -------------------------------------------------------
enum class CropMode { Random, Center, TenCrop };
struct ChestXrayTransform {
  int64_t resize = 256;  // the shorter side becomes this (torchvision Resize(int))
  int64_t crop = 224;
  CropMode mode = CropMode::Center;
  bool hflip = false;    // random horizontal flip (p = 0.5)
  std::vector<double> mean = {0.485, 0.456, 0.406};  // ImageNet
  std::vector<double> std = {0.229, 0.224, 0.225};
  // CheXNet's recipes: resize -> random crop + flip; resize -> centre crop; resize -> ten-crop.
  static ChestXrayTransform train(int64_t resize = 256, int64_t crop = 224);
  static ChestXrayTransform eval(int64_t resize = 256, int64_t crop = 224);
  static ChestXrayTransform ten_crop(int64_t resize = 256, int64_t crop = 224);
};

// A decoded image (H, W, C) -> the normalised (3, crop, crop) f32 tensor (or
// (10, 3, crop, crop) for TenCrop). Gray becomes 3 channels, alpha is dropped.
Tensor chestxray_transform(const Tensor& image, const ChestXrayTransform& t);

// Examples: input (3, crop, crop) or (10, 3, crop, crop), target the (C) f32 multi-hot labels.
class ChestXrayDataset : public Dataset {
 public:
  // check_files: stat every image now, so a missing file is found before training (Error naming it).
  ChestXrayDataset(std::shared_ptr<const ChestXray14> layout, std::vector<int64_t> rows, ChestXrayTransform transform,
                   bool check_files = true);
  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }
  Example get(int64_t i) const override;
  const std::vector<int64_t>& rows() const { return rows_; }
  const std::string& image(int64_t i) const;
  // (N, C) multi-hot labels of every example.
  Tensor labels() const;
  const ChestXray14& layout() const { return *layout_; }

 private:
  std::shared_ptr<const ChestXray14> layout_;
  std::vector<int64_t> rows_;
  ChestXrayTransform transform_;
};

// CheXNet's class weights for the weighted BCE: per class, w+ = |N| / (|P| + |N|)
// and w- = |P| / (|P| + |N|) from the (N, C) multi-hot training labels.
struct ClassWeights {
  std::vector<int64_t> positives, negatives;
  std::vector<double> positive, negative;  // w+, w-
  // (C) f32 |N| / |P| for binary_cross_entropy_with_logits' pos_weight (1 where a class has no positive).
  Tensor pos_weight() const;
  // (N, C) f32 per-element weights w+ y + w- (1 - y) for a batch of targets (BCE's `weight`).
  Tensor element_weights(const Tensor& targets) const;
};
ClassWeights class_weights(const Tensor& multi_hot);

}  // namespace galen::data
