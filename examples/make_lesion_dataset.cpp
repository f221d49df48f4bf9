// Writes a labelled lesion data set in the NIH ChestX-ray14 layout from the real
// scans in ../shared/data/images (data/lesions.h): slices of the Colin27 MRI,
// a head CT and a DICOM MR series with synthetic Nodule / Mass / Calcification /
// Opacity findings at recorded boxes; slabs of adjacent slices are the patients
// of a patient-level train / val / test split.
//
//   ./build/examples/make_lesion_dataset --out /tmp/lesions --size 128 --count 2000 --seed 0
#include <galen/galen.h>

#include <array>
#include <cstdio>
#include <string>

#include "cli.h"

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

}  // namespace

int main(int argc, char** argv) {
  using namespace galen;
  std::string out, scans = "../shared/data/images";
  data::LesionOptions o;
  data::SliceOptions so;
  examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--out", out).text("--scans", scans).number("--count", o.count).number("--seed", o.seed);
  cli.number("--contrast", o.contrast).number("--blur", o.blur).number("--noise", o.noise).number("--jitter", o.jitter);
  cli.number("--slab", so.slab).number("--min-tissue", so.min_tissue);
  cli.custom("--size", [&](const std::string& v) { o.size = so.size = examples::parse_number<int64_t>(v); });
  cli.custom("--planes", [&](const std::string& v) { so.planes = examples::split_commas(v); });
  // One value for all four findings, or one each.
  auto per_finding = [](std::array<double, 4>& dst) {
    return [&dst](const std::string& v) {
      const auto d = examples::parse_doubles(v);
      if (d.size() != 1 && d.size() != 4) throw std::invalid_argument("one or four values");
      for (size_t c = 0; c < 4; ++c) dst[c] = d[d.size() == 1 ? 0 : c];
    };
  };
  cli.custom("--prob", per_finding(o.probability)).custom("--amplitude", per_finding(o.amplitude));
  cli.custom("--split", [&](const std::string& v) {
    const auto d = examples::parse_doubles(v);
    if (d.size() != 3) throw std::invalid_argument("three values");
    o.split = {d[0], d[1], d[2]};
  });
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  if (out.empty()) {
    std::fprintf(stderr, "error: --out DIR is required (see --help)\n");
    return 2;
  }
  return examples::run_guarded([&] {
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
  });
}
