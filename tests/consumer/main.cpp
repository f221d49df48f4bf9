// Built against an installed galen by tests/consumer/run_consumer_test.cmake:
// proves the exported config, the headers and the library link and run.
#include <galen/galen.h>

#include <cmath>
#include <cstdio>
#include <string>

int main() {
  const std::string v = galen::version();
  galen::Tensor x = galen::tensor<float>({1.f, 2.f, 3.f});
  x.requires_grad_();
  galen::Tensor y = (x * x).sum();
  y.backward();
  const auto g = x.grad().to_vector<float>();
  // Pulls the DICOM reader (and so DCMTK, found by galen's exported config)
  // into the link: a missing file must come back as a galen::Error.
  bool dicom_ok = false;
  try {
    galen::data::read_dicom("/nonexistent/galen_consumer.dcm");
  } catch (const galen::Error&) {
    dicom_ok = true;
  }
  const bool ok = dicom_ok && !v.empty() && std::fabs(y.item() - 14.0) < 1e-6 && g[0] == 2.f && g[1] == 4.f && g[2] == 6.f;
  std::printf("galen %s consumer: sum(x*x) = %g, grad = [%g, %g, %g] -> %s\n", v.c_str(), y.item(), g[0], g[1], g[2],
              ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
