// The attention variant (spec §3), written once: how a score q·k becomes a logit (scale, ALiBi,
// soft cap) and which keys a query row may see (causal, window, custom mask). Every kernel calls
// these on its own coordinates, so each rule means the same in all of them; the sink, which
// joins a row's softmax at its end, is in state.cuh.
//
// The kernels' softmax runs in base 2 (exp2 is one MUFU instruction), so logits leave here
// multiplied by log2(e). The transform's flags (soft cap, ALiBi) are uniform over a launch:
// withLogitFlags turns them into compile-time constants, so the per-element loops carry no
// branch, and a launch without ALiBi or cap runs exactly the multiply it ran before.
#pragma once
#include "params.cuh"

namespace attn4j {

constexpr float VARIANT_LOG2E = 1.4426950408889634f;

// Cuts [kvStart, kvEnd) to the keys that rows at diagonal positions pqLo..pqHi can see at all:
// causality hides the keys after pqHi, the window those before pqLo - windowLeft. Tiles outside
// are never loaded.
__device__ __forceinline__ void cutToVisibleKeys(const AttnParams& p, int pqLo, int pqHi, int& kvStart, int& kvEnd) {
    if (p.causal) kvEnd = min(kvEnd, pqHi + 1);
    if (p.windowLeft >= 0) kvStart = max(kvStart, pqLo - p.windowLeft);
}

// Whether keys [c0, c0 + keys) need a per-key mask for rows pqLo..pqHi: the tile runs past the
// keys, straddles the causal diagonal or the window's edge, or a custom mask applies. The other
// tiles skip the mask altogether.
__device__ __forceinline__ bool tileNeedsMask(const AttnParams& p, int c0, int keys, int kvEnd, int pqLo, int pqHi) {
    return c0 + keys > kvEnd || p.mask != nullptr || (p.causal && c0 + keys - 1 > pqLo)
           || (p.windowLeft >= 0 && c0 < pqHi - p.windowLeft);
}

// Whether query row i of request b (diagonal position pq) may see key j (< kvLen): the causal,
// window and custom-mask rules. The key range itself is the caller's.
__device__ __forceinline__ bool keyVisible(const AttnParams& p, int b, int i, int pq, int j, int kvLen) {
    bool ok = true;
    if (p.causal) ok = j <= pq;
    if (p.windowLeft >= 0) ok = ok && j >= pq - p.windowLeft;
    if (ok && p.mask) {
        const long long bit = p.maskOffsets[b] + (long long) i * kvLen + j;
        ok = (p.mask[bit >> 3] >> (bit & 7)) & 1;
    }
    return ok;
}

// ---- KV dequantisation scales (spec §1). Scalar and per-head scales are uniform over a block's
// KV head, so they fold into the logit multiplier and the output factor; per-token ones vary per
// key and are taken only by the kernels that apply them key by key (CudaAttentionPlan routes the
// rest away): the Tensor Core kernel (tensor_core.cuh) and the generic one (generic.cuh).

// Whether p carries per-token scales (per-head ones have page and slot strides 0).
__device__ __forceinline__ bool perTokenScales(const AttnParams& p) {
    return p.kScales != nullptr && (p.scalePageStride | p.scaleSlotStride) != 0;
}

// K's (V's) dequantisation factor for all keys of KV head kvh: the scalar, or the head's scale
// (1 under per-token scales, which the kernels apply per key).
__device__ __forceinline__ float headKScale(const AttnParams& p, int kvh) {
    return p.kScales != nullptr && !perTokenScales(p) ? p.kScales[kvh * p.scaleHeadStride] : p.kScale;
}
__device__ __forceinline__ float headVScale(const AttnParams& p, int kvh) {
    return p.vScales != nullptr && !perTokenScales(p) ? p.vScales[kvh * p.scaleHeadStride] : p.vScale;
}

// Flat index of the per-token scale of the key in page `page` (a pool page id), slot `slot`, KV head kvh.
__device__ __forceinline__ long long tokenScaleIndex(const AttnParams& p, int page, int slot, int kvh) {
    return page * p.scalePageStride + slot * p.scaleSlotStride + kvh * p.scaleHeadStride;
}

// Score to base-2 logit: t = raw * mul + slope * (j - pq), then capLog2 * tanh(t) under a soft
// cap. Without a cap mul is smScale * kScale * log2(e) and slope is ALiBi's times log2(e); with
// one, the scale and the bias go inside the tanh: mul = smScale * kScale / cap, slope = ALiBi's
// / cap. So ALiBi lands after scaling and before the cap, as spec §3 orders them. kScale is the
// block's KV head's (headKScale); a per-token scale multiplies raw before apply.
struct LogitTransform {
    float mul, capLog2, slopeMul;
    bool cap, alibi;
    __device__ __forceinline__ LogitTransform(const AttnParams& p, int kvh) {
        const float scale = p.smScale * headKScale(p, kvh);
        cap = p.softCap > 0.f;
        alibi = p.alibiSlopes != nullptr;
        mul = cap ? scale / p.softCap : scale * VARIANT_LOG2E;
        capLog2 = cap ? p.softCap * VARIANT_LOG2E : 0.f;
        slopeMul = cap ? 1.f / p.softCap : VARIANT_LOG2E;
    }
    // The ALiBi factor of query head h, in this transform's units (0 without ALiBi).
    __device__ __forceinline__ float slope(const AttnParams& p, int h) const {
        return alibi ? p.alibiSlopes[h] * slopeMul : 0.f;
    }
    template <bool CAP, bool ALIBI>
    __device__ __forceinline__ float apply(float raw, float slope, int j, int pq) const {
        float t = raw * mul;
        if (ALIBI) t = fmaf(slope, (float) (j - pq), t);
        return CAP ? capLog2 * tanhf(t) : t;
    }
};

template <bool C, bool A> struct LogitFlags {
    static constexpr bool cap = C, alibi = A;
};

// Calls f(LogitFlags<cap, alibi>{}) with the transform's flags as compile-time constants.
template <typename F> __device__ __forceinline__ void withLogitFlags(const LogitTransform& t, F&& f) {
    if (t.cap) {
        if (t.alibi) {
            f(LogitFlags<true, true>{});
        } else {
            f(LogitFlags<true, false>{});
        }
    } else if (t.alibi) {
        f(LogitFlags<false, true>{});
    } else {
        f(LogitFlags<false, false>{});
    }
}

// ---- m16n8 accumulator fragments (mma.sync and wgmma share the layout). A thread's scores of a
// tile starting at key c0, flat: accumulator i holds key c0 + 8 (i / 4) + 2 (lane % 4) + (i & 1)
// of the thread's row (i / 2) & 1.

__device__ __forceinline__ int fragmentKey(int c0, int i, int lane) {
    return c0 + (i >> 2) * 8 + (lane & 3) * 2 + (i & 1);
}

// Scores to base-2 logits. slopeOf(r) gives row r's ALiBi factor (LogitTransform::slope); it is
// called only under ALiBi, so launches without it keep no slope live across the loop. pq: the
// rows' diagonal positions.
template <int N, typename SlopeOf>
__device__ __forceinline__ void fragmentLogits(float (&s)[N], const LogitTransform& t, int c0, int lane,
                                               SlopeOf slopeOf, const int (&pq)[2]) {
    withLogitFlags(t, [&](auto flags) {
        using Flags = decltype(flags);
        float slope[2] = {0.f, 0.f};
        if (Flags::alibi) {
            slope[0] = slopeOf(0);
            slope[1] = slopeOf(1);
        }
#pragma unroll
        for (int i = 0; i < N; ++i) {
            const int r = (i >> 1) & 1;
            s[i] = t.template apply<Flags::cap, Flags::alibi>(s[i], slope[r], fragmentKey(c0, i, lane), pq[r]);
        }
    });
}
template <int NB, typename SlopeOf>
__device__ __forceinline__ void fragmentLogits(float (&s)[NB][4], const LogitTransform& t, int c0, int lane,
                                               SlopeOf slopeOf, const int (&pq)[2]) {
    fragmentLogits(*reinterpret_cast<float (*)[NB * 4]>(&s), t, c0, lane, slopeOf, pq);
}

// Sets to -inf the scores a row may not see: rows that do not exist (ok false), keys outside
// [kvStart, kvEnd), and keys keyVisible rejects for the row (query row i, diagonal position pq).
template <int N>
__device__ __forceinline__ void fragmentMask(float (&s)[N], const AttnParams& p, int b, int kvLen, int kvStart,
                                             int kvEnd, int c0, int lane, const bool (&ok)[2], const int (&i)[2],
                                             const int (&pq)[2]) {
#pragma unroll
    for (int e = 0; e < N; ++e) {
        const int r = (e >> 1) & 1, j = fragmentKey(c0, e, lane);
        const bool visible = ok[r] && j >= kvStart && j < kvEnd && keyVisible(p, b, i[r], pq[r], j, kvLen);
        if (!visible) s[e] = -INFINITY;
    }
}
template <int NB>
__device__ __forceinline__ void fragmentMask(float (&s)[NB][4], const AttnParams& p, int b, int kvLen, int kvStart,
                                             int kvEnd, int c0, int lane, const bool (&ok)[2], const int (&i)[2],
                                             const int (&pq)[2]) {
    fragmentMask(*reinterpret_cast<float (*)[NB * 4]>(&s), p, b, kvLen, kvStart, kvEnd, c0, lane, ok, i, pq);
}

}  // namespace attn4j
