// Writes a labelled lesion data set in the NIH ChestX-ray14 layout from the real
// scans in ../shared/data/images (data/lesions.h): slices of the Colin27 MRI,
// a head CT and a DICOM MR series with synthetic Nodule / Mass / Calcification /
// Opacity findings at recorded boxes; slabs of adjacent slices are the patients
// of a patient-level train / val / test split.
//
//   ./build/examples/make_lesion_dataset --out /tmp/lesions --size 128 --count 2000 --seed 0
#include <galen/galen.h>

#include <cstdio>
#include <sstream>
#include <string>

namespace {

void usage(const char* argv0) {
  std::printf(
      "usage: %s --out DIR [options]\n"
      "Writes DIR/images/*.png, Data_Entry_2017.csv, BBox_List_2017.csv, train_val_list.txt, test_list.txt,\n"
      "train_list.txt, val_list.txt, lesion_sources.csv and README.txt (classes Nodule, Mass,\n"
      "Calcification, Opacity; read them with --classes Nodule,Mass,Calcification,Opacity).\n"
      "  --scans DIR          real scans: nifti/ch2.nii.gz, nifti/ct_head.nii.gz, mri_series/\n"
      "                       (default ../shared/data/images)\n"
      "  --size N             image side in pixels (default 128)\n"
      "  --count N            number of images (default 2000)\n"
      "  --seed S             random seed (default 0); the same seed gives the same files\n"
      "  --contrast C         multiplies every finding's amplitude (default 1)\n"
      "  --prob P[,P,P,P]     probability of each finding (one value for all, or four; default 0.3)\n"
      "  --amplitude A,A,A,A  peak amplitudes on the [0,1] scale (default 0.22,0.16,0.40,0.13)\n"
      "  --blur SIGMA         Gaussian blur in pixels (default 0.7)\n"
      "  --noise SD           additive Gaussian noise (default 0.04)\n"
      "  --jitter J           global gain / gamma jitter (default 0.1)\n"
      "  --slab N             adjacent slices per patient slab (default 8)\n"
      "  --planes LIST        planes to slice, comma separated (default axial,coronal,sagittal)\n"
      "  --min-tissue F       skip slices with less tissue than this fraction (default 0.2)\n"
      "  --split T,V,E        train / val / test fractions of the patients (default 0.7,0.1,0.2)\n",
      argv0);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

std::vector<double> doubles(const std::string& s) {
  std::vector<double> out;
  for (const auto& x : split_commas(s)) out.push_back(std::stod(x));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace galen;
  std::string out, scans = "../shared/data/images";
  data::LesionOptions o;
  data::SliceOptions so;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      usage(argv[0]);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "error: unknown option or missing value: %s (see --help)\n", k.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (k == "--out")
        out = v;
      else if (k == "--scans")
        scans = v;
      else if (k == "--size")
        o.size = so.size = std::stoll(v);
      else if (k == "--count")
        o.count = std::stoll(v);
      else if (k == "--seed")
        o.seed = std::stoull(v);
      else if (k == "--contrast")
        o.contrast = std::stod(v);
      else if (k == "--blur")
        o.blur = std::stod(v);
      else if (k == "--noise")
        o.noise = std::stod(v);
      else if (k == "--jitter")
        o.jitter = std::stod(v);
      else if (k == "--slab")
        so.slab = std::stoll(v);
      else if (k == "--min-tissue")
        so.min_tissue = std::stod(v);
      else if (k == "--planes")
        so.planes = split_commas(v);
      else if (k == "--prob" || k == "--amplitude") {
        const auto d = doubles(v);
        if (d.size() != 1 && d.size() != 4) throw std::invalid_argument("one or four values");
        auto& dst = k == "--prob" ? o.probability : o.amplitude;
        for (size_t c = 0; c < 4; ++c) dst[c] = d[d.size() == 1 ? 0 : c];
      } else if (k == "--split") {
        const auto d = doubles(v);
        if (d.size() != 3) throw std::invalid_argument("three values");
        o.split = {d[0], d[1], d[2]};
      } else {
        std::fprintf(stderr, "error: unknown option %s (see --help)\n", k.c_str());
        return 2;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: bad value \"%s\" for %s\n", v.c_str(), k.c_str());
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "error: --out DIR is required (see --help)\n");
    return 2;
  }
  try {
    std::printf("reading scans from %s ...\n", scans.c_str());
    const auto sources = data::load_lesion_sources(scans, so);
    std::printf("%zu source slices (%s planes, slabs of %lld)\n", sources.size(),
                so.planes.size() == 3 ? "all" : "selected", static_cast<long long>(so.slab));
    const auto sum = data::write_lesion_dataset(out, sources, o, [](int64_t done, int64_t total) {
      std::printf("\r%lld / %lld images", static_cast<long long>(done), static_cast<long long>(total));
      std::fflush(stdout);
    });
    std::printf("\nwrote %s: %lld images of %lld patients, %lld boxes; train %lld, val %lld, test %lld\n", out.c_str(),
                static_cast<long long>(sum.images), static_cast<long long>(sum.patients),
                static_cast<long long>(sum.boxes), static_cast<long long>(sum.train), static_cast<long long>(sum.val),
                static_cast<long long>(sum.test));
    for (size_t k = 0; k < 4; ++k)
      std::printf("  %-14s %lld\n", data::lesion_classes()[k].c_str(), static_cast<long long>(sum.positives[k]));
    std::printf("  %-14s %lld\n", "No Finding", static_cast<long long>(sum.no_finding));
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
