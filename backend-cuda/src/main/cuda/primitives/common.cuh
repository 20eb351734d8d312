// Shared element conversions and small helpers of the attn4j CUDA kernels.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <stdint.h>

namespace attn4j {

// Dtype codes shared with the Java side (org.attn4j.cuda.CudaDtypes).
enum DtypeCode : int { F16 = 0, BF16 = 1, E4M3 = 2, E5M2 = 3, F32 = 4 };

template <int DT> struct Elem;
template <> struct Elem<F16> {
    static constexpr int bytes = 2;
    static __device__ __forceinline__ float load(const uint8_t* p) {
        return __half2float(*reinterpret_cast<const __half*>(p));
    }
    static __device__ __forceinline__ float fromBits(uint32_t b) {
        __half_raw r;
        r.x = (unsigned short) b;
        return __half2float(__half(r));
    }
    static __device__ __forceinline__ uint32_t toBits(float x) {
        // The conversion returns a positive canonical NaN; stores keep a NaN's sign (spec §1).
        if (isnan(x)) return (__float_as_uint(x) >> 31 << 15) | 0x7E00u;
        __half h = __float2half_rn(x);
        return __half_raw(h).x;
    }
};
template <> struct Elem<BF16> {
    static constexpr int bytes = 2;
    static __device__ __forceinline__ float fromBits(uint32_t b) { return __uint_as_float(b << 16); }
    static __device__ __forceinline__ uint32_t toBits(float x) {
        if (isnan(x)) return (__float_as_uint(x) >> 16) | 0x40u;  // quiet, sign and payload kept
        __nv_bfloat16 h = __float2bfloat16_rn(x);
        return __nv_bfloat16_raw(h).x;
    }
};

template <> struct Elem<F32> {
    static constexpr int bytes = 4;
    static __device__ __forceinline__ float fromBits(uint32_t b) { return __uint_as_float(b); }
    static __device__ __forceinline__ uint32_t toBits(float x) { return __float_as_uint(x); }
};

// FP8 encodes: round to nearest even, saturate to the finite range; NaN keeps its sign and
// takes the format's canonical NaN code, as the host-side Numerics does.
template <> struct Elem<E4M3> {
    static constexpr int bytes = 1;
    static __device__ __forceinline__ float fromBits(uint32_t b) {
        __half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t) b, __NV_E4M3);
        return __half2float(__half(h));
    }
    static __device__ __forceinline__ uint32_t toBits(float x) {
        if (isnan(x)) return (__float_as_uint(x) >> 31 << 7) | 0x7F;
        return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
    }
};
template <> struct Elem<E5M2> {
    static constexpr int bytes = 1;
    static __device__ __forceinline__ float fromBits(uint32_t b) {
        __half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t) b, __NV_E5M2);
        return __half2float(__half(h));
    }
    static __device__ __forceinline__ uint32_t toBits(float x) {
        if (isnan(x)) return (__float_as_uint(x) >> 31 << 7) | 0x7E;
        return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2);
    }
};

template <int DT> __device__ __forceinline__ float loadElem(const void* base, long long i) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(base) + i * Elem<DT>::bytes;
    uint32_t b = Elem<DT>::bytes == 4   ? *reinterpret_cast<const uint32_t*>(p)
                 : Elem<DT>::bytes == 2 ? (uint32_t) *reinterpret_cast<const unsigned short*>(p)
                                        : (uint32_t) *p;
    return Elem<DT>::fromBits(b);
}

// loadElem, except that a NaN keeps its sign and payload: the hardware F16 conversion returns
// the canonical positive NaN, and append stores an input NaN's sign (spec §1). BF16 and F32
// load by bit moves already.
template <int DT> __device__ __forceinline__ float loadElemExact(const void* base, long long i) {
    if (DT == F16) {
        const uint32_t h = reinterpret_cast<const unsigned short*>(base)[i];
        if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0u) {
            return __uint_as_float(((h & 0x8000u) << 16) | 0x7FC00000u | ((h & 0x3FFu) << 13));
        }
    }
    return loadElem<DT>(base, i);
}

