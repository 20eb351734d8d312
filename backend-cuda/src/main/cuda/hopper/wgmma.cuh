// Hopper warpgroup MMA primitives (wgmma, descriptors, fences, barriers; sm_90a only). Included by
// hopper/prefill_wgmma.cuh and hopper/mla_wgmma.cuh.
#pragma once
#include "../primitives/common.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
namespace attn4j {

// Byte offset of 16-byte chunk col of row r in an operand of ROWS rows (see the layout above):
// 64-column slabs of ROWS * 128 bytes. Rows are 128 bytes, so 8 consecutive rows form one
// 1024-byte swizzle atom; the XOR also spreads a copy warp's stores over all banks.
template <int ROWS = 128>
__device__ __forceinline__ int wgChunk(int r, int col) {
    return (col >> 3) * (ROWS * 128) + r * 128 + (((col & 7) ^ (r & 7)) << 4);
}

// Shared memory matrix descriptors: start address and leading byte offset (both >> 4) in the low
// word, stride byte offset (>> 4) and the layout (1 = 128-byte swizzle, bits 62-63) in the high
// word. Every operand here has stride byte offset 1024 and the swizzle, so the high word is one
// constant the wgmma asm supplies (WG_DESC_HI) and offsets are 32-bit adds to the low word (no
// carry into a register pair in front of each wgmma). Byte offsets from the start add (bytes >> 4).
#define WG_DESC_HI "0x40000040"
__device__ __forceinline__ uint32_t wgDescLo(uint32_t addr, uint32_t lbo) {
    return ((addr & 0x3FFFF) >> 4) | ((lbo >> 4) << 16);
}

// cp.async writes through the generic proxy, wgmma reads through the async proxy: each thread
// fences its own landed copies before the barrier that hands them to the warpgroups.
__device__ __forceinline__ void wgProxyFence() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void wgFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgWait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pins a register at this point of the program: wgmma writes its accumulators asynchronously,
// so reads must not be hoisted above the wait, nor writes sunk below the fence, by the compiler.
__device__ __forceinline__ void wgKeep(float& x) { asm volatile("" : "+f"(x)); }
__device__ __forceinline__ void wgKeep(uint32_t& x) { asm volatile("" : "+r"(x)); }
// Pins accumulators after the wait for the wgmma that wrote them.
template <int NO> __device__ __forceinline__ void wgKeepAll(float (&o)[NO]) {
#pragma unroll
    for (int i = 0; i < NO; ++i) wgKeep(o[i]);
}

// Accumulator operand lists of N / 2 registers (N = 64, 80, 96, 128): each list extends the last.
#define WG_R32 \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define WG_R40 WG_R32 ", %32, %33, %34, %35, %36, %37, %38, %39"
#define WG_R48 WG_R40 ", %40, %41, %42, %43, %44, %45, %46, %47"
#define WG_R64 WG_R48 ", %48, %49, %50, %51, %52, %53, %54, %55, " \
    "%56, %57, %58, %59, %60, %61, %62, %63"
#define WG_REGS32 "{" WG_R32 "}"
#define WG_REGS40 "{" WG_R40 "}"
#define WG_REGS48 "{" WG_R48 "}"
#define WG_REGS64 "{" WG_R64 "}"
#define WG_ACC32(C) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31])
#define WG_ACC40(C) WG_ACC32(C), C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39])
#define WG_ACC48(C) WG_ACC40(C), C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47])
#define WG_ACC64(C) WG_ACC48(C), C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), \
    C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])

// S (=|+=) Q K^T, m64nNk16 (N = 128 or 64 keys): A and B from shared memory, both K-major, f32
// accumulators. ACC 0 overwrites d (scale-d false), so the first k-step needs no zeroed
// registers. N / 2 accumulators come first, then the two descriptors' low words and ACC.
#define WG_SS(SHAPE, REGS, ACCS, TY, C, ACC, DA, DB, PRED)                                         \
    asm volatile("{\n.reg .pred p;\n.reg .b32 h;\n.reg .b64 da, db;\nsetp.ne.b32 p, " PRED ", 0;\n" \
                 "mov.b32 h, " WG_DESC_HI ";\nmov.b64 da, {" DA ", h};\nmov.b64 db, {" DB ", h};\n"  \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TY "." TY " " REGS                \
                 ", da, db, p, 1, 1, 0, 0;\n}\n"                                                   \
                 : ACCS(C)                                                                         \
                 : "r"(da), "r"(db), "r"(ACC))
#define WG_SS128(TY, C, ACC) WG_SS("m64n128k16", WG_REGS64, WG_ACC64, TY, C, ACC, "%64", "%65", "%66")
#define WG_SS64(TY, C, ACC) WG_SS("m64n64k16", WG_REGS32, WG_ACC32, TY, C, ACC, "%32", "%33", "%34")
// N: accumulators per thread, 64 (128 keys) or 32 (64 keys).
template <int MT, bool ACC, int N>
__device__ __forceinline__ void wgmmaS(float (&d)[N], uint32_t da, uint32_t db) {
#define WG_SS_N(TY, C, A)                          \
    if constexpr (N == 64) WG_SS128(TY, C, A);     \
    else WG_SS64(TY, C, A)
    if constexpr (MT == BF16) {
        if constexpr (ACC) { WG_SS_N("bf16", "+f", 1); } else { WG_SS_N("bf16", "=f", 0); }
    } else {
        if constexpr (ACC) { WG_SS_N("f16", "+f", 1); } else { WG_SS_N("f16", "=f", 0); }
    }
#undef WG_SS_N
}
#undef WG_SS128
#undef WG_SS64
#undef WG_SS

