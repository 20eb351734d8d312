// Hopper prefill on warpgroup MMA (wgmma, sm_90a only; opt-in beside prefill_fa2.cuh): K/V of q's
// 16-bit type, head dim 64 or 128, the same work items and outputs as the FA2 kernel with tiles of
// WG_ROWS query rows. Elsewhere the entry points trap.
//
// - a block is two warpgroups over one (request, query head, 128-row tile); warpgroup w owns rows
//   64w..64w+63, and both read the same K/V tiles, so each K/V byte loaded serves 128 rows;
// - q, K and V live in shared memory in the layout wgmma descriptors read with 128-byte swizzling:
//   64-column slabs of 128-byte rows where 16-byte chunk c of row r sits at chunk c ^ (r & 7);
// - S = Q K^T reads both operands from shared memory (K rows are K-major as stored); O += P V takes
//   P from the registers that held S (an m64 accumulator fragment is, repacked to 16 bits, the A
//   fragment) and V through the descriptor's transpose (V rows are N-major for this product);
// - 128-key tiles arrive by cp.async, every thread copying a share, WG_STAGES deep. V of a tile is
//   used one iteration after its K: P_{t-1} V_{t-1} runs on the tensor cores while the warpgroup
//   does the softmax of S_t, so the copies of K and V are staggered by one tile;
// - page ids are looked up into shared memory ahead of the copies that need them;
// - tiles that no row of a warpgroup can see are skipped by that warpgroup (never loaded when no
//   row of the block sees them); masks are evaluated only on tiles that straddle a boundary.
#pragma once
#include "mma.cuh"

namespace attn4j {

constexpr int WG_ROWS = 128;      // query rows of one head per block
constexpr int WG_THREADS = 256;   // two warpgroups
constexpr int WG_KEYS = 128;      // keys per tile
constexpr int WG_STAGES = 3;      // K tiles (and V tiles) in flight or in use
constexpr int WG_SLOTS = 4;       // tiles of page ids: a tile's K and V copies are a step apart

// Shared memory: page ids [WG_SLOTS][WG_KEYS], up to 1 KB to reach a 1024-byte boundary (the
// swizzle pattern repeats every 1024 bytes and is anchored to the address), q [WG_ROWS][dh], then
// WG_STAGES K tiles and WG_STAGES V tiles of [WG_KEYS][dh]. 232448 bytes (227 KB) for dh 128.
__host__ __device__ constexpr int wgTileBytes(int dh) { return WG_KEYS * dh * 2; }
__host__ __device__ constexpr int wgSharedBytes(int dh) {
    return WG_SLOTS * WG_KEYS * 4 + 1024 + WG_ROWS * dh * 2 + 2 * WG_STAGES * wgTileBytes(dh);
}
static_assert(wgSharedBytes(128) <= 227 * 1024, "sm_90 allows 227 KB of dynamic shared memory");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// Byte offset of 16-byte chunk col of row r in a 128-row operand (see the layout above). Rows are
// 128 bytes, so 8 consecutive rows form one 1024-byte swizzle atom; the XOR also spreads a copy
// warp's stores over all banks.
__device__ __forceinline__ int wgChunk(int r, int col) {
    return (col >> 3) * (128 * 128) + r * 128 + (((col & 7) ^ (r & 7)) << 4);
}

// Shared memory matrix descriptor: start address, leading and stride byte offsets (all >> 4),
// layout 1 = 128-byte swizzle in bits 62-63. Byte offsets from the start add (bytes >> 4).
__device__ __forceinline__ uint64_t wgDesc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t) ((addr & 0x3FFFF) >> 4) | ((uint64_t) (lbo >> 4) << 16) | ((uint64_t) (sbo >> 4) << 32)
           | (1ull << 62);
}

__device__ __forceinline__ void wgCopy16(void* smemDst, const void* src, bool valid) {
    uint32_t dst = (uint32_t) __cvta_generic_to_shared(smemDst);
    int n = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}
__device__ __forceinline__ void wgCopyCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgCopyWait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
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

#define WG_REGS64 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define WG_REGS32 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define WG_ACC64(C) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31]), \
    C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]), \
    C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]), \
    C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), \
    C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])
#define WG_ACC32(C) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31])

// S (=|+=) Q K^T, m64n128k16: A and B from shared memory, both K-major, f32 accumulators.
// ACC 0 overwrites d (scale-d false), so the first k-step needs no zeroed registers.
#define WG_SS128(TY, C, ACC)                                                                       \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                      \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " " WG_REGS64            \
                 ", %64, %65, p, 1, 1, 0, 0;\n}\n"                                                 \
                 : WG_ACC64(C)                                                                     \
                 : "l"(da), "l"(db), "r"(ACC))
template <int MT, bool ACC>
__device__ __forceinline__ void wgmmaS(float (&d)[64], uint64_t da, uint64_t db) {
    if constexpr (MT == BF16) {
        if constexpr (ACC) WG_SS128("bf16", "+f", 1); else WG_SS128("bf16", "=f", 0);
    } else {
        if constexpr (ACC) WG_SS128("f16", "+f", 1); else WG_SS128("f16", "=f", 0);
    }
}
#undef WG_SS128

