// The one translation unit nvcc compiles into the backend's fatbin. Entry points are extern "C"
// so the host finds them by plain name: <op>_<q dtype>[_<kv dtype>][_ipw<n>].
#include "attention/generic.cuh"
#include "attention/tensor_core.cuh"
#include "attention/decode_stream.cuh"
#include "attention/decode_mma.cuh"
#include "attention/prefill_fa2.cuh"
#include "attention/mla.cuh"
#include "hopper/prefill_wgmma.cuh"
#include "hopper/mla_wgmma.cuh"
#include "kv/kvops.cuh"
#include "attention/state.cuh"
#include "attention/fp8_query.cuh"

using namespace attn4j;

#define ATTENTION(QN, Q, KN, K, IPW)                                                                      \
    extern "C" __global__ void __launch_bounds__(THREADS) attention_##QN##_##KN##_ipw##IPW(const AttnParams p) { \
        attentionBody<Q, K, IPW>(p);                                                                       \
    }
#define ATTENTION_IPW(QN, Q, KN, K) ATTENTION(QN, Q, KN, K, 1) ATTENTION(QN, Q, KN, K, 2) ATTENTION(QN, Q, KN, K, 4)
#define ATTENTION_KV(QN, Q)                                                                               \
    ATTENTION_IPW(QN, Q, f16, F16) ATTENTION_IPW(QN, Q, bf16, BF16) ATTENTION_IPW(QN, Q, e4m3, E4M3)      \
    ATTENTION_IPW(QN, Q, e5m2, E5M2) ATTENTION_IPW(QN, Q, f32, F32)
ATTENTION_KV(f16, F16)
ATTENTION_KV(bf16, BF16)
ATTENTION_KV(f32, F32)  // f32 q (and head dims that are not multiples of 16) run here alone

// Tensor Core kernels: "dec" blocks are 1 x 4 warps (1 x 2 above D 128) over 16 query items and
// 3 tile stages (decode, GQA groups); "pre" blocks 4 x 1 warps over 64 items, 2 stages (prefill).
// d128 serves head dims up to 128, d256 the rest.
#define TC(CFG, WM, WN, KPW, DMAX, ST, QN, Q, KN, K)                                                      \
    extern "C" __global__ void __launch_bounds__(32 * WM * WN)                                           \
        tc_##CFG##_##QN##_##KN##_d##DMAX(const AttnParams p) {                                           \
        tcAttentionBody<Q, K, WM, WN, KPW, DMAX, ST>(p);                                                  \
    }
#define TC_KV(CFG, WM, WN, KPW, DMAX, ST, QN, Q)                                                          \
    TC(CFG, WM, WN, KPW, DMAX, ST, QN, Q, QN, Q) TC(CFG, WM, WN, KPW, DMAX, ST, QN, Q, e4m3, E4M3)         \
    TC(CFG, WM, WN, KPW, DMAX, ST, QN, Q, e5m2, E5M2)
#define TC_Q(QN, Q)                                                                                       \
    TC_KV(dec, 1, 4, 16, 128, 3, QN, Q) TC_KV(dec, 1, 2, 16, 256, 3, QN, Q)                               \
    TC_KV(pre, 4, 1, 64, 128, 2, QN, Q) TC_KV(pre, 4, 1, 32, 256, 2, QN, Q)
TC_Q(f16, F16)
TC_Q(bf16, BF16)

// Streaming decode on CUDA cores (default without grouping at head dims 64, 96 and 128): K/V of
// q's type; groups of 1, 2, 4 and 8 up to the head dim's StreamRow<D>::MAX_GROUP
// (BlockShape.streamMaxGroup): 8 at 64 and 128, 4 at 256, 2 at 96 and 192, 1 at 80.
#define STREAM(QN, Q, DH, G)                                                                              \
    extern "C" __global__ void __launch_bounds__(32 * STREAM_WARPS)                                      \
        dec_stream_##QN##_d##DH##_g##G(const AttnParams p) {                                              \
        streamDecodeBody<Q, DH, G>(p);                                                                    \
    }
