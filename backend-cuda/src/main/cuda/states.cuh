// Attention-state merges (spec §4), one block per (row, head).
#pragma once
#include "common.cuh"

namespace attn4j {

// (o, s) = merge((oA, sA), (oB, sB)); o may alias oA (in place). A row whose mask byte is 0
// is left untouched. A weight of 0 never multiplies its o, so (anything, -inf) is the identity.
template <int QT>
__device__ __forceinline__ void mergeStateBody(const void* oA, const float* sA, const void* oB, const float* sB,
                                               void* o, float* s, const uint8_t* rowMask, int hq, int D) {
    const long long rh = blockIdx.x;
    if (rowMask && !rowMask[rh / hq]) return;
    float a = sA[rh], bb = sB[rh], m = maxNan(a, bb);
    float wa = m == -INFINITY ? 0.f : expf(a - m), wb = m == -INFINITY ? 0.f : expf(bb - m);
    float total = wa + wb;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float x = 0.f;
        if (wa > 0.f) x = wa * loadElem<QT>(oA, rh * D + d);
        if (wb > 0.f) x = fmaf(wb, loadElem<QT>(oB, rh * D + d), x);
        storeElem<QT>(o, rh * D + d, m == -INFINITY ? 0.f : x / total);
    }
    __syncthreads();  // every thread has read sA/sB before s (which may be sA) changes
    if (threadIdx.x == 0) s[rh] = m == -INFINITY ? -INFINITY : m + logf(total);
}

// v [rows, n, Hq, D], s [rows, n, Hq] -> o [rows, Hq, D], sOut [rows, Hq].
template <int QT>
__device__ __forceinline__ void mergeStatesBody(const void* v, const float* s, void* o, float* sOut, int n, int hq,
                                                int D) {
    const long long rh = blockIdx.x, r = rh / hq, h = rh - r * hq;
    float m = -INFINITY;
    for (int k = 0; k < n; ++k) m = maxNan(m, s[(r * n + k) * hq + h]);
    float total = 0.f;
    for (int k = 0; k < n; ++k) total += m == -INFINITY ? 0.f : expf(s[(r * n + k) * hq + h] - m);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float x = 0.f;
        for (int k = 0; k < n; ++k) {
            float w = m == -INFINITY ? 0.f : expf(s[(r * n + k) * hq + h] - m);
            if (w > 0.f) x = fmaf(w, loadElem<QT>(v, ((r * n + k) * hq + h) * D + d), x);
        }
        storeElem<QT>(o, rh * D + d, m == -INFINITY ? 0.f : x / total);
    }
    if (threadIdx.x == 0) sOut[rh] = m == -INFINITY ? -INFINITY : m + logf(total);
}

}  // namespace attn4j