// O += P V, m64nNk16: A (P) from registers, B (V) from shared memory transposed (N-major).
// N / 2 accumulators come first, then a[0..3] (operands A0..A0+3), the descriptor, scale-d.
#define WG_RS(SHAPE, REGS, ACCS, TY, AREGS, REST)                                                  \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " REST ", 0;\n"                                \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TY "." TY " " REGS ", " AREGS       \
                 ", p, 1, 1, 1;\n}\n"                                                             \
                 : ACCS("+f")                                                                      \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1))
#define WG_RS128(TY) WG_RS("m64n128k16", WG_REGS64, WG_ACC64, TY, "{%64, %65, %66, %67}, %68", "%69")
#define WG_RS64(TY) WG_RS("m64n64k16", WG_REGS32, WG_ACC32, TY, "{%32, %33, %34, %35}, %36", "%37")
template <int MT>
__device__ __forceinline__ void wgmmaPV(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
    if constexpr (MT == BF16) WG_RS128("bf16"); else WG_RS128("f16");
}
template <int MT>
__device__ __forceinline__ void wgmmaPV(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
    if constexpr (MT == BF16) WG_RS64("bf16"); else WG_RS64("f16");
}
#undef WG_RS64
#undef WG_RS128
#undef WG_RS
#undef WG_ACC32
#undef WG_ACC64
#undef WG_REGS32
#undef WG_REGS64

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// Work item ints (the FA2 list built with WG_ROWS): request, first query row, query head, keys
// visited (unused), -1.
template <int MT, int DH>
__device__ __forceinline__ void wgPrefillBody(const AttnParams& p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int VPR = DH / 8;                  // 16-byte chunks per row
    constexpr int ROW_STEP = WG_THREADS / VPR;   // rows one pass of the block copies
    constexpr int KD = DH / 16;                  // k-steps of Q K^T
    constexpr int KS = WG_KEYS / 16;             // k-steps of P V
    constexpr int NS = WG_KEYS / 2;              // S accumulators per thread
    constexpr int NO = DH / 2;                   // O accumulators per thread
    constexpr int TILE = wgTileBytes(DH);
    constexpr int SLAB = 128 * 128;              // bytes of one 64-column slab of a 128-row operand
    static_assert(WG_ROWS == 128 && WG_KEYS == 128, "wgChunk assumes 128-row operands");
    static_assert(ROW_STEP % 8 == 0 && WG_KEYS % ROW_STEP == 0, "copy shape");
    static_assert(WG_STAGES >= 2 && WG_STAGES <= WG_SLOTS - 1, "page slots");
    extern __shared__ __align__(16) uint8_t smemRaw[];
    int* pages = reinterpret_cast<int*>(smemRaw);
    const uint32_t rawAddr = (uint32_t) __cvta_generic_to_shared(smemRaw) + WG_SLOTS * WG_KEYS * 4;
    const uint32_t pad = (1024u - (rawAddr & 1023u)) & 1023u;
    uint8_t* qs = smemRaw + WG_SLOTS * WG_KEYS * 4 + pad;
    uint8_t* kvs = qs + WG_ROWS * DH * 2;        // K stages, then V stages
    const uint32_t qAddr = rawAddr + pad;
    const uint32_t kvAddr = qAddr + WG_ROWS * DH * 2;

    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], rowStart = wk[1], h = wk[2];
    const int kvh = h / p.group;
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart;
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    const int nRows = min(WG_ROWS, qoLen - rowStart);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;

    // Keys any row of the block can see: [kvStart, kvEnd).
    const int pqLo = rowStart + kvLen - qoLen, pqHi = rowStart + nRows - 1 + kvLen - qoLen;
    int kvStart = 0, kvEnd = kvLen;
    if (p.causal) kvEnd = min(kvEnd, pqHi + 1);
    if (p.windowLeft >= 0) kvStart = max(kvStart, pqLo - p.windowLeft);
    const int nTiles = kvEnd > kvStart ? (kvEnd - kvStart + WG_KEYS - 1) / WG_KEYS : 0;

    // This warpgroup's rows and the tiles they can see, [tLo, tHi): a contiguous range.
    const int wgRow0 = 64 * wg;
    int tLo = 0, tHi = 0, pqLoW = 0, pqHiW = 0;
    if (wgRow0 < nRows) {
        pqLoW = pqLo + wgRow0;
        pqHiW = pqLo + min(wgRow0 + 64, nRows) - 1;
        int s = kvStart, e = kvEnd;
        if (p.causal) e = min(e, pqHiW + 1);
        if (p.windowLeft >= 0) s = max(s, pqLoW - p.windowLeft);
        if (e > s) {
            tLo = (s - kvStart) / WG_KEYS;
            tHi = (e - kvStart + WG_KEYS - 1) / WG_KEYS;
        }
    }

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };
    // Page id of each key row of tile t (-1 past the keys); stored when the tile's copies are due.
    auto pageIdOf = [&](int t) {
        const int j = kvStart + t * WG_KEYS + tid;
        return j < kvEnd ? p.kvIndices[pageBase + pageOf(j)] : -1;
    };
    const int myCol = tid % VPR, myRow = tid / VPR;
    // Copies K (V false) or V rows of tile t into stage st; missing rows are zero-filled.
    auto issue = [&](int t, bool isV, int st) {
        const int c0 = kvStart + t * WG_KEYS;
        const int* pg = pages + (t & (WG_SLOTS - 1)) * WG_KEYS;
        uint8_t* dst = kvs + (isV ? WG_STAGES + st : st) * TILE;
        const uint8_t* base = isV ? p.v : p.k;
        const long long headOff = (isV ? p.vOffset : p.kOffset) + (long long) kvh * p.headStride;
#pragma unroll
        for (int k = 0; k < WG_KEYS / ROW_STEP; ++k) {
            const int r = myRow + k * ROW_STEP;
            const int page = pg[r];
            const uint8_t* src = base;
            if (page >= 0) {
                src += (headOff + (long long) page * p.pageStride + (long long) slotOf(c0 + r) * p.slotStride) * 2
                       + myCol * 16;
            }
            wgCopy16(dst + wgChunk(r, myCol), src, page >= 0);
        }
    };

    // Copy groups: G_j holds K_j and V_{j-1} (G_0 also q). The prologue commits G_0..G_{STAGES-2};
    // iteration t commits G_{t+STAGES-1} and needs G_t, so STAGES-2 groups may stay in flight.
    if (nTiles > 0) {
#pragma unroll
        for (int t = 0; t < WG_STAGES; ++t) {
            if (t < nTiles && tid < WG_KEYS) pages[t * WG_KEYS + tid] = pageIdOf(t);
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < WG_ROWS / ROW_STEP; ++k) {
            const int r = myRow + k * ROW_STEP;
            const bool valid = r < nRows;
            const uint8_t* src = reinterpret_cast<const uint8_t*>(p.q);
            if (valid) src += (((long long) (qoStart + rowStart + r) * p.hq + h) * DH) * 2 + myCol * 16;
            wgCopy16(qs + wgChunk(r, myCol), src, valid);
        }
        issue(0, false, 0);
        wgCopyCommit();
#pragma unroll
        for (int g = 1; g <= WG_STAGES - 2; ++g) {
            if (g < nTiles) issue(g, false, g);
            if (g - 1 < nTiles) issue(g - 1, true, g - 1);
            wgCopyCommit();
        }
    }

    // This thread's two rows: accumulator rows lane / 4 and + 8 of its warp's 16 in the warpgroup.
    int rowI[2], rowPq[2];
    bool rowOk[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int rb = wgRow0 + 16 * (warp & 3) + (lane >> 2) + 8 * r;
        rowOk[r] = rb < nRows;
        rowI[r] = rowStart + rb;
        rowPq[r] = rowI[r] + kvLen - qoLen;
    }
    const float LOG2E = 1.4426950408889634f;
    const float scale = p.smScale * p.kScale;  // natural-log units
    const float scaleLog2 = scale * LOG2E;

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) o[i] = 0.f;
    uint32_t pf[KS][4];  // P of the last scored tile, A fragments of its 16-key steps
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) pf[kk][0] = pf[kk][1] = pf[kk][2] = pf[kk][3] = 0u;

    // q of this warpgroup: 64 rows = 8 swizzle atoms at 1024 bytes (stride byte offset); the
    // leading byte offset is unused by swizzled K-major operands. k-step kk moves 32 bytes inside
    // a slab (the hardware swizzles the computed address) or to the next slab.
    const uint64_t qDesc = wgDesc(qAddr + wgRow0 * 128, 16, 1024);

    // Phases of one iteration, each wgmma issue and its waits within one block, so the compiler
    // can follow which accumulators are in flight without correlating branches.
    auto fenceOperands = [&]() {
#pragma unroll
        for (int i = 0; i < NO; ++i) wgKeep(o[i]);
#pragma unroll
        for (int kk = 0; kk < KS; ++kk)
#pragma unroll
            for (int e = 0; e < 4; ++e) wgKeep(pf[kk][e]);
        wgFence();
    };
    auto issueS = [&](float (&s)[NS], int t) {
        const uint64_t kDesc = wgDesc(kvAddr + (t % WG_STAGES) * TILE, 16, 1024);
        wgmmaS<MT, false>(s, qDesc, kDesc);
#pragma unroll
        for (int kk = 1; kk < KD; ++kk) {
            const int off = ((kk >> 2) * SLAB + (kk & 3) * 32) >> 4;
            wgmmaS<MT, true>(s, qDesc + off, kDesc + off);
        }
        wgCommit();
    };
    auto issuePV = [&](int t) {
        // V as N-major B: 8 keys of 128-byte rows per atom (stride byte offset 1024), the next 64
        // columns one slab further (leading byte offset); a k-step is 16 keys, 2048 bytes.
        const uint64_t vDesc = wgDesc(kvAddr + (WG_STAGES + t % WG_STAGES) * TILE, SLAB, 1024);
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) wgmmaPV<MT>(o, pf[kk], vDesc + ((kk * 16 * 128) >> 4));
        wgCommit();
    };
    // Scores of tile t to probabilities (in s), with this tile's rescale factors of O and l.
    auto softmax = [&](float (&s)[NS], int t, float (&alpha)[2]) {
#pragma unroll
        for (int i = 0; i < NS; ++i) wgKeep(s[i]);
        const int c0 = kvStart + t * WG_KEYS;
        // Logits in base 2. Accumulator i: key 8 (i / 4) + 2 (lane % 4) + (i & 1), row (i >> 1) & 1.
        if (p.softCap > 0.f) {
            const float capLog2 = p.softCap * LOG2E, invCap = 1.f / p.softCap;
#pragma unroll
            for (int i = 0; i < NS; ++i) s[i] = capLog2 * tanhf(s[i] * scale * invCap);
        } else {
#pragma unroll
            for (int i = 0; i < NS; ++i) s[i] *= scaleLog2;
        }
        // Masks only where the tile straddles a boundary for this warpgroup's rows.
        const bool needMask = c0 + WG_KEYS > kvEnd || p.mask != nullptr
                              || (p.causal && c0 + WG_KEYS - 1 > pqLoW)
                              || (p.windowLeft >= 0 && c0 < pqHiW - p.windowLeft);
        if (needMask) {
#pragma unroll
            for (int i = 0; i < NS; ++i) {
                const int r = (i >> 1) & 1;
                const int j = c0 + (i >> 2) * 8 + (lane & 3) * 2 + (i & 1);
                bool ok = rowOk[r] && j < kvEnd;
                if (p.causal) ok = ok && j <= rowPq[r];
                if (p.windowLeft >= 0) ok = ok && j >= rowPq[r] - p.windowLeft;
                if (ok && p.mask) {
                    long long bit = p.maskOffsets[b] + (long long) rowI[r] * kvLen + j;
                    ok = (p.mask[bit >> 3] >> (bit & 7)) & 1;
                }
                if (!ok) s[i] = -INFINITY;
            }
        }
        // Online softmax (a row spans the 4 lanes of a quad).
        float mRef[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int i = 0; i < NS; ++i) mRef[(i >> 1) & 1] = fmaxf(mRef[(i >> 1) & 1], s[i]);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mRef[r] = fmaxf(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 1));
            mRef[r] = fmaxf(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 2));
            const float mNew = fmaxf(m[r], mRef[r]);
            mRef[r] = mNew == -INFINITY ? 0.f : mNew;  // a row with no key yet: every p is 0
            alpha[r] = exp2f(m[r] - mRef[r]);
            m[r] = mNew;
            l[r] *= alpha[r];
        }