#define STREAM_G8(QN, Q, DH) STREAM(QN, Q, DH, 1) STREAM(QN, Q, DH, 2) STREAM(QN, Q, DH, 4) STREAM(QN, Q, DH, 8)
#define STREAM_Q(QN, Q)                                                                                   \
    STREAM_G8(QN, Q, 64) STREAM_G8(QN, Q, 128)                                                            \
    STREAM(QN, Q, 256, 1) STREAM(QN, Q, 256, 2) STREAM(QN, Q, 256, 4)                                     \
    STREAM(QN, Q, 96, 1) STREAM(QN, Q, 96, 2) STREAM(QN, Q, 192, 1) STREAM(QN, Q, 192, 2)                 \
    STREAM(QN, Q, 80, 1)
STREAM_Q(f16, F16)
STREAM_Q(bf16, BF16)
// Decode on Tensor Cores (default for GQA groups, FP8 K/V, and without grouping at head dims 80 and
// 256): K/V of q's type or FP8, head dims 64, 80, 96, 128 and 256, group sizes up to 16.
#define MMA_DEC(QN, Q, KN, K, DH)                                                                         \
    extern "C" __global__ void __launch_bounds__(32 * MMA_DEC_WARPS)                                     \
        dec_mma_##QN##_##KN##_d##DH(const AttnParams p) {                                                 \
        mmaDecodeBody<Q, K, DH>(p);                                                                       \
    }
#define MMA_DEC_D(QN, Q, KN, K)                                                                           \
    MMA_DEC(QN, Q, KN, K, 64) MMA_DEC(QN, Q, KN, K, 80) MMA_DEC(QN, Q, KN, K, 96) MMA_DEC(QN, Q, KN, K, 128) \
    MMA_DEC(QN, Q, KN, K, 256)
#define MMA_DEC_KV(QN, Q) MMA_DEC_D(QN, Q, QN, Q) MMA_DEC_D(QN, Q, e4m3, E4M3) MMA_DEC_D(QN, Q, e5m2, E5M2)
MMA_DEC_KV(f16, F16)
MMA_DEC_KV(bf16, BF16)
// FlashAttention-2-style prefill (default below sm_90): K/V of q's type, head dim 64 or 128.
#define FA2(QN, Q, DH)                                                                                    \
    extern "C" __global__ void __launch_bounds__(FA2_THREADS) fa2_##QN##_d##DH(const AttnParams p) {      \
        fa2PrefillBody<Q, DH>(p);                                                                         \
    }
FA2(f16, F16, 64)
FA2(f16, F16, 128)
FA2(bf16, BF16, 64)
FA2(bf16, BF16, 128)
extern "C" __global__ void __launch_bounds__(STREAM_MERGE_THREADS) merge_stream_f16(const MergePartialsParams p) {
    mergeStreamBody<F16>(p);
}
extern "C" __global__ void __launch_bounds__(STREAM_MERGE_THREADS) merge_stream_bf16(const MergePartialsParams p) {
    mergeStreamBody<BF16>(p);
}

#define PER_Q(QN, Q)                                                                                      \
    extern "C" __global__ void merge_partials_##QN(const MergePartialsParams p) { mergePartialsBody<Q>(p); } \
    extern "C" __global__ void merge_state_##QN(const void* oA, const float* sA, const void* oB, const float* sB, \
                                                void* o, float* s, const uint8_t* rowMask, int hq, int d) {  \
        mergeStateBody<Q>(oA, sA, oB, sB, o, s, rowMask, hq, d);                                          \
    }                                                                                                     \
    extern "C" __global__ void merge_states_##QN(const void* v, const float* s, void* o, float* sOut, int n,    \
                                                 int hq, int d) {                                        \
        mergeStatesBody<Q>(v, s, o, sOut, n, hq, d);                                                      \
    }                                                                                                     \
    extern "C" __global__ void rope_##QN(void* x, long long tok, long long head, const int* positions,      \
                                         const double* freq, int* fault, int heads, int r, int interleaved) { \
        ropeBody<Q>(x, tok, head, positions, freq, fault, heads, r, interleaved);                         \
    }
