// ChestX-ray14 layout: label / box / list parsing (official header quirks,
// tolerance, errors with file and line), the patient-level split, the CheXNet
// transforms (five / ten crop, normalisation, gray -> 3 channels), the dataset
// and the class weights. Every file is written to a temporary folder here.
#include <filesystem>
#include <fstream>
#include <set>

#include "galen/data/chestxray.h"
#include "galen/data/image.h"
#include "galen/data/transforms.h"
#include "test_util.h"

using namespace galen;
using namespace galen::data;
namespace fs = std::filesystem;

namespace {

// The official header (with its split "OriginalImage[Width,Height]" columns and a trailing empty column), an extra
// column, CRLF on one line, a blank line, quoted cell, "058Y"-style age.
const char* kLabels =
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],Extra\n"
    "a_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,zz\n"
    "a_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,\r\n"
    "b_000.png,No Finding,0,2,081Y,F,AP,2500,2048,0.168,0.168,\n"
    "\n"
    "c_000.png,\"Hernia|Mass\",0,3,33,F,PA,2048,2500,0.168,0.168\n"
    "c_001.png,Effusion,1,3,33,F,PA,2048,2500,0.168,0.168\n"
    "d_000.png,Nodule,0,4,40,M,PA,2048,2500,0.168,0.168\n";

const char* kBoxes =
    "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
    "a_000.png,Cardiomegaly,225.08,547.01,86.78,79.19,,,\n"
    "c_000.png,Infiltrate,10,20,30,40\n"
    "c_000.png,Mass,1.5,2.5,3.5,4.5\n";

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

struct TempLayout {
  fs::path root;
  TempLayout() {
    static int counter = 0;
    root = fs::temp_directory_path() / ("galen_cxr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(root);
    fs::create_directories(root / "images");
    write_file(root / "Data_Entry_2017.csv", kLabels);
    write_file(root / "BBox_List_2017.csv", kBoxes);
    write_file(root / "train_val_list.txt", "a_000.png\na_001.png\n\nb_000.png  \r\n");
    write_file(root / "test_list.txt", "c_000.png\nc_001.png\nd_000.png\n");
    // 8-bit gray, 16-bit gray, RGB and gray+alpha images of 20 x 24 (H x W).
    std::vector<uint8_t> g(20 * 24);
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<uint8_t>(i % 251);
    write_png((root / "images" / "a_000.png").string(), from_vector<uint8_t>(g, {20, 24}));
    write_png((root / "images" / "a_001.png").string(), full({20, 24}, 200, DType::u8));
    write_png((root / "images" / "b_000.png").string(), full({20, 24, 1}, 30000, DType::i32));
    write_png((root / "images" / "c_000.png").string(), full({20, 24, 3}, 100, DType::u8));
    write_png((root / "images" / "c_001.png").string(), full({20, 24, 2}, 50, DType::u8));
    write_png((root / "images" / "d_000.png").string(), full({20, 24}, 0, DType::u8));
  }
  ~TempLayout() { fs::remove_all(root); }
  std::string path(const char* name) const { return (root / name).string(); }
};

std::string bad_labels(const std::string& row) {
  return "Image Index,Finding Labels,Follow-up #,Patient ID\nx.png,Mass,0,1\n" + row + "\n";
}

}  // namespace

