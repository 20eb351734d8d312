// Warp-level Tensor Core primitives (mma.sync m16n8k16, ldmatrix, cp.async; sm_80 and newer)
// shared by the attention kernels.
#pragma once
#include "common.cuh"

namespace attn4j {

template <int MT> struct Mma;
template <> struct Mma<F16> {
    static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};
template <> struct Mma<BF16> {
    static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};

// Two FP8 codes (the first in the low byte) as two elements of q's 16-bit type, exactly: every
// e4m3 and e5m2 value, NaN and infinity included, is a half and a bfloat16 value.
template <int T, int KT> __device__ __forceinline__ uint32_t fp8PairToMma(uint32_t pair) {
    const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t) (pair & 0xFFFFu),
                                                     KT == E4M3 ? __NV_E4M3 : __NV_E5M2);
    if (T == F16) return (uint32_t) h.x | ((uint32_t) h.y << 16);
    const float2 f = __half22float2(__half2(h));
    return Mma<BF16>::pack(f.x, f.y);
}

__device__ __forceinline__ void cpAsync16(void* smemDst, const void* src, bool valid) {
    uint32_t dst = (uint32_t) __cvta_generic_to_shared(smemDst);
    int n = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cpAsyncWait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrixX4(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

__device__ __forceinline__ void ldmatrixX2(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
}
__device__ __forceinline__ void ldmatrixX2Trans(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
}

}  // namespace attn4j