#pragma unroll
        for (int i = 0; i < NS; ++i) {
            const float pe = exp2f(s[i] - mRef[(i >> 1) & 1]);
            s[i] = pe;
            l[(i >> 1) & 1] += pe;
        }
    };
    // Accumulators of key blocks 2kk, 2kk + 1 form the A fragment of keys 16kk..16kk+15.
    auto pack = [&](const float (&s)[NS]) {
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
#pragma unroll
            for (int e = 0; e < 4; ++e) pf[kk][e] = Mma<MT>::pack(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
        }
    };

    // Iteration t scores tile t and adds tile t - 1 to O (P V trails by one tile so that the
    // softmax of tile t overlaps the tensor cores' P V); iteration nTiles only adds the last.
    for (int t = 0; nTiles > 0 && t <= nTiles; ++t) {
        wgCopyWait<WG_STAGES - 2>();
        wgProxyFence();
        __syncthreads();  // G_t landed for every thread; every wgmma of iteration t - 1 is done

        // Copies into the buffers of K_{t-1} and V_{t-2}, which no wgmma reads any more, run
        // while the tensor cores work; the page ids of tile t + STAGES go to the slot of tile
        // t + STAGES - 4, whose copies were issued in earlier iterations.
        int nextPage = -1;
        const bool look = t + WG_STAGES < nTiles && tid < WG_KEYS;
        auto copies = [&]() {
            if (t + WG_STAGES - 1 < nTiles) issue(t + WG_STAGES - 1, false, (t + WG_STAGES - 1) % WG_STAGES);
            if (t + WG_STAGES - 2 < nTiles) issue(t + WG_STAGES - 2, true, (t + WG_STAGES - 2) % WG_STAGES);
            wgCopyCommit();
            if (look) nextPage = pageIdOf(t + WG_STAGES);  // stored at the end of the iteration
        };

        // Uniform over the warpgroup; read from lane 0 so the compiler sees them warp-uniform.
        const bool steady = __shfl_sync(0xffffffffu, t > tLo && t < tHi, 0);
        const bool first = __shfl_sync(0xffffffffu, t == tLo && t < tHi, 0);
        const bool last = __shfl_sync(0xffffffffu, t == tHi && t > tLo, 0);
        float s[NS], alpha[2];
        if (steady) {
            fenceOperands();
            issueS(s, t);
            issuePV(t - 1);
            copies();
            wgWait<1>();  // S of tile t
            softmax(s, t, alpha);
            wgWait<0>();  // O holds tile t - 1
#pragma unroll
            for (int i = 0; i < NO; ++i) wgKeep(o[i]);
            // Once the running maximum settles, alpha is 1 for the whole warp: skip the rescale.
            if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
                for (int i = 0; i < NO; ++i) o[i] *= alpha[(i >> 1) & 1];
            }
            pack(s);
        } else if (first) {
            fenceOperands();
            issueS(s, t);
            copies();
            wgWait<0>();
            softmax(s, t, alpha);  // O is still 0: nothing to rescale
            pack(s);
        } else if (last) {
            fenceOperands();
            issuePV(t - 1);
            copies();
            wgWait<0>();
#pragma unroll
            for (int i = 0; i < NO; ++i) wgKeep(o[i]);
        } else {
            copies();
        }
        if (look) pages[((t + WG_STAGES) & (WG_SLOTS - 1)) * WG_KEYS + tid] = nextPage;
    }

    // Normalise and write: each thread holds columns 2 (lane % 4), +1 of every 8-column block.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        if (!rowOk[r]) continue;
        const float inv = l[r] > 0.f ? p.vScale / l[r] : 0.f;
        const long long outRow = (long long) (qoStart + rowI[r]) * p.hq + h;
        uint32_t* out = reinterpret_cast<uint32_t*>(reinterpret_cast<uint16_t*>(p.o) + outRow * DH + (lane & 3) * 2);
