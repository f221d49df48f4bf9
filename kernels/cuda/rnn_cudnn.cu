// The "cudnn" variant of the recurrent layers: one layer (both directions when
// bidirectional) per call through cuDNN 9's RNN API (cudnnSetRNNDescriptor_v8,
// cudnnRNNForward, cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8).
//
//  - One layer per call (numLayers = 1), so core applies galen's own dropout
//    between layers exactly as on the fused path (cuDNN's dropout RNG is not
//    galen's); the dropout descriptor is set to 0.
//  - Data: CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED (T, B, vector) with
//    seqLengthArray = the lengths (or T) and padding fill 0, so padded outputs are
//    0 as on the fused path; CUDNN_RNN_PADDED_IO_ENABLED.
//  - Weights: cuDNN wants them in its own weight space. Each call packs galen's
//    PyTorch-layout parameters into a scratch weight space at the addresses
//    cudnnGetRNNWeightParams reports (pseudo-layer = direction, linLayerID: the
//    input-side gates 0..G-1 then the recurrent ones G..2G-1, in PyTorch's gate
//    order i f g o / r z n), and the backward unpacks the weight gradients the
//    same way. cuDNN's GRU uses n = tanh(W_in x + b_in + r (W_hn h + b_hn)), as
//    PyTorch does.
//  - f32 runs with CUDNN_FMA_MATH (no TF32 tensor cores, so results stay close to
//    the CPU's); f64 with the default math type.
//  - Written on a machine without a GPU: tests/cuda/test_cuda_rnn.cpp compares it
//    with the CPU; "fused" stays the default until those have passed on a GPU.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <climits>
#include <vector>

#include "galen/kernels/cuda/cudnn_common.cuh"

namespace galen::kernels::cuda {

namespace {

bool fits_int(int64_t v) { return v >= 1 && v <= INT_MAX; }

// What cuDNN can take on this path.
bool expressible(DType dt, const RnnLayerDesc& d) {
  if (dt != DType::f32 && dt != DType::f64) return false;
  const int64_t D = d.bidirectional ? 2 : 1;
  for (int64_t v : {d.T, d.B, d.I, d.H, d.T * d.B * d.I, d.T * d.B * D * d.H}) {
    if (!fits_int(v)) return false;
  }
  return true;
}

// The descriptors and sizes of one layer.
struct Plan {
  RnnDesc rnn;
  DropoutDesc drop;
  RnnDataDesc xd, yd;
  TensorDesc hd, cd;
  cudnnDataType_t cdt = CUDNN_DATA_FLOAT;
  std::vector<int32_t> seq;
  size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  int G = 1, D = 1;

  Plan(DType dt, const RnnLayerDesc& d, bool training) {
    cudnnHandle_t h = cudnn_handle();
    const bool f64 = dt == DType::f64;
    cdt = f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    D = d.bidirectional ? 2 : 1;
    G = rnn_gates(d.cell);
    cudnnRNNMode_t mode = CUDNN_RNN_TANH;
    if (d.cell == RnnCell::Relu) mode = CUDNN_RNN_RELU;
    if (d.cell == RnnCell::Lstm) mode = CUDNN_LSTM;
    if (d.cell == RnnCell::Gru) mode = CUDNN_GRU;
    GALEN_CUDNN_CHECK(cudnnSetDropoutDescriptor(drop.d, h, 0.0f, nullptr, 0, 0));
    GALEN_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        rnn.d, CUDNN_RNN_ALGO_STANDARD, mode, d.has_bias ? CUDNN_RNN_DOUBLE_BIAS : CUDNN_RNN_NO_BIAS,
        d.bidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, cdt, cdt,
        f64 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, static_cast<int32_t>(d.I), static_cast<int32_t>(d.H),
        static_cast<int32_t>(d.H), 1, drop.d, CUDNN_RNN_PADDED_IO_ENABLED));
    seq.assign(static_cast<size_t>(d.B), static_cast<int32_t>(d.T));
    if (d.lengths)
      for (int64_t b = 0; b < d.B; ++b) seq[static_cast<size_t>(b)] = static_cast<int32_t>(d.lengths[b]);
    double fill64 = 0.0;
    float fill32 = 0.0f;
    void* fill = f64 ? static_cast<void*>(&fill64) : static_cast<void*>(&fill32);
    GALEN_CUDNN_CHECK(cudnnSetRNNDataDescriptor(xd.d, cdt, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                                                    static_cast<int>(d.T), static_cast<int>(d.B),
                                                    static_cast<int>(d.I), seq.data(), fill));
    GALEN_CUDNN_CHECK(cudnnSetRNNDataDescriptor(yd.d, cdt, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                                                    static_cast<int>(d.T), static_cast<int>(d.B),
                                                    static_cast<int>(D * d.H), seq.data(), fill));
    const int dims[3] = {D, static_cast<int>(d.B), static_cast<int>(d.H)};
    const int strides[3] = {static_cast<int>(d.B * d.H), static_cast<int>(d.H), 1};
    GALEN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(hd.d, cdt, 3, dims, strides));
    GALEN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(cd.d, cdt, 3, dims, strides));
    GALEN_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(h, rnn.d, &weight_bytes));
    GALEN_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(h, rnn.d, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                                    xd.d, &work_bytes, &reserve_bytes));
  }
};

