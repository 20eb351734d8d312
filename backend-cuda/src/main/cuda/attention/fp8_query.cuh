// FP8 q (spec §1, Feature.FP8_QUERY): a plan converts q into a scratch of o's dtype and runs the
// attention kernels of that dtype. Every e4m3 and e5m2 value is exact in F16, BF16 and F32, so the
// kernels see the exact q; no kernel has to learn a third q dtype.
#pragma once
#include "../primitives/common.cuh"

namespace attn4j {

// Token blockIdx.x of q [tokens, heads, d] (token and head strides in elements) into row
// blockIdx.x of a contiguous [tokens, heads, d]. Each thread moves 8 elements: 8 bytes in (the
// backend's alignment keeps q's rows on 8 bytes and d is a multiple of 8), 16 or 32 out, stored
// whole (element by element, a warp's 2-byte stores at a 16-byte stride would touch 8 times the
// sectors they fill); a block per token keeps the index arithmetic 32-bit for any token count.
template <int SRC, int DST>
__device__ __forceinline__ void convertQueryBody(const void* src, long long tokStride, long long headStride, void* dst,
                                                 int heads, int d) {
    static_assert(Elem<SRC>::bytes == 1, "q is FP8: its strides count bytes");
    const int vecs = d / 8;
    const long long token = blockIdx.x;
    const uint8_t* in = reinterpret_cast<const uint8_t*>(src) + token * tokStride;
    uint8_t* out = reinterpret_cast<uint8_t*>(dst) + token * heads * d * Elem<DST>::bytes;
    for (int j = threadIdx.x; j < heads * vecs; j += blockDim.x) {
        const int h = j / vecs, e = (j - h * vecs) * 8;
        const uint2 raw = *reinterpret_cast<const uint2*>(in + h * headStride + e);
        uint8_t* row = out + ((long long) h * d + e) * Elem<DST>::bytes;
        uint32_t bits[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) bits[i] = Elem<DST>::toBits(vecElem<SRC>(raw, i));
        if constexpr (Elem<DST>::bytes == 2) {
            *reinterpret_cast<uint4*>(row) = make_uint4(bits[0] | bits[1] << 16, bits[2] | bits[3] << 16,
                                                         bits[4] | bits[5] << 16, bits[6] | bits[7] << 16);
        } else {
            *reinterpret_cast<uint4*>(row) = make_uint4(bits[0], bits[1], bits[2], bits[3]);
            *reinterpret_cast<uint4*>(row + 16) = make_uint4(bits[4], bits[5], bits[6], bits[7]);
        }
    }
}

}  // namespace attn4j