#pragma unroll
        for (int nb = 0; nb < DH / 8; ++nb) {
            out[nb * 4] = Mma<MT>::pack(o[4 * nb + 2 * r] * inv, o[4 * nb + 2 * r + 1] * inv);
        }
        if (p.lse && (lane & 3) == 0) {
            p.lse[outRow] = l[r] > 0.f ? (m[r] + log2f(l[r])) * 0.6931471805599453f : -INFINITY;
        }
    }
#else
    __trap();  // wgmma exists only on sm_90a; the host selects this kernel there alone
#endif
}

// ---------------------------------------------------------------------------------------------
// Warp-specialised variant (entry points wgpp_*): the same work items, math and outputs as
// wgPrefillBody, scheduled so that the tensor cores are not left idle during the softmax.
//
// - three warpgroups: warpgroup 0 only copies (page ids and cp.async of K/V tiles), warpgroups 1
//   and 2 only compute, each over 64 of the block's 128 rows; the copier gives up registers with
//   setmaxnreg so that the two consumers can hold S, P and O without spilling;
// - no block-wide barrier in the loop: each K and V stage has a "full" mbarrier (128 copier
//   arrivals, raised by cp.async.mbarrier.arrive when a copier's copies have landed) and an
//   "empty" mbarrier (one arrival per consumer warp once its wgmma no longer reads the stage);
// - the consumers take turns issuing their wgmma (two named barriers, bar.sync / bar.arrive): the
//   tensor cores run one warpgroup's Q K^T and P V while the other does its softmax;
// - a consumer still waits for and releases the tiles it skips (the stage's empty count needs
//   both warpgroups, and waiting first keeps its arrival in the right phase).
constexpr int WGPP_ROWS = 128;     // query rows of one head per block
constexpr int WGPP_THREADS = 384;  // copier warpgroup + two consumer warpgroups
constexpr int WGPP_STAGES = 3;     // K tiles (and V tiles) in flight or in use
constexpr int WGPP_HEAD = 2048;    // page ids [2][WG_KEYS] ints, then 4 * WGPP_STAGES mbarriers