template <int DT> __device__ __forceinline__ void storeElem(void* base, long long i, float x) {
    uint8_t* p = reinterpret_cast<uint8_t*>(base) + i * Elem<DT>::bytes;
    uint32_t b = Elem<DT>::toBits(x);
    if (Elem<DT>::bytes == 4) {
        *reinterpret_cast<uint32_t*>(p) = b;
    } else if (Elem<DT>::bytes == 2) {
        *reinterpret_cast<unsigned short*>(p) = (unsigned short) b;
    } else {
        *p = (uint8_t) b;
    }
}

// Element e of a 16-byte vector holding 16 / bytes elements.
template <int DT> __device__ __forceinline__ float vecElem(const uint4& v, int e) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
    if (Elem<DT>::bytes == 4) return Elem<DT>::fromBits(w[e]);
    if (Elem<DT>::bytes == 2) {
        return Elem<DT>::fromBits((w[e >> 1] >> ((e & 1) * 16)) & 0xFFFF);
    }
    return Elem<DT>::fromBits((w[e >> 2] >> ((e & 3) * 8)) & 0xFF);
}

// Element e of an 8-byte vector holding 8 / bytes elements.
template <int DT> __device__ __forceinline__ float vecElem(const uint2& v, int e) {
    const uint32_t w[2] = {v.x, v.y};
    if (Elem<DT>::bytes == 4) return Elem<DT>::fromBits(w[e]);
    if (Elem<DT>::bytes == 2) return Elem<DT>::fromBits((w[e >> 1] >> ((e & 1) * 16)) & 0xFFFF);
    return Elem<DT>::fromBits((w[e >> 2] >> ((e & 3) * 8)) & 0xFF);
}

// cp.async (sm_80 and newer) with memory clobbers: the compiler must not move shared accesses
// across these. bytes: 16, or 0 to zero-fill the 16 bytes without reading.
__device__ __forceinline__ void asyncCopy16(uint32_t smemDst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemDst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void asyncCopy16(void* smemDst, const void* src, bool valid) {
    asyncCopy16((uint32_t) __cvta_generic_to_shared(smemDst), src, valid ? 16 : 0);
}
// Starts bringing the 128-byte line holding src into L2; nothing waits for it.
__device__ __forceinline__ void prefetchL2(const void* src) {
    asm volatile("prefetch.global.L2 [%0];\n" ::"l"(src));
}
__device__ __forceinline__ void asyncCopyCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void asyncCopyWait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// 2^x on the MUFU unit alone (ex2.approx.ftz: 2 ulp; results below 2^-126 flush to 0, and
// 2^-inf is 0). exp2f wraps the same instruction in range fix-ups that cost three more.
__device__ __forceinline__ float fastExp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// The larger of a and b, NaN when either is (max.NaN, sm_80): fmaxf drops a NaN, which would
// hide a NaN logit or state behind the others and make its row look empty (spec §3).
__device__ __forceinline__ float maxNan(float a, float b) {
    float r;
    asm("max.NaN.f32 %0, %1, %2;\n" : "=f"(r) : "f"(a), "f"(b));
    return r;
}

__device__ __forceinline__ float warpMax(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x = maxNan(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warpSum(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// RoPE pair of element d < R (the rotary dim; the whole head unless partial): its partner index and
// whether d is the pair's first element.
__device__ __forceinline__ void ropePair(int d, int R, bool interleaved, int& pairIdx, int& partner, bool& first) {
    if (interleaved) {
        pairIdx = d >> 1;
        first = (d & 1) == 0;
        partner = first ? d + 1 : d - 1;
    } else {
        int half = R >> 1;
        first = d < half;
        pairIdx = first ? d : d - half;
        partner = first ? d + half : d - half;
    }
}

// Angles in double: positions reach 1e5 and more, where a float angle loses the 2e-3 budget.
__device__ __forceinline__ void ropeCosSin(const double* freq, int pairIdx, long long pos, float& c, float& s) {
    double sd, cd;
    sincos((double) pos * freq[pairIdx], &sd, &cd);
    c = (float) cd;
    s = (float) sd;
}

}  // namespace attn4j