// O += P V, m64nNk16: A (P) from registers, B (V) from shared memory transposed (N-major).
// N / 2 accumulators come first, then a[0..3] (operands A0..A0+3), the descriptor, scale-d.
#define WG_RS(SHAPE, REGS, ACCS, TY, AREGS, DESC, REST)                                            \
    asm volatile("{\n.reg .pred p;\n.reg .b32 h;\n.reg .b64 db;\nsetp.ne.b32 p, " REST ", 0;\n"   \
                 "mov.b32 h, " WG_DESC_HI ";\nmov.b64 db, {" DESC ", h};\n"                   \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TY "." TY " " REGS ", " AREGS       \
                 ", db, p, 1, 1, 1;\n}\n"                                                         \
                 : ACCS("+f")                                                                      \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(db), "r"(1))
#define WG_RS128(TY) WG_RS("m64n128k16", WG_REGS64, WG_ACC64, TY, "{%64, %65, %66, %67}", "%68", "%69")
#define WG_RS64(TY) WG_RS("m64n64k16", WG_REGS32, WG_ACC32, TY, "{%32, %33, %34, %35}", "%36", "%37")
#define WG_RS80(TY) WG_RS("m64n80k16", WG_REGS40, WG_ACC40, TY, "{%40, %41, %42, %43}", "%44", "%45")
#define WG_RS96(TY) WG_RS("m64n96k16", WG_REGS48, WG_ACC48, TY, "{%48, %49, %50, %51}", "%52", "%53")
// N = 2 NO output columns: 128 or 64, or 80 and 96 for head dims 80 and 96 in the layout of 128.
template <int MT, int NO>
__device__ __forceinline__ void wgmmaPV(float (&d)[NO], const uint32_t (&a)[4], uint32_t db) {
    static_assert(NO == 64 || NO == 48 || NO == 40 || NO == 32, "wgmma N of P V");
    if constexpr (NO == 64) {
        if constexpr (MT == BF16) WG_RS128("bf16"); else WG_RS128("f16");
    } else if constexpr (NO == 48) {
        if constexpr (MT == BF16) WG_RS96("bf16"); else WG_RS96("f16");
    } else if constexpr (NO == 40) {
        if constexpr (MT == BF16) WG_RS80("bf16"); else WG_RS80("f16");
    } else {
        if constexpr (MT == BF16) WG_RS64("bf16"); else WG_RS64("f16");
    }
}
// O += P V, m64n128k16 with both operands in shared memory: A (P, K-major) and B (V, N-major,
// transposed as in wgmmaPV). For a warpgroup that did not compute P itself (hopper/mla_wgmma.cuh).
#define WG_SST(TY)                                                                                     \
    asm volatile("{\n.reg .pred p;\n.reg .b32 h;\n.reg .b64 da, db;\nsetp.ne.b32 p, %66, 0;\n"          \
                 "mov.b32 h, " WG_DESC_HI ";\nmov.b64 da, {%64, h};\nmov.b64 db, {%65, h};\n"            \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " " WG_REGS64                  \
                 ", da, db, p, 1, 1, 0, 1;\n}\n"                                                         \
                 : WG_ACC64("+f")                                                                      \
                 : "r"(da), "r"(db), "r"(1))
template <int MT>
__device__ __forceinline__ void wgmmaPVShared(float (&d)[64], uint32_t da, uint32_t db) {
    if constexpr (MT == BF16) WG_SST("bf16"); else WG_SST("f16");
}
#undef WG_SST
#undef WG_RS64
#undef WG_RS80
#undef WG_RS96
#undef WG_RS128
#undef WG_RS
#undef WG_ACC32
#undef WG_ACC40
#undef WG_ACC48
#undef WG_ACC64
#undef WG_REGS32
#undef WG_REGS40
#undef WG_REGS48
#undef WG_REGS64
#undef WG_R32
#undef WG_R40
#undef WG_R48
#undef WG_R64

// Pins O and P before wgmma.fence, so that the compiler keeps their last writes ahead of the
// wgmma that read them asynchronously.
template <int NO, int KS>
__device__ __forceinline__ void wgFenceOperands(float (&o)[NO], uint32_t (&pf)[KS][4]) {
#pragma unroll
    for (int i = 0; i < NO; ++i) wgKeep(o[i]);
#pragma unroll
    for (int kk = 0; kk < KS; ++kk)
#pragma unroll
        for (int e = 0; e < 4; ++e) wgKeep(pf[kk][e]);
    wgFence();
}
// Pins P after the wait for the wgmma that read it: until then its registers must keep their
// values, so the compiler may not reuse them.
template <int KS>
__device__ __forceinline__ void wgKeepFragments(uint32_t (&pf)[KS][4]) {
#pragma unroll
    for (int kk = 0; kk < KS; ++kk)
#pragma unroll
        for (int e = 0; e < 4; ++e) wgKeep(pf[kk][e]);
}

// mbarriers and named barriers of the warp-specialised kernels.
__device__ __forceinline__ void wgBarInit(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void wgBarArrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
// Arrives once every cp.async this thread issued so far has landed; noinc: the barrier's count
// already includes this arrival.
__device__ __forceinline__ void wgBarArriveCopies(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase of the given parity has completed (acquire).
__device__ __forceinline__ void wgBarWait(uint32_t bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
    } while (!done);
}
__device__ __forceinline__ void wgNamedSync(int id, int count) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void wgNamedArrive(int id, int count) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}

}  // namespace attn4j
#endif  // __CUDA_ARCH_FEAT_SM90_ALL