TEST_CASE("chestxray: label file with the official header, multi-hot labels", "[data][chestxray]") {
  TempLayout t;
  ChestXrayLabels l = read_chestxray_labels(t.path("Data_Entry_2017.csv"));
  REQUIRE(l.classes() == chestxray14_classes());
  REQUIRE(l.classes().size() == 14);
  REQUIRE(l.classes()[13] == "Hernia");
  REQUIRE(l.size() == 6);
  const ChestXrayEntry& e = l.entries()[1];
  REQUIRE(e.image == "a_001.png");
  REQUIRE(e.findings == std::vector<std::string>{"Cardiomegaly", "Emphysema"});
  REQUIRE(e.patient_id == "1");
  REQUIRE(e.follow_up == 1);
  REQUIRE(e.age == 58);
  REQUIRE(e.gender == "M");
  REQUIRE(e.view == "PA");
  REQUIRE(e.width == 2894);
  REQUIRE(e.height == 2729);
  REQUIRE(e.spacing_x == 0.143);
  REQUIRE(e.line == 3);
  REQUIRE(l.entries()[2].findings.empty());
  REQUIRE(l.entries()[2].age == 81);
  REQUIRE(l.entries()[3].line == 6);  // after the blank line
  REQUIRE(l.find("c_000.png") == 3);
  REQUIRE(l.find("nope.png") == -1);

  Tensor y = l.multi_hot(std::vector<int64_t>{0, 1, 2, 3});
  REQUIRE(y.sizes() == Shape{4, 14});
  REQUIRE(y.dtype() == DType::f32);
  std::vector<float> want(4 * 14, 0.f);
  want[0 * 14 + 1] = 1;                            // Cardiomegaly
  want[1 * 14 + 1] = want[1 * 14 + 10] = 1;        // + Emphysema
  want[3 * 14 + 13] = want[3 * 14 + 4] = 1;        // Hernia | Mass
  REQUIRE(y.to_vector<float>() == want);
  REQUIRE(equal(l.multi_hot(3), y.select(0, 3)));

  // A custom class list; unknown findings rejected, or ignored on request.
  LabelOptions custom;
  custom.classes = {"Mass", "Nodule", "Cardiomegaly"};
  REQUIRE_THROWS_WITH(read_chestxray_labels(t.path("Data_Entry_2017.csv"), custom),
                      Catch::Contains("Data_Entry_2017.csv:3: unknown finding \"Emphysema\""));
  custom.ignore_unknown_labels = true;
  ChestXrayLabels c = read_chestxray_labels(t.path("Data_Entry_2017.csv"), custom);
  REQUIRE(c.multi_hot(std::vector<int64_t>{1, 3, 5}).to_vector<float>() ==
          std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0});
}

