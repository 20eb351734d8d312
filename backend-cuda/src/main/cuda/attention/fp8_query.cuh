// FP8 q (spec §1, Feature.FP8_QUERY): a plan converts q into a scratch of o's dtype and runs the
// attention kernels of that dtype. Every e4m3 and e5m2 value is exact in F16, BF16 and F32, so the
// kernels see the exact q; no kernel has to learn a third q dtype.
#pragma once
#include "../primitives/common.cuh"

namespace attn4j {

// q [tokens, heads, d] at token and head strides (elements) into a contiguous [tokens, heads, d].
template <int SRC, int DST>
__device__ __forceinline__ void convertQueryBody(const void* src, long long tokStride, long long headStride, void* dst,
                                                 int heads, int d, long long elements) {
    const long long step = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < elements; i += step) {
        const long long row = i / d;
        const int e = (int) (i - row * d);
        const long long token = row / heads;
        const int head = (int) (row - token * heads);
        storeElem<DST>(dst, i, loadElem<SRC>(src, token * tokStride + head * headStride + e));
    }
}

}  // namespace attn4j
