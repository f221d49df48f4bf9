// The "cudnn" variant of conv2d: whole-convolution forward and backward through
// cuDNN's legacy convolution API (still declared by cuDNN 9's cudnn_cnn.h).
//
//  - NCHW, f32 / f64, groups (cudnnSetConvolutionGroupCount), stride, dilation,
//    symmetric padding. Geometries cuDNN cannot express (an output size that is
//    not the floor formula, i.e. implicit asymmetric padding), sizes over int32,
//    empty tensors and dtypes other than f32 / f64 return false: core then runs
//    im2col + gemm, so "false" is never an error.
//  - Algorithms: cudnnGetConvolution*Algorithm_v7 heuristics, tried in their
//    order; one whose workspace cannot be allocated, or that reports "not
//    supported" when run, is skipped. The algorithm that worked is cached per
//    (device, dtype, shape); if none works the call returns false.
//  - FP32 runs with CUDNN_FMA_MATH: CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor
//    cores on Ampere and newer, which would put the results ~1e-3 away from the
//    CPU's. FP64 uses the default math type.
//  - The bias (forward) and its gradient are plain kernels from nn.cu
//    (add_channel_bias, channel_sum), deterministic and dtype-generic.
//  - Workspace comes from the backend's caching allocator; the cuDNN handle is the
//    per-device one of cudnn_common.cuh (shared with the RNN variant).
#include <cuda_runtime.h>
#include <cudnn.h>

#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "galen/kernels/cuda/cudnn_common.cuh"

namespace galen::kernels::cuda {

namespace {

// ---- the problem ---------------------------------------------------------------------------
// Everything a cached algorithm depends on.
struct ConvKey {
  int kind;  // 0 forward, 1 backward data, 2 backward filter
  int device;
  int dtype;
  int n, cin, h, w, oc, kh, kw, ph, pw, sh, sw, dh, dw, groups;
  auto tie() const {
    return std::tie(kind, device, dtype, n, cin, h, w, oc, kh, kw, ph, pw, sh, sw, dh, dw, groups);
  }
  bool operator<(const ConvKey& o) const { return tie() < o.tie(); }
};

std::mutex g_algo_mu;
std::map<ConvKey, int>& algo_cache() {
  static auto* m = new std::map<ConvKey, int>;  // never destroyed (static-destruction order)
  return *m;
}

bool cached_algo(const ConvKey& k, int* algo) {
  std::lock_guard<std::mutex> lock(g_algo_mu);
  auto it = algo_cache().find(k);
  if (it == algo_cache().end()) return false;
  *algo = it->second;
  return true;
}

void remember_algo(const ConvKey& k, int algo) {
  std::lock_guard<std::mutex> lock(g_algo_mu);
  algo_cache()[k] = algo;
}

void forget_algo(const ConvKey& k) {
  std::lock_guard<std::mutex> lock(g_algo_mu);
  algo_cache().erase(k);
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

// Whether cuDNN can take this convolution at all; checked before any cuDNN call.
bool expressible(DType dtype, int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups) {
  if (dtype != DType::f32 && dtype != DType::f64) return false;
  if (groups < 1 || OC < 1 || OC % groups != 0 || N < 1 || g.C < 1) return false;
  if (g.H < 1 || g.W < 1 || g.OH < 1 || g.OW < 1 || g.KH < 1 || g.KW < 1) return false;
  if (g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.PH < 0 || g.PW < 0) return false;
  const int64_t cin = g.C * groups;
  // cuDNN's output size is the floor formula with symmetric padding; any other
  // output size (ceil-like, or asymmetric padding implied by OH / OW) is not ours.
  const int64_t span_h = g.H + 2 * g.PH - g.DH * (g.KH - 1) - 1;
  const int64_t span_w = g.W + 2 * g.PW - g.DW * (g.KW - 1) - 1;
  if (span_h < 0 || span_w < 0) return false;
  if (span_h / g.SH + 1 != g.OH || span_w / g.SW + 1 != g.OW) return false;
  const int64_t vals[] = {N, cin, g.H, g.W, OC, g.KH, g.KW, g.PH, g.PW, g.SH, g.SW, g.DH, g.DW,
                          groups, g.OH, g.OW};
  for (int64_t v : vals)
    if (!fits_int(v)) return false;
  // Whole tensors must stay within cuDNN's 32-bit element indexing.
  return fits_int(N * cin * g.H * g.W) && fits_int(N * OC * g.OH * g.OW) &&
         fits_int(OC * g.C * g.KH * g.KW);
}

// The descriptors of one convolution that expressible() accepted; ok == false
// when cuDNN disagrees about the output shape.
struct Conv {
  bool ok = false;
  cudnnDataType_t dt = CUDNN_DATA_FLOAT;
  ConvKey key{};
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;

  Conv(DType dtype, int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups) {
    dt = dtype == DType::f32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
    const int64_t cin = g.C * groups;
    int dev = 0;
    GALEN_CUDA_CHECK(cudaGetDevice(&dev));
    key = ConvKey{0,
                  dev,
                  static_cast<int>(dtype),
                  static_cast<int>(N),
                  static_cast<int>(cin),
                  static_cast<int>(g.H),
                  static_cast<int>(g.W),
                  static_cast<int>(OC),
                  static_cast<int>(g.KH),
                  static_cast<int>(g.KW),
                  static_cast<int>(g.PH),
                  static_cast<int>(g.PW),
                  static_cast<int>(g.SH),
                  static_cast<int>(g.SW),
                  static_cast<int>(g.DH),
                  static_cast<int>(g.DW),
                  static_cast<int>(groups)};

    GALEN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.d, CUDNN_TENSOR_NCHW, dt, key.n, key.cin, key.h,
                                                 key.w));
    GALEN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y.d, CUDNN_TENSOR_NCHW, dt, key.n, key.oc,
                                                 static_cast<int>(g.OH), static_cast<int>(g.OW)));
    GALEN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.d, dt, CUDNN_TENSOR_NCHW, key.oc,
                                                 static_cast<int>(g.C), key.kh, key.kw));
    GALEN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.d, key.ph, key.pw, key.sh, key.sw,
                                                      key.dh, key.dw, CUDNN_CROSS_CORRELATION, dt));
    GALEN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.d, key.groups));
    GALEN_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv.d, dtype == DType::f32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));

    // Cross-check cuDNN's view of the output shape against ours.
    int on = 0, oc = 0, oh = 0, ow = 0;
    GALEN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv.d, x.d, w.d, &on, &oc, &oh, &ow));
    if (on != key.n || oc != key.oc || oh != g.OH || ow != g.OW) return;
    ok = true;
  }

  ConvKey key_for(int kind) const {
    ConvKey k = key;
    k.kind = kind;
    return k;
  }
};