TEST_CASE("chestxray: malformed label rows are errors with file and line", "[data][chestxray]") {
  const auto err = [](const std::string& row) {
    try {
      parse_chestxray_labels(bad_labels(row), "labels.csv");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  REQUIRE_THAT(err("y.png,Mass"), Catch::Contains("labels.csv:3: 2 cells"));
  REQUIRE_THAT(err("y.png,Tumour,0,2"), Catch::Contains("labels.csv:3: unknown finding \"Tumour\""));
  REQUIRE_THAT(err("y.png,Mass||Nodule,0,2"), Catch::Contains("labels.csv:3: empty finding"));
  REQUIRE_THAT(err("y.png,,0,2"), Catch::Contains("labels.csv:3: empty \"Finding Labels\""));
  REQUIRE_THAT(err("y.png,No Finding|Mass,0,2"), Catch::Contains("labels.csv:3: \"No Finding\" combined"));
  REQUIRE_THAT(err(",Mass,0,2"), Catch::Contains("labels.csv:3: empty \"Image Index\""));
  REQUIRE_THAT(err("y.png,Mass,0,"), Catch::Contains("labels.csv:3: empty \"Patient ID\""));
  REQUIRE_THAT(err("y.png,Mass,x,2"), Catch::Contains("labels.csv:3: column \"Follow-up #\": expected an integer"));
  REQUIRE_THAT(err("x.png,Mass,1,1"), Catch::Contains("labels.csv:3: image x.png is already listed on line 2"));
  REQUIRE_THAT(err("y.png,\"Mass,0,2"), Catch::Contains("labels.csv:3: unterminated quoted cell"));
  REQUIRE(err("y.png,Mass,0,2") == "no error");
  REQUIRE_THROWS_WITH(parse_chestxray_labels("Image,Labels\na,b\n", "h.csv"),
                      Catch::Contains("h.csv:1: the header must name"));
  REQUIRE_THROWS_WITH(parse_chestxray_labels("", "e.csv"), Catch::Contains("e.csv:1: missing header"));
  REQUIRE_THROWS_WITH(read_chestxray_labels("/nonexistent/Data_Entry_2017.csv"), Catch::Contains("cannot open"));
  LabelOptions dup;
  dup.classes = {"Mass", "Mass"};
  REQUIRE_THROWS_WITH(parse_chestxray_labels(bad_labels("y.png,Mass,0,2"), "l.csv", dup),
                      Catch::Contains("listed twice"));
}

TEST_CASE("chestxray: boxes, lists and the layout", "[data][chestxray]") {
  TempLayout t;
  auto layout = ChestXray14::open(t.root.string());
  REQUIRE(layout->labels().size() == 6);
  REQUIRE(layout->boxes().size() == 3);
  const ChestXrayBox& b = layout->boxes()[0];
  REQUIRE(b.image == "a_000.png");
  REQUIRE(b.label == "Cardiomegaly");
  REQUIRE(b.x == 225.08);
  REQUIRE(b.y == 547.01);
  REQUIRE(b.w == 86.78);
  REQUIRE(b.h == 79.19);
  REQUIRE(layout->boxes()[1].label == "Infiltration");  // the official file's "Infiltrate"
  REQUIRE(layout->boxes_of("c_000.png").size() == 2);
  REQUIRE(layout->boxes_of("a_001.png").empty());

  REQUIRE(layout->list("train_val_list.txt") == std::vector<int64_t>{0, 1, 2});
  REQUIRE(layout->list("test_list.txt") == std::vector<int64_t>{3, 4, 5});
  REQUIRE(layout->all().size() == 6);
  ImageList il = read_image_list(t.path("train_val_list.txt"));
  REQUIRE(il.names == std::vector<std::string>{"a_000.png", "a_001.png", "b_000.png"});
  REQUIRE(il.lines == std::vector<int64_t>{1, 2, 4});

  write_file(t.root / "bad_list.txt", "a_000.png\nghost.png\n");
  REQUIRE_THROWS_WITH(layout->list("bad_list.txt"),
                      Catch::Contains("bad_list.txt:2: image ghost.png is not in") &&
                          Catch::Contains("Data_Entry_2017.csv"));
  REQUIRE_THROWS_WITH(layout->list("missing_list.txt"), Catch::Contains("cannot open"));

  REQUIRE_THROWS_WITH(parse_chestxray_boxes("Image Index,Finding Label,Bbox [x,y,w,h]\na.png,Mass,1,2,0,4\n", "bb.csv"),
                      Catch::Contains("bb.csv:2: box size must be positive"));
  REQUIRE_THROWS_WITH(parse_chestxray_boxes("Image Index,Finding Label,Bbox [x,y,w,h]\na.png,Mass,1,2,3\n", "bb.csv"),
                      Catch::Contains("bb.csv:2: 5 cells"));
  REQUIRE_THROWS_WITH(parse_chestxray_boxes("Image Index,Finding Label,Bbox [x,y,w,h]\na.png,Blob,1,2,3,4\n", "bb.csv"),
                      Catch::Contains("bb.csv:2: unknown finding \"Blob\""));
  REQUIRE_THROWS_WITH(parse_chestxray_boxes("Image Index,Finding Label,Bbox [x,y,w,h]\na.png,Mass,1,two,3,4\n", "bb.csv"),
                      Catch::Contains("bb.csv:2: column \"y\": expected a number"));
  // A box naming an image without labels.
  write_file(t.root / "BBox_List_2017.csv", std::string(kBoxes) + "zzz.png,Mass,1,2,3,4\n");
  REQUIRE_THROWS_WITH(ChestXray14::open(t.root.string()),
                      Catch::Contains("BBox_List_2017.csv:5: image zzz.png is not in"));
  REQUIRE_THROWS_WITH(ChestXray14::open((t.root / "nothing").string()), Catch::Contains("is not a directory"));
}

TEST_CASE("chestxray: patient-level split is seeded and never splits a patient", "[data][chestxray]") {
  // 200 patients with 1..4 images each.
  std::string text = "Image Index,Finding Labels,Follow-up #,Patient ID\n";
  int64_t images = 0;
  for (int p = 0; p < 200; ++p)
    for (int k = 0; k <= p % 4; ++k, ++images)
      text += std::to_string(p) + "_" + std::to_string(k) + ".png,No Finding," + std::to_string(k) + "," +
              std::to_string(1000 + p) + "\n";
  ChestXrayLabels l = parse_chestxray_labels(text, "mem");
  PatientSplit a = split_by_patient(l, {0.7, 0.1, 0.2}, 5);
  PatientSplit b = split_by_patient(l, {0.7, 0.1, 0.2}, 5);
  PatientSplit c = split_by_patient(l, {0.7, 0.1, 0.2}, 6);
  REQUIRE(a.train == b.train);
  REQUIRE(a.test == b.test);
  REQUIRE(a.train != c.train);
  REQUIRE(static_cast<int64_t>(a.train.size() + a.val.size() + a.test.size()) == images);
  std::set<std::string> pt[3];
  const std::vector<std::string>* parts[3] = {&a.train, &a.val, &a.test};
  for (int s = 0; s < 3; ++s)
    for (const auto& im : *parts[s]) pt[s].insert(l.entries()[l.find(im)].patient_id);
  REQUIRE(pt[0].size() == 140);
  REQUIRE(pt[1].size() == 20);
  REQUIRE(pt[2].size() == 40);
  for (int s = 0; s < 3; ++s)
    for (int u = s + 1; u < 3; ++u)
      for (const auto& p : pt[s]) REQUIRE(pt[u].count(p) == 0);
  // Images keep label-file order within a split.
  for (size_t i = 1; i < a.train.size(); ++i) REQUIRE(l.find(a.train[i - 1]) < l.find(a.train[i]));

  REQUIRE(split_groups({"p", "q", "p"}, {1, 0, 0}, 0) == std::vector<int>{0, 0, 0});
  REQUIRE(split_groups({"p", "q", "p"}, {0, 0, 1}, 0) == std::vector<int>{2, 2, 2});
  REQUIRE_THROWS_WITH(split_groups({"p"}, {0.5, 0.2, 0.2}, 0), Catch::Contains("sum to 1"));
  REQUIRE_THROWS_AS(split_groups({"p"}, {1.2, -0.2, 0}, 0), Error);

  // The list files round-trip.
  const std::string p = (fs::temp_directory_path() / ("galen_cxr_list_" + std::to_string(::getpid()))).string();
  write_image_list(p, a.val);
  REQUIRE(read_image_list(p).names == a.val);
  fs::remove(p);
}

TEST_CASE("five_crop and ten_crop follow torchvision's order", "[data][transforms][chestxray]") {
  Tensor x = arange(0.0, 2.0 * 5 * 6, 1.0, DType::f32).reshape({2, 5, 6});
  Tensor f = five_crop(x, 3, 4);
  REQUIRE(f.sizes() == Shape{5, 2, 3, 4});
  REQUIRE(equal(f.select(0, 0), crop(x, 0, 0, 3, 4)));
  REQUIRE(equal(f.select(0, 1), crop(x, 0, 2, 3, 4)));
  REQUIRE(equal(f.select(0, 2), crop(x, 2, 0, 3, 4)));
  REQUIRE(equal(f.select(0, 3), crop(x, 2, 2, 3, 4)));
  REQUIRE(equal(f.select(0, 4), center_crop(x, 3, 4)));
  Tensor t = ten_crop(x, 3, 4);
  REQUIRE(t.sizes() == Shape{10, 2, 3, 4});
  REQUIRE(equal(t.narrow(0, 0, 5), f));
  REQUIRE(equal(t.narrow(0, 5, 5), five_crop(hflip(x), 3, 4)));
  // The flipped top-left crop is the mirror of the original's top-right.
  REQUIRE(equal(t.select(0, 5), hflip(f.select(0, 1))));
  REQUIRE_THROWS_WITH(five_crop(x, 6, 4), Catch::Contains("does not fit"));
  REQUIRE_THROWS_AS(five_crop(x.select(0, 0), 2, 2), Error);
}

TEST_CASE("chestxray: dataset loads, transforms and labels images", "[data][chestxray]") {
  TempLayout t;
  auto layout = ChestXray14::open(t.root.string());

  // Eval (resize 16 -> centre crop 12): a constant image becomes (v - mean) / std per channel.
  ChestXrayDataset val(layout, layout->list("train_val_list.txt"), ChestXrayTransform::eval(16, 12));
  REQUIRE(val.size() == 3);
  Example e = val.get(1);  // a_001: gray 200
  REQUIRE(e.input.sizes() == Shape{3, 12, 12});
  REQUIRE(e.input.dtype() == DType::f32);
  const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
  for (int c = 0; c < 3; ++c) {
    REQUIRE(min(e.input.select(0, c)).item() == Approx((200.0 / 255 - mean[c]) / sd[c]).epsilon(1e-6));
    REQUIRE(max(e.input.select(0, c)).item() == Approx((200.0 / 255 - mean[c]) / sd[c]).epsilon(1e-6));
  }
  REQUIRE(equal(e.target, layout->labels().multi_hot(1)));
  // 16-bit gray.
  REQUIRE(val.get(2).input.select(0, 0).mean().item() == Approx((30000.0 / 65535 - 0.485) / 0.229).epsilon(1e-6));
  // The gradient image equals the transform pipeline written out.
  Tensor a = val.get(0).input;
  Tensor img = to_tensor(read_image(t.path("images/a_000.png")));
  Tensor want = normalize(center_crop(resize(img, 16), 12, 12).expand({3, 12, 12}).contiguous(),
                          {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  REQUIRE_CLOSE(a, want, 1e-6, 1e-6);
  REQUIRE(val.labels().sizes() == Shape{3, 14});

  // Train: random crop + flip, reproducible under a fixed generator; ten-crop for test.
  ChestXrayDataset train(layout, layout->list("train_val_list.txt"), ChestXrayTransform::train(16, 12));
  Generator g1(9), g2(9);
  Tensor t1, t2;
  {
    GeneratorScope s(&g1);
    t1 = train.get(0).input;
  }
  {
    GeneratorScope s(&g2);
    t2 = train.get(0).input;
  }
  REQUIRE(t1.sizes() == Shape{3, 12, 12});
  REQUIRE(equal(t1, t2));
  ChestXrayDataset test(layout, layout->list("test_list.txt"), ChestXrayTransform::ten_crop(16, 12));
  Example te = test.get(0);  // RGB
  REQUIRE(te.input.sizes() == Shape{10, 3, 12, 12});
  REQUIRE(test.get(1).input.sizes() == Shape{10, 3, 12, 12});  // gray + alpha
  REQUIRE(te.target.to_vector<float>()[4] == 1.0f);            // Mass
  REQUIRE(te.target.to_vector<float>()[13] == 1.0f);           // Hernia

  // Batches through the loader.
  DataLoader loader(test, {.batch_size = 2});
  Batch batch = *loader.begin();
  REQUIRE(batch.input.sizes() == Shape{2, 10, 3, 12, 12});
  REQUIRE(batch.target.sizes() == Shape{2, 14});

  // A missing image file is found up front, naming it and the label line.
  fs::remove(t.root / "images" / "c_001.png");
  REQUIRE_THROWS_WITH(ChestXrayDataset(layout, layout->list("test_list.txt"), ChestXrayTransform::eval(16, 12)),
                      Catch::Contains("1 of 3 image files are missing") && Catch::Contains("c_001.png") &&
                          Catch::Contains("line 7"));
  ChestXrayDataset unchecked(layout, layout->list("test_list.txt"), ChestXrayTransform::eval(16, 12), false);
  REQUIRE_THROWS_WITH(unchecked.get(1), Catch::Contains("c_001.png"));
  REQUIRE_THROWS_AS(ChestXrayDataset(layout, {99}, ChestXrayTransform::eval(16, 12)), Error);
}

TEST_CASE("chestxray: CheXNet class weights", "[data][chestxray]") {
  Tensor y = from_vector<float>({1, 0, 0,  //
                                 0, 0, 1,  //
                                 1, 0, 1,  //
                                 0, 0, 1},
                                {4, 3});
  ClassWeights w = class_weights(y);
  REQUIRE(w.positives == std::vector<int64_t>{2, 0, 3});
  REQUIRE(w.negatives == std::vector<int64_t>{2, 4, 1});
  REQUIRE(w.positive == std::vector<double>{0.5, 1.0, 0.25});
  REQUIRE(w.negative == std::vector<double>{0.5, 0.0, 0.75});
  REQUIRE(w.pos_weight().to_vector<float>() == std::vector<float>{1.0f, 1.0f, 1.0f / 3.0f});
  Tensor ew = w.element_weights(y);
  REQUIRE(ew.to_vector<float>() ==
          std::vector<float>{0.5f, 0.0f, 0.75f, 0.5f, 0.0f, 0.25f, 0.5f, 0.0f, 0.25f, 0.5f, 0.0f, 0.25f});
  // With these weights the BCE equals CheXNet's -w+ y log p - w- (1 - y) log (1 - p).
  Tensor logits = from_vector<float>({0.3f, -1.0f, 2.0f, -0.5f, 0.1f, 0.7f, 1.2f, -2.0f, 0.0f, 0.4f, 0.9f, -0.3f},
                                     {4, 3});
  Tensor loss = binary_cross_entropy_with_logits(logits, y, ew, Tensor(), Reduction::Sum);
  double manual = 0;
  const auto lg = logits.to_vector<float>();
  const auto yy = y.to_vector<float>();
  for (int i = 0; i < 12; ++i) {
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(lg[i])));
    manual -= yy[i] ? w.positive[i % 3] * std::log(p) : w.negative[i % 3] * std::log(1 - p);
  }
  REQUIRE(loss.item() == Approx(manual).epsilon(1e-6));
  REQUIRE_THROWS_AS(class_weights(from_vector<float>({0.5f, 1.f}, {1, 2})), Error);
  REQUIRE_THROWS_AS(w.element_weights(zeros({2, 4})), Error);
}
