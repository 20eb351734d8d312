// Attention-state merges (spec §4), one block per (row, head).
#pragma once
#include "params.cuh"

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

// A finished row's normaliser and lse: from its running maximum m (base 2) and sum l, with the
// row's sink logit (natural units; -inf: none) joining the softmax as one more term whose value
// is zero (spec §3). o is the unnormalised accumulator times oScale; a row with neither an
// allowed key nor a sink is empty (o 0, lse -inf); one with only the sink has o 0 and lse = sink.
// A NaN maximum stays NaN in both.
struct RowEnd {
    float oScale, lse;
};
__device__ __forceinline__ RowEnd finishRow(float m, float l, float sink) {
    const float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;
    // No key: the sink's own logit exactly (a round trip through base 2 would move its last bit),
    // or -inf without a sink.
    if (m == -INFINITY) return {0.f, sink};
    if (sink == -INFINITY) return {1.f / l, (m + log2f(l)) * LN2};  // sinks are finite when given
    const float s2 = sink * LOG2E;
    const float mAll = maxNan(m, s2);
    const float a = exp2f(m - mAll);
    const float total = fmaf(l, a, exp2f(s2 - mAll));
    return {a / total, (mAll + log2f(total)) * LN2};
}

// The sink logit of query head h for a row written now (partialBase < 0), else -inf: split
// states carry no sink, their merge adds it once.
__device__ __forceinline__ float rowSink(const float* sinks, int h, int partialBase) {
    return sinks != nullptr && partialBase < 0 ? sinks[h] : -INFINITY;
}

// One online-softmax step on a thread's two rows of m16n8 score fragments, already in base 2 and
// masked to -inf: folds the tile's row maxima (rowMax, per thread) into m across the quad, turns
// s into probabilities, adds them to l and rescales l and o by the change of maximum.
template <int NB_S, int NB_O>
__device__ __forceinline__ void onlineSoftmaxStep(float (&s)[NB_S][4], float (&o)[NB_O][4], float (&m)[2],
                                                  float (&l)[2], float (&rowMax)[2]) {
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 1));
        rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 2));
        float mNew = maxNan(m[r], rowMax[r]);
        float mUse = mNew == -INFINITY ? 0.f : mNew;  // a row with no key yet: every p is 0
        alpha[r] = exp2f(m[r] - mUse);
        m[r] = mNew;
        rowMax[r] = mUse;
        l[r] *= alpha[r];
    }
#pragma unroll
    for (int nb = 0; nb < NB_S; ++nb) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            float pe = exp2f(s[nb][e] - rowMax[e >> 1]);
            s[nb][e] = pe;
            l[e >> 1] += pe;
        }
    }
    // Once the running maximum settles, alpha is 1 for the whole warp: skip the rescale.
    if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
        for (int nb = 0; nb < NB_O; ++nb) {
            o[nb][0] *= alpha[0];
            o[nb][1] *= alpha[0];
            o[nb][2] *= alpha[1];
            o[nb][3] *= alpha[1];
        }
    }
}


template <int QT>
__device__ __forceinline__ void mergePartialsBody(const MergePartialsParams& p) {
    const int* e = p.rows + 5 * blockIdx.x;
    const int qrow = e[0], i = e[1], base = e[2], splits = e[3], items = e[4];
    const int h = blockIdx.y, kvh = h / p.group, gi = i * p.group + h % p.group;
    // The sink joins the merged row as one more state: lse = sink, o = 0.
    const float sink = p.sinks != nullptr ? p.sinks[h] : -INFINITY;
    float m = sink;
    for (int s = 0; s < splits; ++s) m = maxNan(m, p.partialLse[base + ((long long) s * p.hkv + kvh) * items + gi]);
    float total = m == -INFINITY ? 0.f : expf(sink - m);
    for (int s = 0; s < splits; ++s) {
        float x = p.partialLse[base + ((long long) s * p.hkv + kvh) * items + gi];
        total += m == -INFINITY ? 0.f : expf(x - m);
    }
    long long out = (long long) qrow * p.hq + h;
    const long long ob = (long long) qrow * p.oTok + (long long) h * p.oHead;
    const bool empty = m == -INFINITY;
    for (int d = threadIdx.x; d < p.d; d += blockDim.x) {
        float a = 0.f;
        for (int s = 0; s < splits; ++s) {
            long long slot = base + ((long long) s * p.hkv + kvh) * items + gi;
            float w = empty ? 0.f : expf(p.partialLse[slot] - m);
            if (w > 0.f) a = fmaf(w, p.partialO[slot * p.d + d], a);
        }
        storeElem<QT>(p.o, ob + d, empty ? 0.f : a / total);
    }
    if (threadIdx.x == 0 && p.lse) p.lse[out] = empty ? -INFINITY : m + logf(total);
}

}  // namespace attn4j