// alpha = 1, beta = 0 in the type cuDNN expects for the data type (host memory).
struct Scalars {
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  const void* one(cudnnDataType_t dt) const { return dt == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(cudnnDataType_t dt) const { return dt == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&d0) : &f0; }
};

// The heuristics' candidates, best first, those cuDNN marks as usable.
template <typename Perf, typename Query>
std::vector<int> candidates(int max_count, const Query& query, const char* what) {
  std::vector<int> algos;
  if (max_count < 1) max_count = 1;
  std::vector<Perf> perf(static_cast<size_t>(max_count));
  int returned = 0;
  const cudnnStatus_t st = query(max_count, &returned, perf.data());
  if (st != CUDNN_STATUS_SUCCESS) {
    if (cudnn_not_supported(st)) return algos;
    cudnn_fail(what, st);
  }
  for (int i = 0; i < returned && i < max_count; ++i) {
    if (perf[static_cast<size_t>(i)].status != CUDNN_STATUS_SUCCESS) continue;
    const int a = static_cast<int>(perf[static_cast<size_t>(i)].algo);
    bool seen = false;
    for (int b : algos) seen = seen || a == b;
    if (!seen) algos.push_back(a);
  }
  return algos;
}

// Tries the candidates in order: workspace size, allocation, run. Returns true
// after the first run that succeeds (and caches that algorithm); false when
// none could run. Errors other than "not supported" throw.
template <typename WsQuery, typename Run>
bool run_first(const ConvKey& key, const std::vector<int>& algos, const WsQuery& ws_query,
               const Run& run, const char* ws_what, const char* run_what) {
  for (int algo : algos) {
    size_t ws_bytes = 0;
    cudnnStatus_t st = ws_query(algo, &ws_bytes);
    if (st != CUDNN_STATUS_SUCCESS) {
      if (cudnn_not_supported(st) || CUDNN_STATUS_CATEGORY(static_cast<int>(st)) == CUDNN_STATUS_BAD_PARAM)
        continue;  // this algorithm does not take this problem
      cudnn_fail(ws_what, st);
    }
    CudnnScratch ws;
    if (!ws.try_allocate(ws_bytes)) continue;
    st = run(algo, ws.p, ws.bytes);
    if (st == CUDNN_STATUS_SUCCESS) {
      remember_algo(key, algo);
      return true;
    }
    // An algorithm that wants more alignment than a view's offset gives: next one.
    if (!cudnn_not_supported(st) && st != CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
      cudnn_fail(run_what, st);
  }
  return false;
}

// The cached algorithm if there is one and it still runs; else the heuristics'
// list (heuristics() returns it).
template <typename Heuristics, typename WsQuery, typename Run>
bool solve(const ConvKey& key, const Heuristics& heuristics, const WsQuery& ws_query, const Run& run,
           const char* ws_what, const char* run_what) {
  int cached = -1;
  if (cached_algo(key, &cached)) {
    if (run_first(key, std::vector<int>{cached}, ws_query, run, ws_what, run_what)) return true;
    forget_algo(key);
  }
  return run_first(key, heuristics(), ws_query, run, ws_what, run_what);
}

bool conv_forward(const Conv& c, const void* x, const void* w, void* y) {
  cudnnHandle_t h = cudnn_handle();
  const ConvKey key = c.key_for(0);
  const auto heuristics = [&] {
    int max_count = 0;
    GALEN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
    return candidates<cudnnConvolutionFwdAlgoPerf_t>(
      max_count,
      [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, c.x.d, c.w.d, c.conv.d, c.y.d, n, got, perf);
      },
      "cudnnGetConvolutionForwardAlgorithm_v7");
  };
  const Scalars s;
  return solve(
      key, heuristics,
      [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, c.x.d, c.w.d, c.conv.d, c.y.d,
                                                       static_cast<cudnnConvolutionFwdAlgo_t>(algo),
                                                       bytes);
      },
      [&](int algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionForward(h, s.one(c.dt), c.x.d, x, c.w.d, w, c.conv.d,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws, ws_bytes,
                                       s.zero(c.dt), c.y.d, y);
      },
      "cudnnGetConvolutionForwardWorkspaceSize", "cudnnConvolutionForward");
}