// Element count of a tensor descriptor cuDNN filled in.
int64_t desc_numel(cudnnTensorDescriptor_t t) {
  cudnnDataType_t dt;
  int nd = 0, dims[8] = {}, strides[8] = {};
  GALEN_CUDNN_CHECK(cudnnGetTensorNdDescriptor(t, 8, &dt, &nd, dims, strides));
  int64_t n = 1;
  for (int i = 0; i < nd; ++i) n *= dims[i];
  return n;
}

// Copies between galen's parameters (w: 4 pointers per direction, PyTorch
// layout) and cuDNN's weight space; to_space: params -> space, else space -> params.
void transfer_weights(const Plan& p, const RnnLayerDesc& d, size_t es, void* space, void* const* w, bool to_space) {
  cudnnHandle_t h = cudnn_handle();
  TensorDesc md, bd;
  for (int dir = 0; dir < p.D; ++dir)
    for (int lin = 0; lin < 2 * p.G; ++lin) {
      void* maddr = nullptr;
      void* baddr = nullptr;
      GALEN_CUDNN_CHECK(cudnnGetRNNWeightParams(h, p.rnn.d, dir, p.weight_bytes, space, lin, md.d, &maddr, bd.d,
                                                    &baddr));
      const bool input_side = lin < p.G;
      const int gate = input_side ? lin : lin - p.G;
      const int64_t cols = input_side ? d.I : d.H;
      char* mat = static_cast<char*>(w[4 * dir + (input_side ? 0 : 1)]) + gate * d.H * cols * es;
      const size_t mbytes = static_cast<size_t>(d.H * cols) * es;
      GALEN_CHECK(maddr != nullptr && desc_numel(md.d) == d.H * cols, "rnn (cudnn): unexpected weight matrix layout "
                  "for direction ", dir, ", linear layer ", lin);
      GALEN_CUDA_CHECK(cudaMemcpy(to_space ? maddr : mat, to_space ? mat : maddr, mbytes, cudaMemcpyDeviceToDevice));
      void* bias_p = w[4 * dir + (input_side ? 2 : 3)];
      if (d.has_bias && baddr != nullptr && bias_p != nullptr) {
        GALEN_CHECK(desc_numel(bd.d) == d.H, "rnn (cudnn): unexpected bias layout for direction ", dir,
                    ", linear layer ", lin);
        char* bias = static_cast<char*>(bias_p) + gate * d.H * es;
        const size_t bbytes = static_cast<size_t>(d.H) * es;
        GALEN_CUDA_CHECK(cudaMemcpy(to_space ? baddr : bias, to_space ? bias : baddr, bbytes, cudaMemcpyDeviceToDevice));
      }
    }
}

