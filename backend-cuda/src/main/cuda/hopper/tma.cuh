// Hopper tensor copies (TMA, sm_90): a descriptor the host encodes (cuTensorMapEncodeTiled) names a
// global tensor and a box; one instruction copies a whole box into shared memory, swizzled as the
// wgmma descriptors read it, and counts its bytes on an mbarrier. One thread issues what 128
// threads' cp.async would (a 64 x 64 box of 16-bit values is 512 cp.async of 16 bytes).
#pragma once
#include <cstdint>

namespace attn4j {

// CUtensorMap's bytes (cuda.h): 128, aligned to 64. Kernels take descriptors as __grid_constant__
// parameters, so the instructions address them where the launch put them.
struct alignas(64) TmaDescriptor {
    unsigned long long opaque[16];
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// Adds bytes to the transaction count the current phase of the mbarrier waits for, without
// arriving: the phase completes once its arrivals are in and that many bytes have landed.
__device__ __forceinline__ void tmaExpectBytes(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Copies the box at coordinates (c0, c1, c2) of a rank-3 descriptor to shared memory at dst, its
// bytes counted on bar when they land.
__device__ __forceinline__ void tmaLoad3d(uint32_t dst, const TmaDescriptor* map, int c0, int c1, int c2,
                                          uint32_t bar) {
    asm volatile(
            "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
            "[%5];\n" ::"r"(dst),
            "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
            : "memory");
}

// Brings a descriptor into the TMA unit's cache ahead of its first use.
__device__ __forceinline__ void tmaPrefetchDescriptor(const TmaDescriptor* map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}
#endif

}  // namespace attn4j