bool conv_backward_data(const Conv& c, const void* w, const void* gy, void* gx) {
  cudnnHandle_t h = cudnn_handle();
  const ConvKey key = c.key_for(1);
  const auto heuristics = [&] {
    int max_count = 0;
    GALEN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
    return candidates<cudnnConvolutionBwdDataAlgoPerf_t>(
      max_count,
      [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w.d, c.y.d, c.conv.d, c.x.d, n, got,
                                                           perf);
      },
      "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  };
  const Scalars s;
  return solve(
      key, heuristics,
      [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, c.w.d, c.y.d, c.conv.d, c.x.d, static_cast<cudnnConvolutionBwdDataAlgo_t>(algo),
            bytes);
      },
      [&](int algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionBackwardData(h, s.one(c.dt), c.w.d, w, c.y.d, gy, c.conv.d,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws,
                                            ws_bytes, s.zero(c.dt), c.x.d, gx);
      },
      "cudnnGetConvolutionBackwardDataWorkspaceSize", "cudnnConvolutionBackwardData");
}

bool conv_backward_filter(const Conv& c, const void* x, const void* gy, void* gw) {
  cudnnHandle_t h = cudnn_handle();
  const ConvKey key = c.key_for(2);
  const auto heuristics = [&] {
    int max_count = 0;
    GALEN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
    return candidates<cudnnConvolutionBwdFilterAlgoPerf_t>(
      max_count,
      [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x.d, c.y.d, c.conv.d, c.w.d, n,
                                                             got, perf);
      },
      "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  };
  const Scalars s;
  return solve(
      key, heuristics,
      [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            h, c.x.d, c.y.d, c.conv.d, c.w.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo),
            bytes);
      },
      [&](int algo, void* ws, size_t ws_bytes) {
        return cudnnConvolutionBackwardFilter(h, s.one(c.dt), c.x.d, x, c.y.d, gy, c.conv.d,
                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo),
                                              ws, ws_bytes, s.zero(c.dt), c.w.d, gw);
      },
      "cudnnGetConvolutionBackwardFilterWorkspaceSize", "cudnnConvolutionBackwardFilter");
}

}  // namespace

// x (N, C*groups, H, W), w (OC, C, KH, KW), b (OC) or null -> y (N, OC, OH, OW).
bool CudaBackend::conv2d_forward(DType dtype, const void* x, const void* w, const void* b,
                                 int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups,
                                 void* y) {
  if (conv_variant_.load() != kConvCudnn || !expressible(dtype, N, g, OC, groups)) return false;
  const Conv c(dtype, N, g, OC, groups);
  if (!c.ok) return false;
  if (!conv_forward(c, x, w, y)) return false;
  if (b) add_channel_bias(dtype, y, N, OC, g.OH * g.OW, b);
  return true;
}

// gx (N, C*groups, H, W), gw (OC, C, KH, KW), gb (OC), each optional. A false
// return may come after some outputs were written; core then recomputes all.
bool CudaBackend::conv2d_backward(DType dtype, const void* x, const void* w, const void* gy,
                                  int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups,
                                  void* gx, void* gw, void* gb) {
  if (conv_variant_.load() != kConvCudnn || !expressible(dtype, N, g, OC, groups)) return false;
  const Conv c(dtype, N, g, OC, groups);
  if (!c.ok) return false;
  if (gx && !conv_backward_data(c, w, gy, gx)) return false;
  if (gw && !conv_backward_filter(c, x, gy, gw)) return false;
  if (gb) channel_sum(dtype, gy, N, OC, g.OH * g.OW, gb);
  return true;
}

}  // namespace galen::kernels::cuda