// Shared memory: the head (page ids, mbarriers), up to 1 KB to reach a 1024-byte boundary, q
// [WGPP_ROWS][dh], WGPP_STAGES K tiles, WGPP_STAGES V tiles of [WG_KEYS][dh]. 227 KB for dh 128.
__host__ __device__ constexpr int wgppSharedBytes(int dh) {
    return WGPP_HEAD + 1024 + WGPP_ROWS * dh * 2 + 2 * WGPP_STAGES * wgTileBytes(dh);
}
static_assert(wgppSharedBytes(128) <= 227 * 1024, "sm_90 allows 227 KB of dynamic shared memory");
static_assert(2 * WG_KEYS * 4 + 4 * WGPP_STAGES * 8 <= WGPP_HEAD, "head of shared memory");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void ppBarInit(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void ppBarArrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
// Arrives once every cp.async this thread issued so far has landed; noinc: the barrier's count
// already includes this arrival.
__device__ __forceinline__ void ppBarArriveCopies(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase of the given parity has completed (acquire).
__device__ __forceinline__ void ppBarWait(uint32_t bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
    } while (!done);
}
__device__ __forceinline__ void ppNamedSync(int id, int count) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void ppNamedArrive(int id, int count) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

template <int MT, int DH>
__device__ __forceinline__ void wgppPrefillBody(const AttnParams& p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int VPR = DH / 8;                  // 16-byte chunks per row
    constexpr int ROW_STEP = 128 / VPR;          // rows one pass of a warpgroup copies
    constexpr int KD = DH / 16;                  // k-steps of Q K^T
    constexpr int KS = WG_KEYS / 16;             // k-steps of P V
    constexpr int NS = WG_KEYS / 2;              // S accumulators per thread
    constexpr int NO = DH / 2;                   // O accumulators per thread
    constexpr int TILE = wgTileBytes(DH);
    constexpr int SLAB = 128 * 128;              // bytes of one 64-column slab of a 128-row operand
    constexpr int ST = WGPP_STAGES;
    static_assert(WGPP_ROWS == 128 && WG_KEYS == 128, "wgChunk assumes 128-row operands");
    static_assert(ROW_STEP % 8 == 0 && WG_KEYS % ROW_STEP == 0 && 64 % ROW_STEP == 0, "copy shape");
    // Named barriers (0 is __syncthreads): 1, 2 q of consumer 0, 1; 3, 4 the turn of consumer
    // 0, 1; 5 the copier's page ids.
    constexpr int NB_Q = 1, NB_TURN = 3, NB_PAGES = 5;
    extern __shared__ __align__(16) uint8_t smemRaw[];
    int* pages = reinterpret_cast<int*>(smemRaw);
    const uint32_t smemAddr = (uint32_t) __cvta_generic_to_shared(smemRaw);
    const uint32_t barAddr = smemAddr + 2 * WG_KEYS * 4;  // kFull, vFull, kEmpty, vEmpty [ST] each
    auto kFull = [&](int s) { return barAddr + 8 * s; };
    auto vFull = [&](int s) { return barAddr + 8 * (ST + s); };
    auto kEmpty = [&](int s) { return barAddr + 8 * (2 * ST + s); };
    auto vEmpty = [&](int s) { return barAddr + 8 * (3 * ST + s); };
    const uint32_t rawAddr = smemAddr + WGPP_HEAD;
    const uint32_t pad = (1024u - (rawAddr & 1023u)) & 1023u;
    uint8_t* qs = smemRaw + WGPP_HEAD + pad;
    uint8_t* kvs = qs + WGPP_ROWS * DH * 2;      // K stages, then V stages
    const uint32_t qAddr = rawAddr + pad;
    const uint32_t kvAddr = qAddr + WGPP_ROWS * DH * 2;

    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], rowStart = wk[1], h = wk[2];
    const int kvh = h / p.group;
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart;
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    const int nRows = min(WGPP_ROWS, qoLen - rowStart);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;

    // Keys any row of the block can see: [kvStart, kvEnd).
    const int pqLo = rowStart + kvLen - qoLen, pqHi = rowStart + nRows - 1 + kvLen - qoLen;
    int kvStart = 0, kvEnd = kvLen;
    if (p.causal) kvEnd = min(kvEnd, pqHi + 1);
    if (p.windowLeft >= 0) kvStart = max(kvStart, pqLo - p.windowLeft);
    const int nTiles = kvEnd > kvStart ? (kvEnd - kvStart + WG_KEYS - 1) / WG_KEYS : 0;

    if (tid == 0) {
        for (int s = 0; s < ST; ++s) {
            ppBarInit(kFull(s), 128);
            ppBarInit(vFull(s), 128);
            ppBarInit(kEmpty(s), 8);  // one arrival per consumer warp
            ppBarInit(vEmpty(s), 8);
        }
    }
    __syncthreads();  // the only block-wide barrier: the mbarriers are initialised

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };

    if (wg == 0) {
        // ---- copier: page ids of tile t into slot t & 1, then K_t and V_t into stage t % ST.
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
        auto pageIdOf = [&](int t) {
            const int j = kvStart + t * WG_KEYS + tid;
            return j < kvEnd ? p.kvIndices[pageBase + pageOf(j)] : -1;
        };
        const int myCol = tid % VPR, myRow = tid / VPR;
        auto issue = [&](int t, bool isV, int st) {
            const int c0 = kvStart + t * WG_KEYS;
            const int* pg = pages + (t & 1) * WG_KEYS;
            uint8_t* dst = kvs + (isV ? ST + st : st) * TILE;
            const uint8_t* base = isV ? p.v : p.k;
            const long long headOff = (isV ? p.vOffset : p.kOffset) + (long long) kvh * p.headStride;
#pragma unroll
            for (int k = 0; k < WG_KEYS / ROW_STEP; ++k) {
                const int r = myRow + k * ROW_STEP;
                const int page = pg[r];
                const uint8_t* src = base;
                if (page >= 0) {
                    src += (headOff + (long long) page * p.pageStride + (long long) slotOf(c0 + r) * p.slotStride) * 2
                           + myCol * 16;
                }
                wgCopy16(dst + wgChunk(r, myCol), src, page >= 0);
            }
            wgCopyCommit();
        };
        int nextPage = nTiles > 0 ? pageIdOf(0) : -1;
        for (int t = 0; t < nTiles; ++t) {
            // Slot t & 1 was last read by the copies of tile t - 2, issued before the previous
            // page barrier that every copier passed.
            pages[(t & 1) * WG_KEYS + tid] = nextPage;
            ppNamedSync(NB_PAGES, 128);
            if (t + 1 < nTiles) nextPage = pageIdOf(t + 1);  // in flight during the copies
            const int st = t % ST;
            const uint32_t freed = ((t / ST) + 1) & 1;     // phase of tile t - ST's release
            if (t >= ST) ppBarWait(kEmpty(st), freed);
            issue(t, false, st);
            ppBarArriveCopies(kFull(st));
            if (t >= ST) ppBarWait(vEmpty(st), freed);
            issue(t, true, st);
            ppBarArriveCopies(vFull(st));
        }
        wgCopyWait<0>();  // leave nothing in flight behind an exiting thread
        return;
    }

    // ---- consumers.
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int cw = wg - 1;                     // consumer 0 or 1
    const int ctid = tid - 128 * wg;           // thread within the warpgroup
    const int wgRow0 = 64 * cw;
    int tLo = 0, tHi = 0, pqLoW = 0, pqHiW = 0;
    if (wgRow0 < nRows) {
        pqLoW = pqLo + wgRow0;
        pqHiW = pqLo + min(wgRow0 + 64, nRows) - 1;
        int s = kvStart, e = kvEnd;
        if (p.causal) e = min(e, pqHiW + 1);
        if (p.windowLeft >= 0) s = max(s, pqLoW - p.windowLeft);
        if (e > s) {
            tLo = (s - kvStart) / WG_KEYS;
            tHi = (e - kvStart + WG_KEYS - 1) / WG_KEYS;
        }
    }

    // q of this warpgroup's 64 rows, copied by the warpgroup itself; fenced by each writer for
    // the async proxy before the warpgroup's barrier.
    if (nTiles > 0) {
        const int myCol = ctid % VPR, myRow = ctid / VPR;
#pragma unroll
        for (int k = 0; k < 64 / ROW_STEP; ++k) {
            const int r = wgRow0 + myRow + k * ROW_STEP;
            const bool valid = r < nRows;
            const uint8_t* src = reinterpret_cast<const uint8_t*>(p.q);
            if (valid) src += (((long long) (qoStart + rowStart + r) * p.hq + h) * DH) * 2 + myCol * 16;
            wgCopy16(qs + wgChunk(r, myCol), src, valid);
        }
        wgCopyCommit();
        wgCopyWait<0>();
        wgProxyFence();
        ppNamedSync(NB_Q + cw, 128);
    }

    int rowI[2], rowPq[2];
    bool rowOk[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int rb = wgRow0 + 16 * (warp & 3) + (lane >> 2) + 8 * r;
        rowOk[r] = rb < nRows;
        rowI[r] = rowStart + rb;
        rowPq[r] = rowI[r] + kvLen - qoLen;
    }
    const float LOG2E = 1.4426950408889634f;
    const float scale = p.smScale * p.kScale;  // natural-log units
    const float scaleLog2 = scale * LOG2E;

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) o[i] = 0.f;
    uint32_t pf[KS][4];  // P of the last scored tile, A fragments of its 16-key steps
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) pf[kk][0] = pf[kk][1] = pf[kk][2] = pf[kk][3] = 0u;

    const uint64_t qDesc = wgDesc(qAddr + wgRow0 * 128, 16, 1024);

    auto fenceOperands = [&]() {
#pragma unroll
        for (int i = 0; i < NO; ++i) wgKeep(o[i]);
#pragma unroll
        for (int kk = 0; kk < KS; ++kk)
#pragma unroll
            for (int e = 0; e < 4; ++e) wgKeep(pf[kk][e]);
        wgFence();
    };
    auto issueS = [&](float (&s)[NS], int t) {
        const uint64_t kDesc = wgDesc(kvAddr + (t % ST) * TILE, 16, 1024);
        wgmmaS<MT, false>(s, qDesc, kDesc);
#pragma unroll
        for (int kk = 1; kk < KD; ++kk) {
            const int off = ((kk >> 2) * SLAB + (kk & 3) * 32) >> 4;
            wgmmaS<MT, true>(s, qDesc + off, kDesc + off);
        }
        wgCommit();
    };
    auto issuePV = [&](int t) {
        const uint64_t vDesc = wgDesc(kvAddr + (ST + t % ST) * TILE, SLAB, 1024);
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) wgmmaPV<MT>(o, pf[kk], vDesc + ((kk * 16 * 128) >> 4));
        wgCommit();
    };
    auto softmax = [&](float (&s)[NS], int t, float (&alpha)[2]) {
#pragma unroll
        for (int i = 0; i < NS; ++i) wgKeep(s[i]);
        const int c0 = kvStart + t * WG_KEYS;
        if (p.softCap > 0.f) {
            const float capLog2 = p.softCap * LOG2E, invCap = 1.f / p.softCap;
#pragma unroll
            for (int i = 0; i < NS; ++i) s[i] = capLog2 * tanhf(s[i] * scale * invCap);
        } else {
#pragma unroll
            for (int i = 0; i < NS; ++i) s[i] *= scaleLog2;
        }
        const bool needMask = c0 + WG_KEYS > kvEnd || p.mask != nullptr
                              || (p.causal && c0 + WG_KEYS - 1 > pqLoW)
                              || (p.windowLeft >= 0 && c0 < pqHiW - p.windowLeft);
        if (needMask) {
#pragma unroll
            for (int i = 0; i < NS; ++i) {
                const int r = (i >> 1) & 1;
                const int j = c0 + (i >> 2) * 8 + (lane & 3) * 2 + (i & 1);
                bool ok = rowOk[r] && j < kvEnd;
                if (p.causal) ok = ok && j <= rowPq[r];
                if (p.windowLeft >= 0) ok = ok && j >= rowPq[r] - p.windowLeft;
                if (ok && p.mask) {
                    long long bit = p.maskOffsets[b] + (long long) rowI[r] * kvLen + j;
                    ok = (p.mask[bit >> 3] >> (bit & 7)) & 1;
                }
                if (!ok) s[i] = -INFINITY;
            }
        }
        float mRef[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int i = 0; i < NS; ++i) mRef[(i >> 1) & 1] = fmaxf(mRef[(i >> 1) & 1], s[i]);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mRef[r] = fmaxf(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 1));
            mRef[r] = fmaxf(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 2));
            const float mNew = fmaxf(m[r], mRef[r]);
            mRef[r] = mNew == -INFINITY ? 0.f : mNew;
            alpha[r] = exp2f(m[r] - mRef[r]);
            m[r] = mNew;
            l[r] *= alpha[r];
        }