PER_Q(f16, F16)
PER_Q(bf16, BF16)
PER_Q(f32, F32)

#define CONVERT_QUERY(SN, S, DN, D)                                                                       \
    extern "C" __global__ void __launch_bounds__(128) convert_query_##SN##_##DN(const void* src, long long tok,     \
                                                          long long head, void* dst, int heads, int d) {     \
        convertQueryBody<S, D>(src, tok, head, dst, heads, d);                                             \
    }
#define CONVERT_QUERY_TO(SN, S) CONVERT_QUERY(SN, S, f16, F16) CONVERT_QUERY(SN, S, bf16, BF16) CONVERT_QUERY(SN, S, f32, F32)
CONVERT_QUERY_TO(e4m3, E4M3)
CONVERT_QUERY_TO(e5m2, E5M2)

#define APPEND(SN, S, DN, D)                                                                              \
    extern "C" __global__ void append_##SN##_##DN(const AppendParams p) { appendBody<S, D>(p); }
#define APPEND_TO(DN, D) APPEND(f16, F16, DN, D) APPEND(bf16, BF16, DN, D) APPEND(f32, F32, DN, D)
APPEND_TO(f16, F16)
APPEND_TO(bf16, BF16)
APPEND_TO(f32, F32)
APPEND_TO(e4m3, E4M3)
APPEND_TO(e5m2, E5M2)
APPEND(e4m3, E4M3, e4m3, E4M3)
APPEND(e5m2, E5M2, e5m2, E5M2)

extern "C" __global__ void __launch_bounds__(TABLE_THREADS) check_page_table(
        const int* indptr, const int* indices, const int* lastPageLen, int* indptrOut, int* indicesOut, int* lastOut,
        int* fault, int batch, int capacity, int pageSize, int maxKvLen, int numPages) {
    checkPageTableBody(indptr, indices, lastPageLen, indptrOut, indicesOut, lastOut, fault, batch, capacity, pageSize,
                       maxKvLen, numPages);
}

// Host-side layout check: the Java side writes these structs byte by byte.
extern "C" __global__ void param_sizes(int* out) {
    out[0] = sizeof(AttnParams);
    out[1] = sizeof(MergePartialsParams);
    out[2] = sizeof(AppendParams);
    out[3] = sizeof(MlaParams);
    out[4] = sizeof(MlaTensorMaps);
}

// Multi-head latent attention: the Tensor Core kernel (q f16 or bf16; the cache of q's type or
// FP8), the merge of its split requests, and the CUDA-core kernel for every other dtype and dim.
#define MLA_TC(QN, Q, KN, K)                                                                              \
    extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1) mla_tc_##QN##_##KN(const MlaParams p) {  \
        mlaTensorCoreBody<Q, K>(p);                                                                       \
    }
#define MLA_TC_Q(QN, Q) MLA_TC(QN, Q, QN, Q) MLA_TC(QN, Q, e4m3, E4M3) MLA_TC(QN, Q, e5m2, E5M2)
MLA_TC_Q(f16, F16)
MLA_TC_Q(bf16, BF16)
#define MLA_GENERIC(QN, Q, KN, K)                                                                         \
    extern "C" __global__ void __launch_bounds__(32 * MLA_GENERIC_WARPS) mla_generic_##QN##_##KN(          \
            const MlaParams p) {                                                                          \
        mlaGenericBody<Q, K>(p);                                                                          \
    }
#define MLA_GENERIC_Q(QN, Q)                                                                              \
    MLA_GENERIC(QN, Q, f16, F16) MLA_GENERIC(QN, Q, bf16, BF16) MLA_GENERIC(QN, Q, f32, F32)              \
    MLA_GENERIC(QN, Q, e4m3, E4M3) MLA_GENERIC(QN, Q, e5m2, E5M2)                                         \
    extern "C" __global__ void __launch_bounds__(32 * MLA_GENERIC_WARPS) mla_merge_##QN(const MlaParams p) { \
        mlaMergeBody<Q>(p);                                                                               \
    }
