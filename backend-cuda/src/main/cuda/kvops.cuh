// KV append (spec §5) and the standalone RoPE op.
#pragma once
#include "common.cuh"

namespace attn4j {

struct AppendParams {
    const uint8_t* k;
    const uint8_t* v;
    const int* batchIndices;
    const int* positions;
    const int* kvIndptr;
    const int* kvIndices;
    uint8_t* kCache;
    uint8_t* vCache;
    long long kOffset, vOffset, pageStride, slotStride, headStride;
    int hkv, d, pageSize, pad0;
    float kScale, vScale;
};

// x / scale in double, narrowed to float by rounding to odd: the later rounding to the cache's
// type then equals one rounding of the exact quotient (what the reference computes).
__device__ __forceinline__ float quotientRoundedToOdd(float x, float scale) {
    double q = (double) x / (double) scale;
    float f = __double2float_rz(q);
    if ((double) f != q && !isnan(q) && !isinf(f)) f = __uint_as_float(__float_as_uint(f) | 1u);
    return f;
}

// One block per (token, head). Same dtype: the bits move unchanged. Otherwise the value over
// the scale is rounded to nearest even, saturating (FP8); into F32, straight from the double.
template <int SRC, int DST>
__device__ __forceinline__ void appendBody(const AppendParams& p) {
    const int t = blockIdx.x / p.hkv, head = blockIdx.x % p.hkv;
    const int b = p.batchIndices[t], pos = p.positions[t];
    const int page = p.kvIndices[p.kvIndptr[b] + pos / p.pageSize], slot = pos % p.pageSize;
    const long long rel = page * p.pageStride + slot * p.slotStride + head * p.headStride;
    const long long src = ((long long) t * p.hkv + head) * p.d;
    for (int d = threadIdx.x; d < p.d; d += blockDim.x) {
        if (SRC == DST) {
            constexpr int B = Elem<DST>::bytes;
            for (int x = 0; x < B; ++x) {
                p.kCache[(p.kOffset + rel + d) * B + x] = p.k[(src + d) * B + x];
                p.vCache[(p.vOffset + rel + d) * B + x] = p.v[(src + d) * B + x];
            }
        } else if (DST == F32) {  // one rounding, straight from the double quotient
            storeElem<DST>(p.kCache, p.kOffset + rel + d, __double2float_rn((double) loadElem<SRC>(p.k, src + d) / p.kScale));
            storeElem<DST>(p.vCache, p.vOffset + rel + d, __double2float_rn((double) loadElem<SRC>(p.v, src + d) / p.vScale));
        } else {
            storeElem<DST>(p.kCache, p.kOffset + rel + d, quotientRoundedToOdd(loadElem<SRC>(p.k, src + d), p.kScale));
            storeElem<DST>(p.vCache, p.vOffset + rel + d, quotientRoundedToOdd(loadElem<SRC>(p.v, src + d), p.vScale));
        }
    }
}

// x [n, heads, D] rotated in place, row t at positions[t]; one block per (row, head), a thread per pair.
template <int QT>
__device__ __forceinline__ void ropeBody(void* x, const int* positions, const double* freq, int heads, int D,
                                         int interleaved) {
    const long long rh = blockIdx.x;
    const int t = (int) (rh / heads), half = D / 2;
    for (int pi = threadIdx.x; pi < half; pi += blockDim.x) {
        int a = interleaved ? 2 * pi : pi, b = interleaved ? 2 * pi + 1 : pi + half;
        float xa = loadElem<QT>(x, rh * D + a), xb = loadElem<QT>(x, rh * D + b), c, s;
        ropeCosSin(freq, pi, positions[t], c, s);
        storeElem<QT>(x, rh * D + a, xa * c - xb * s);
        storeElem<QT>(x, rh * D + b, xb * c + xa * s);
    }
}

}  // namespace attn4j