#pragma unroll
        for (int i = 0; i < NS; ++i) {
            const float pe = exp2f(s[i] - mRef[(i >> 1) & 1]);
            s[i] = pe;
            l[(i >> 1) & 1] += pe;
        }
    };
    auto pack = [&](const float (&s)[NS]) {
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
#pragma unroll
            for (int e = 0; e < 4; ++e) pf[kk][e] = Mma<MT>::pack(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
        }
    };
    // Turns: consumer 0 issues first in every iteration, consumer 1 after it, then consumer 0 of
    // the next iteration. Both run iterations 0..nTiles, so the arrivals pair up exactly: consumer
    // 1 waits nTiles + 1 times for consumer 0's nTiles + 1 arrivals, consumer 0 waits from
    // iteration 1 on for consumer 1's arrivals of iterations 0..nTiles - 1.
    auto takeTurn = [&](int t) {
        if (cw == 1 || t > 0) ppNamedSync(NB_TURN + cw, 256);
    };
    auto passTurn = [&](int t) {
        if (cw == 0 || t < nTiles) ppNamedArrive(NB_TURN + 1 - cw, 256);
    };
    // The consumer warp's release of a stage: its wgmma reading it have completed.
    auto release = [&](uint32_t bar) {
        if (lane == 0) ppBarArrive(bar);
    };

    // Iteration t scores tile t and adds tile t - 1 to O; iteration nTiles only adds the last.
    for (int t = 0; nTiles > 0 && t <= nTiles; ++t) {
        if (t < nTiles) ppBarWait(kFull(t % ST), (t / ST) & 1);
        if (t > 0) ppBarWait(vFull((t - 1) % ST), ((t - 1) / ST) & 1);
        // The copier's cp.async wrote through the generic proxy; the barrier wait made those
        // writes visible to this thread, the fence orders them before its wgmma's reads.
        wgProxyFence();

        const bool steady = __shfl_sync(0xffffffffu, t > tLo && t < tHi, 0);
        const bool first = __shfl_sync(0xffffffffu, t == tLo && t < tHi, 0);
        const bool last = __shfl_sync(0xffffffffu, t == tHi && t > tLo, 0);
        float s[NS], alpha[2];
        takeTurn(t);
        if (steady) {
            fenceOperands();
            issueS(s, t);
            issuePV(t - 1);
            passTurn(t);
            wgWait<1>();  // S of tile t
            release(kEmpty(t % ST));
            softmax(s, t, alpha);
            wgWait<0>();  // O holds tile t - 1
            release(vEmpty((t - 1) % ST));
#pragma unroll
            for (int i = 0; i < NO; ++i) wgKeep(o[i]);
            if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
                for (int i = 0; i < NO; ++i) o[i] *= alpha[(i >> 1) & 1];
            }
            pack(s);
        } else if (first) {
            fenceOperands();
            issueS(s, t);
            passTurn(t);
            wgWait<0>();
            release(kEmpty(t % ST));
            if (t > 0) release(vEmpty((t - 1) % ST));  // V_{t-1} is not this warpgroup's
            softmax(s, t, alpha);  // O is still 0: nothing to rescale
            pack(s);
        } else if (last) {
            fenceOperands();
            issuePV(t - 1);
            passTurn(t);
            wgWait<0>();
            if (t < nTiles) release(kEmpty(t % ST));  // K_t is not this warpgroup's
            release(vEmpty((t - 1) % ST));
#pragma unroll
            for (int i = 0; i < NO; ++i) wgKeep(o[i]);
        } else {
            passTurn(t);
            if (t < nTiles) release(kEmpty(t % ST));
            if (t > 0) release(vEmpty((t - 1) % ST));
        }
    }

#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        if (!rowOk[r]) continue;
        const float inv = l[r] > 0.f ? p.vScale / l[r] : 0.f;
        const long long outRow = (long long) (qoStart + rowI[r]) * p.hq + h;
        uint32_t* out = reinterpret_cast<uint32_t*>(reinterpret_cast<uint16_t*>(p.o) + outRow * DH + (lane & 3) * 2);
#pragma unroll
        for (int nb = 0; nb < DH / 8; ++nb) {
            out[nb * 4] = Mma<MT>::pack(o[4 * nb + 2 * r] * inv, o[4 * nb + 2 * r + 1] * inv);
        }
        if (p.lse && (lane & 3) == 0) {
            p.lse[outRow] = l[r] > 0.f ? (m[r] + log2f(l[r])) * 0.6931471805599453f : -INFINITY;
        }
    }
#else
    __trap();  // wgmma exists only on sm_90a; the host selects this kernel there alone
#endif
}


}  // namespace attn4j