MLA_GENERIC_Q(f16, F16)
MLA_GENERIC_Q(bf16, BF16)
MLA_GENERIC_Q(f32, F32)

// Hopper MLA on warpgroup MMA (mlaKernel=wgmma on sm_90a; traps elsewhere): DeepSeek's dims, q and
// cache of one 16-bit type; the Tensor Core kernel's schedule and merge.
#define MLA_WG(QN, Q)                                                                                     \
    extern "C" __global__ void __launch_bounds__(MLA_WG_THREADS, 1) mla_wg_##QN(                         \
            const MlaParams p, const __grid_constant__ MlaTensorMaps maps) {                                  \
        mlaWgmmaBody<Q>(p, maps);                                                                         \
    }
MLA_WG(f16, F16)
MLA_WG(bf16, BF16)

// Hopper prefill on warpgroup MMA (default on sm_90a; traps elsewhere): K/V of q's type at head dim
// 64, 128 or 256, or FP8 at 64 and 128; 80 and 96 in the layout of 128, 192 in that of 256 (without
// the padding's tensor work); every other multiple of 8
// up to 256 with K/V of q's type in the smallest layout that holds it, the head dim read at run
// time (wg_*_rDH); a copier warpgroup and two consumer warpgroups (three in the layout of 64 with
// K/V of q's type) issuing on the tensor cores as each is ready, 64 query rows each.
#define WGMMA_PREFILL(QN, Q, DH, DR)                                                                      \
    extern "C" __global__ void __launch_bounds__(wgThreads(DH), 1) wg_##QN##_d##DR(const AttnParams p) {  \
        wgPrefillBody<Q, DH, DR>(p);                                                                      \
    }
#define WGMMA_PREFILL_RUNTIME_DIM(QN, Q, DH)                                                              \
    extern "C" __global__ void __launch_bounds__(wgThreads(DH), 1) wg_##QN##_r##DH(const AttnParams p) {  \
        wgPrefillBody<Q, DH, 0>(p);                                                                       \
    }
#define WGMMA_PREFILL_FP8(QN, Q, KN, K, DH, DR)                                                           \
    extern "C" __global__ void __launch_bounds__(wgThreads(DH, 1), 1) wg_##QN##_##KN##_d##DR(const AttnParams p) { \
        wgPrefillBody<Q, DH, DR, K>(p);                                                                   \
    }
#define WGMMA_PREFILL_KV(QN, Q, KN, K)                                                                    \
    WGMMA_PREFILL_FP8(QN, Q, KN, K, 64, 64) WGMMA_PREFILL_FP8(QN, Q, KN, K, 128, 80)                      \
    WGMMA_PREFILL_FP8(QN, Q, KN, K, 128, 96) WGMMA_PREFILL_FP8(QN, Q, KN, K, 128, 128)
#define WGMMA_PREFILL_Q(QN, Q)                                                                            \
    WGMMA_PREFILL(QN, Q, 64, 64) WGMMA_PREFILL(QN, Q, 128, 80) WGMMA_PREFILL(QN, Q, 128, 96)              \
    WGMMA_PREFILL(QN, Q, 128, 128) WGMMA_PREFILL(QN, Q, 256, 192) WGMMA_PREFILL(QN, Q, 256, 256)          \
    WGMMA_PREFILL_RUNTIME_DIM(QN, Q, 64) WGMMA_PREFILL_RUNTIME_DIM(QN, Q, 128)                            \
    WGMMA_PREFILL_RUNTIME_DIM(QN, Q, 256)                                                                 \
    WGMMA_PREFILL_KV(QN, Q, e4m3, E4M3) WGMMA_PREFILL_KV(QN, Q, e5m2, E5M2)
WGMMA_PREFILL_Q(bf16, BF16)
WGMMA_PREFILL_Q(f16, F16)
