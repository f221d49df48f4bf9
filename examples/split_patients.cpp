// Patient-level train / val / test split of a ChestX-ray14-style label file:
// no patient has images in two splits. Writes train_list.txt, val_list.txt,
// test_list.txt and train_val_list.txt (train + val, as the official release
// names it) into the output folder.
//
//   ./build/examples/split_patients --labels Data_Entry_2017.csv --out lists \
//       [--train 0.7] [--val 0.1] [--test 0.2] [--seed 0] [--classes A,B,...]
#include <galen/galen.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

using namespace galen;

namespace {

void usage(const char* argv0) {
  std::printf(
      "usage: %s --labels FILE --out DIR [--train F] [--val F] [--test F] [--seed N] [--classes A,B,...]\n"
      "  Splits the images of a Data_Entry_2017.csv-style file by Patient ID (seeded; fractions of\n"
      "  patients, default 0.7 / 0.1 / 0.2) and writes DIR/{train,val,test,train_val}_list.txt.\n"
      "  --classes: comma-separated class names (default: the 14 ChestX-ray14 findings).\n",
      argv0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string labels_path, out_dir, classes_arg;
  data::SplitFractions f;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(argv[0]);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "error: %s needs a value (see --help)\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--labels") labels_path = v;
    else if (a == "--out") out_dir = v;
    else if (a == "--classes") classes_arg = v;
    else if (a == "--train") f.train = std::strtod(v.c_str(), &end);
    else if (a == "--val") f.val = std::strtod(v.c_str(), &end);
    else if (a == "--test") f.test = std::strtod(v.c_str(), &end);
    else if (a == "--seed") seed = std::strtoull(v.c_str(), &end, 10);
    else {
      std::fprintf(stderr, "error: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
    if (end && *end) {
      std::fprintf(stderr, "error: %s: not a number: %s\n", a.c_str(), v.c_str());
      return 2;
    }
  }
  if (labels_path.empty() || out_dir.empty()) {
    usage(argv[0]);
    return 2;
  }
  try {
    data::LabelOptions opt;
    if (!classes_arg.empty()) {
      opt.classes.clear();
      std::stringstream ss(classes_arg);
      for (std::string c; std::getline(ss, c, ',');) opt.classes.push_back(c);
    }
    const data::ChestXrayLabels labels = data::read_chestxray_labels(labels_path, opt);
    const data::PatientSplit s = data::split_by_patient(labels, f, seed);
    std::filesystem::create_directories(out_dir);
    const auto path = [&](const char* name) { return (std::filesystem::path(out_dir) / name).string(); };
    std::vector<std::string> train_val = s.train;
    train_val.insert(train_val.end(), s.val.begin(), s.val.end());
    data::write_image_list(path("train_list.txt"), s.train);
    data::write_image_list(path("val_list.txt"), s.val);
    data::write_image_list(path("test_list.txt"), s.test);
    data::write_image_list(path("train_val_list.txt"), train_val);
    const auto patients = [&](const std::vector<std::string>& images) {
      std::set<std::string> p;
      for (const auto& im : images) p.insert(labels.entries()[labels.find(im)].patient_id);
      return p.size();
    };
    std::printf("%lld images of %zu patients from %s (seed %llu)\n", static_cast<long long>(labels.size()),
                patients([&] {
                  std::vector<std::string> all;
                  for (const auto& e : labels.entries()) all.push_back(e.image);
                  return all;
                }()),
                labels_path.c_str(), static_cast<unsigned long long>(seed));
    std::printf("  train %6zu images, %5zu patients -> %s\n", s.train.size(), patients(s.train),
                path("train_list.txt").c_str());
    std::printf("  val   %6zu images, %5zu patients -> %s\n", s.val.size(), patients(s.val), path("val_list.txt").c_str());
    std::printf("  test  %6zu images, %5zu patients -> %s\n", s.test.size(), patients(s.test),
                path("test_list.txt").c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