// Device copy of the int32 sequence lengths (cuDNN's v8 calls want them there).
struct DevSeq {
  CudnnScratch mem;
  explicit DevSeq(const std::vector<int32_t>& seq) : mem(seq.size() * sizeof(int32_t)) {
    GALEN_CUDA_CHECK(cudaMemcpy(mem.p, seq.data(), seq.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
  }
  const int32_t* get() const { return static_cast<const int32_t*>(mem.p); }
};

}  // namespace

bool CudaBackend::rnn_library_plan(DType dt, const RnnLayerDesc& d, bool training, size_t* reserve_bytes) {
  if (rnn_variant_.load() != kRnnCudnn || !expressible(dt, d)) return false;
  Plan p(dt, d, training);
  *reserve_bytes = p.reserve_bytes;
  return true;
}

void CudaBackend::rnn_library_forward(DType dt, const RnnLayerDesc& d, const void* const* w, const void* x,
                                      const void* hx, const void* cx, void* y, void* hy, void* cy, void* reserve,
                                      size_t reserve_bytes) {
  GALEN_CHECK(expressible(dt, d), "rnn (cudnn): this layer cannot run through cuDNN");
  const bool training = reserve != nullptr;
  Plan p(dt, d, training);
  GALEN_CHECK(!training || reserve_bytes >= p.reserve_bytes, "rnn (cudnn): reserve space of ", reserve_bytes,
              " bytes, cuDNN needs ", p.reserve_bytes);
  const size_t es = element_size(dt);
  CudnnScratch wspace(p.weight_bytes), work(p.work_bytes);
  transfer_weights(p, d, es, wspace.p, const_cast<void* const*>(w), true);
  DevSeq seq(p.seq);
  const bool lstm = d.cell == RnnCell::Lstm;
  GALEN_CUDNN_CHECK(cudnnRNNForward(cudnn_handle(), p.rnn.d,
                                        training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE, seq.get(),
                                        p.xd.d, x, p.yd.d, y, p.hd.d, hx, hy, p.cd.d, lstm ? cx : nullptr,
                                        lstm ? cy : nullptr, p.weight_bytes, wspace.p, p.work_bytes, work.p,
                                        training ? p.reserve_bytes : 0, training ? reserve : nullptr));
}

void CudaBackend::rnn_library_backward(DType dt, const RnnLayerDesc& d, const void* const* w, const void* x,
                                       const void* hx, const void* cx, const void* y, const void* dy,
                                       const void* dhy, const void* dcy, void* reserve, size_t reserve_bytes,
                                       void* dx, void* dhx, void* dcx, void* const* dw) {
  GALEN_CHECK(expressible(dt, d), "rnn (cudnn): this layer cannot run through cuDNN");
  Plan p(dt, d, true);
  GALEN_CHECK(reserve != nullptr && reserve_bytes >= p.reserve_bytes, "rnn (cudnn): backward needs the forward's ",
              p.reserve_bytes, "-byte reserve space, got ", reserve_bytes);
  const size_t es = element_size(dt);
  CudnnScratch wspace(p.weight_bytes), dwspace(p.weight_bytes), work(p.work_bytes);
  transfer_weights(p, d, es, wspace.p, const_cast<void* const*>(w), true);
  DevSeq seq(p.seq);
  const bool lstm = d.cell == RnnCell::Lstm;
  cudnnHandle_t h = cudnn_handle();
  // Data first: it leaves in the reserve space what the weight gradient reads.
  GALEN_CUDNN_CHECK(cudnnRNNBackwardData_v8(h, p.rnn.d, seq.get(), p.yd.d, y, dy, p.xd.d, dx, p.hd.d, hx, dhy,
                                                dhx, p.cd.d, lstm ? cx : nullptr, lstm ? dcy : nullptr,
                                                lstm ? dcx : nullptr, p.weight_bytes, wspace.p, p.work_bytes, work.p,
                                                p.reserve_bytes, reserve));
  if (p.weight_bytes) GALEN_CUDA_CHECK(cudaMemset(dwspace.p, 0, p.weight_bytes));  // ADD mode accumulates
  GALEN_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(h, p.rnn.d, CUDNN_WGRAD_MODE_ADD, seq.get(), p.xd.d, x, p.hd.d,
                                                   hx, p.yd.d, y, p.weight_bytes, dwspace.p, p.work_bytes, work.p,
                                                   p.reserve_bytes, reserve));
  transfer_weights(p, d, es, dwspace.p, dw, false);
}

}  // namespace galen::kernels::cuda
