// Hopper prefill on warpgroup MMA (wgmma, sm_90a only; the default there, attention/prefill_fa2.cuh elsewhere): K/V
// of q's 16-bit type at any head dim that is a multiple of 8 up to 256, or FP8 K/V at head dims
// up to 128, the same work items and outputs as the FA2 kernel with tiles of wgRows query rows.
// Elsewhere the entry points trap.
//
// - a head dim DR below the layout's DH (64, 128 or 256; DR fixed at build time, as 80 and 96 in
//   the 128 layout and 192 in the 256 one, or the problem's at run time) runs the DH kernel on rows
//   whose columns past DR are zero: the copies zero-fill those 16-byte chunks instead of reading,
//   so q K^T is unchanged, P V gives zero columns past DR, and only DR columns are written. The
//   memory traffic is that of DR; a kernel built for DR also skips the padding's tensor work
//   (wgKSteps, wgPvCols), one that reads it at run time does DH / DR times the work;
// - FP8 K/V is dequantised on its way into the tiles: the copier brings each tile's FP8 rows into
//   a staging buffer with cp.async (two tiles deep, so the next tile's bytes are in flight), then
//   each copier thread converts exactly the 16-byte chunks it copied (no barrier between
//   copiers) into the swizzled 16-bit tile, fences them for the async proxy and arrives on the
//   tile's "full" mbarrier. The consumers are the 16-bit kernel's; K/V bytes read are halved;
// - a block is a copier warpgroup and two consumer warpgroups (three at head dim 64, wgConsumers)
//   over one (request, query head, tile of 64 rows per consumer): warpgroup 0 only copies (row
//   offsets and cp.async of K/V tiles); the consumers only compute, each over its 64 rows, and all
//   read the same K/V tiles, so each K/V byte loaded serves 128 (192) rows. The copier gives up
//   registers with setmaxnreg so that the consumers can hold S, P and O;
// - q, K and V live in shared memory in the layout wgmma descriptors read with 128-byte swizzling:
//   64-column slabs of 128-byte rows where 16-byte chunk c of row r sits at chunk c ^ (r & 7);
// - S = Q K^T reads both operands from shared memory (K rows are K-major as stored); O += P V takes
//   P from the registers that held S (an m64 accumulator fragment is, repacked to 16 bits, the A
//   fragment) and V through the descriptor's transpose (V rows are N-major for this product);
// - tiles of 128 keys (64 at head dim 256) are 3 (2) stages deep. V of a tile is used one
//   iteration after its K: with two consumers P_{t-1} V_{t-1} runs on the tensor cores while the
//   warpgroup does the softmax of S_t;
// - no block-wide barrier in the loop: each K and V stage has a "full" mbarrier (128 copier
//   arrivals, raised by cp.async.mbarrier.arrive when a copier's copies have landed) and an
//   "empty" mbarrier (one arrival per consumer warp once its wgmma no longer reads the stage);
// - the consumers issue their wgmma as they are ready, each waiting only on its own products and
//   on the stages' mbarriers: the tensor cores run one warpgroup's Q K^T and P V while another
//   does its softmax. (Taking turns, a named barrier per consumer, cost 1-4% with two consumers
//   and half the gain of the third; docs/performance.md);
// - key rows' offsets (page lookups done) go to shared memory ahead of the copies that need them;
// - tiles that no row of a warpgroup can see are skipped by that warpgroup (never loaded when no
//   row of the block sees them), though it still waits for and releases them (a stage's empty
//   count needs both warpgroups, and waiting first keeps its arrival in the right phase); masks
//   are evaluated only on tiles that straddle a boundary.
#pragma once
#include "../attention/query_tiles.cuh"
#include "../attention/variant.cuh"
#include "wgmma.cuh"
namespace attn4j {

constexpr int WG_HEAD = 2048;    // row offsets [2][keys], then 4 * stages mbarriers
constexpr int WG_NB_OFFSETS = 4;  // the copier's named barrier (1..3: the consumers' q)

// Consumer warpgroups of a block, 64 query rows each. Three at head dim 64 with K/V of q's type:
// there a tile's products take half the tensor time of head dim 128 for the same softmax, so two
// consumers alternating leave the tensor cores idle while both are in their softmax; a third
// keeps them fed. Its registers fit: O is 32 a thread, and 4 warpgroups leave 160 a consumer.
__host__ __device__ constexpr int wgConsumers(int dh, int kvBytes = 2) { return dh == 64 && kvBytes == 2 ? 3 : 2; }
// Query rows of one head per block, and threads: the copier warpgroup and the consumers.
__host__ __device__ constexpr int wgRows(int dh, int kvBytes = 2) { return 64 * wgConsumers(dh, kvBytes); }
__host__ __device__ constexpr int wgThreads(int dh, int kvBytes = 2) { return 128 * (wgConsumers(dh, kvBytes) + 1); }

// Keys per tile and tiles in flight: head dim 256 halves the tile (its q alone is 64 KB, and O
// takes 128 registers a thread) and keeps 2 stages.
__host__ __device__ constexpr int wgKeys(int dh) { return dh > 128 ? 64 : 128; }
// FP8 K/V at head dim 128 keeps 2 stages: its staging buffers take the third one's room.
__host__ __device__ constexpr int wgStages(int dh, int kvBytes = 2) { return dh > 128 || (kvBytes == 1 && dh > 64) ? 2 : 3; }
// FP8 staging: two tiles of K and of V rows, dh bytes each.
__host__ __device__ constexpr int wgStagingBytes(int dh, int kvBytes) { return kvBytes == 1 ? 2 * 2 * wgKeys(dh) * dh : 0; }

// A kernel built for head dim dr (DR) spends no tensor work on the layout's padding past it:
// - S = Q K^T runs only the k-steps that hold the head dim (wgKSteps);
// - P V computes wgPvCols output columns (wgmma's N, twice O's accumulators a thread): 80 and 96
//   in the layout of 128 (the last slab read in part), and 192 in the layout of 256 (its second
//   half 64 columns wide).
// The kernels that read the head dim at run time (dr 0) multiply the whole layout: a k-step or an
// N chosen at run time puts a branch between the wgmma of a group, and ptxas then fences each.
__host__ __device__ constexpr int wgKSteps(int dh, int dr) { return dr > 0 ? (dr + 15) / 16 : dh / 16; }
__host__ __device__ constexpr int wgPvCols(int dh, int dr) {
    return dr <= 0 ? dh : dh == 128 ? (dr + 15) / 16 * 16 : dh == 256 && dr <= 192 ? 192 : dh;
}

// Shared memory: the head (row offsets, mbarriers), up to 1 KB to reach a 1024-byte boundary (the
// swizzle pattern repeats every 1024 bytes and is anchored to the address), q [rows][dh], then
// the K tiles and the V tiles of [keys][dh]. 227 KB for dh 128, 195 KB for dh 256.
__host__ __device__ constexpr int wgSharedBytes(int dh, int kvBytes = 2) {
    return WG_HEAD + 1024 + wgRows(dh, kvBytes) * dh * 2 + 2 * wgStages(dh, kvBytes) * wgKeys(dh) * dh * 2
           + wgStagingBytes(dh, kvBytes);
}
static_assert(wgSharedBytes(128) <= 227 * 1024 && wgSharedBytes(256) <= 227 * 1024
                      && wgSharedBytes(128, 1) <= 227 * 1024 && wgSharedBytes(64, 1) <= 227 * 1024,
              "sm_90 allows 227 KB of dynamic shared memory");
static_assert(2 * 128 * 4 + 4 * 3 * 8 <= WG_HEAD, "head of shared memory");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// ---- Pieces of a consumer warpgroup (64 rows) and of the copier.

// A work item (AttentionSchedule.queryTiles with tiles of the block's rows): request, first query
// row, query head, key split, first workspace slot (-1: not split); with the keys any row of the
// block can see, [kvStart, kvEnd).
struct WgItem {
    int b, rowStart, h, kvh, qoStart, qoLen, pageBase, kvLen, nRows;
    int pqLo;  // diagonal position of the block's first row among the keys
    int kvStart, kvEnd, nTiles;
    int partialBase;  // -1, or the split's first workspace slot (AttentionSchedule.queryTiles)
};
template <int ROWS, int KEYS>
__device__ __forceinline__ WgItem wgItemOf(const AttnParams& p) {
    WgItem it;
    const int* wk = p.work + WORK_INTS * blockIdx.x;
    it.b = wk[0];
    it.rowStart = wk[1];
    it.h = wk[2];
    it.kvh = it.h / p.group;
    it.qoStart = p.qoIndptr[it.b];
    it.qoLen = p.qoIndptr[it.b + 1] - it.qoStart;
    it.pageBase = p.kvIndptr[it.b];
    const int nPages = p.kvIndptr[it.b + 1] - it.pageBase;
    it.kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[it.b];
    it.nRows = min(ROWS, it.qoLen - it.rowStart);
    it.pqLo = it.rowStart + it.kvLen - it.qoLen;
    const int pqHi = it.rowStart + it.nRows - 1 + it.kvLen - it.qoLen;
    it.kvStart = 0;
    it.kvEnd = it.kvLen;
    cutToVisibleKeys(p, it.pqLo, pqHi, it.kvStart, it.kvEnd);
    it.partialBase = wk[4];
    prefillSplitRange(p, wk[3], it.partialBase, it.kvStart, it.kvEnd);
    it.nTiles = it.kvEnd > it.kvStart ? (it.kvEnd - it.kvStart + KEYS - 1) / KEYS : 0;
    return it;
}

// A warpgroup's rows row0..row0+63 of the block: the tiles they can see, [tLo, tHi), a contiguous
// range (empty past the block's rows), and this thread's two rows, accumulator rows lane / 4 and
// + 8 of its warp's 16.
struct WgRows {
    int tLo, tHi;
    int pqLo, pqHi;    // diagonal positions of the warpgroup's first and last rows
    int i[2], pq[2];   // this thread's rows: query row in the request, diagonal position
    bool ok[2];        // the row exists
};
template <int KEYS>
__device__ __forceinline__ WgRows wgRowsOf(const AttnParams& p, const WgItem& it, int row0, int warp, int lane) {
    WgRows w;
    w.tLo = w.tHi = w.pqLo = w.pqHi = 0;
    if (row0 < it.nRows) {
        w.pqLo = it.pqLo + row0;
        w.pqHi = it.pqLo + min(row0 + 64, it.nRows) - 1;
        int s = it.kvStart, e = it.kvEnd;
        cutToVisibleKeys(p, w.pqLo, w.pqHi, s, e);
        if (e > s) {
            w.tLo = (s - it.kvStart) / KEYS;
            w.tHi = (e - it.kvStart + KEYS - 1) / KEYS;
        }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int rb = row0 + 16 * (warp & 3) + (lane >> 2) + 8 * r;
        w.ok[r] = rb < it.nRows;
        w.i[r] = it.rowStart + rb;
        w.pq[r] = w.i[r] + it.kvLen - it.qoLen;
    }
    return w;
}

// cp.async of q rows r0 + myRow + k STEP (k < N / STEP) into the swizzled q operand; rows past the
// block's are zero-filled.
// Columns at or past dr (chunks of the layout's padding) are zero-filled too.
template <int DH, int N, int STEP, int ROWS>
__device__ __forceinline__ void wgCopyQ(const AttnParams& p, const WgItem& it, uint8_t* qs, int r0, int myRow,
                                        int myCol, int dr) {
#pragma unroll
    for (int k = 0; k < N / STEP; ++k) {
        const int r = r0 + myRow + k * STEP;
        const bool valid = r < it.nRows && myCol < dr / 8;
        const uint8_t* src = reinterpret_cast<const uint8_t*>(p.q);
        if (valid) src += ((long long) (it.qoStart + it.rowStart + r) * p.qTok + (long long) it.h * p.qHead) * 2
                + myCol * 16;
        asyncCopy16(qs + wgChunk<ROWS>(r, myCol), src, valid);
    }
}

// Key rows are addressed by offsets from their head's K (or V) base in 16-byte units, computed
// once per tile into shared memory: the copy loop is then a shared load, one multiply-add and the
// cp.async per 16 bytes (with the paged arithmetic inline it issued about 50 instructions per 16
// bytes, more than the softmax). 32 bits of 16-byte units reach 64 GB of pool (see
// CudaAttentionPlan.rowOffsetsFit).
constexpr uint32_t WG_NO_ROW = 0xFFFFFFFFu;  // past the keys: zero-filled, nothing read

// Offset of key j's row (KB-byte elements), or WG_NO_ROW at or past kvEnd.
template <int KB>
__device__ __forceinline__ uint32_t wgRowOffset(const AttnParams& p, const WgItem& it, int j) {
    if (j >= it.kvEnd) return WG_NO_ROW;
    const int pg = p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize;
    const int slot = j - pg * p.pageSize;
    const long long page = p.kvIndices[it.pageBase + pg];
    return (uint32_t) ((page * p.pageStride + slot * p.slotStride) >> (KB == 2 ? 3 : 4));
}

// This thread's K (isV false) or V head base, advanced to its 16-byte column myCol.
template <int KB>
__device__ __forceinline__ const uint8_t* wgHeadBase(const AttnParams& p, const WgItem& it, bool isV, int myCol) {
    return (isV ? p.v : p.k) + ((isV ? p.vOffset : p.kOffset) + (long long) it.kvh * p.headStride) * KB + myCol * 16;
}

// 16 FP8 codes (one 16-byte chunk) as 16 elements of q's 16-bit type, exactly (two 16-byte chunks).
template <int MT, int KT>
__device__ __forceinline__ void wgFp8ChunkTo16(const uint4& in, uint4& lo, uint4& hi) {
    const uint32_t w[4] = {in.x, in.y, in.z, in.w};
    uint32_t out[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            out[2 * i + h] = fp8PairToMma<MT, KT>(w[i] >> (16 * h));
        }
    }
    lo = make_uint4(out[0], out[1], out[2], out[3]);
    hi = make_uint4(out[4], out[5], out[6], out[7]);
}

// cp.async of this thread's share of a tile of KEYS rows: rows myRow + k STEP of CPT columns, at
// dst[c] + k STEP rows (dst[c]: the thread's swizzled chunk of row myRow in column c; STEP is a
// multiple of the 8-row swizzle period, so every row of the share has the same swizzle), from
// head[c] by the tile's row offsets offs. Columns whose live[c] is false (padding past the head
// dim) are zero-filled.
template <int STEP, int KEYS, int CPT>
__device__ __forceinline__ void wgCopyTile(const uint8_t* const* head, uint8_t* const* dst, const uint32_t* offs,
                                           const bool* live, int myRow) {
    constexpr int N = KEYS / STEP;
    static_assert(STEP % 8 == 0 && KEYS % STEP == 0, "copy shape");
    uint32_t off[N];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = offs[myRow + k * STEP];  // all loads first: each cp.async is a memory clobber
#pragma unroll
    for (int k = 0; k < N; ++k) {
        const bool valid = off[k] != WG_NO_ROW;
#pragma unroll
        for (int c = 0; c < CPT; ++c) {
            asyncCopy16(dst[c] + k * STEP * 128, head[c] + (size_t) (valid ? off[k] : 0u) * 16, valid && live[c]);
        }
    }
}


// Issues S = Q K^T of the warpgroup's 64 rows and the K tile of KEYS rows at shared address
// kAddr, one group. q: 64 rows = 8 swizzle atoms at 1024 bytes (stride byte offset); the leading
// byte offset is unused by swizzled K-major operands. k-step kk moves 32 bytes inside a slab (the
// hardware swizzles the computed address) or to the next slab (q's slabs hold the block's rows, K's KEYS).
// KSTEPS of the layout's DH / 16 (wgKSteps): those past the head dim would multiply zeros.
template <int MT, int DH, int KEYS, int KSTEPS>
__device__ __forceinline__ void wgIssueS(float (&s)[KEYS / 2], const uint32_t (&qLo)[DH / 16], uint32_t kAddr) {
    static_assert(KSTEPS >= 1 && KSTEPS <= DH / 16, "k-steps of S");
    const uint32_t kLo = wgDescLo(kAddr, 16);
    wgmmaS<MT, false>(s, qLo[0], kLo);
#pragma unroll
    for (int kk = 1; kk < KSTEPS; ++kk) {
        const int kOff = ((kk >> 2) * KEYS * 128 + (kk & 3) * 32) >> 4;
        wgmmaS<MT, true>(s, qLo[kk], kLo + kOff);
    }
    wgCommit();
}
// The q descriptors' low words of the k-steps of a warpgroup's 64 rows at qAddr (fixed for the
// block): k-step kk moves 32 bytes inside a slab or to the next slab of the block's ROWS rows.
template <int DH, int ROWS>
__device__ __forceinline__ void wgQDescs(uint32_t (&qLo)[DH / 16], uint32_t qAddr) {
#pragma unroll
    for (int kk = 0; kk < DH / 16; ++kk) qLo[kk] = wgDescLo(qAddr, 16) + (((kk >> 2) * ROWS * 128 + (kk & 3) * 32) >> 4);
}
// Issues O += P V for the V tile of KEYS rows at shared address vAddr, one group. V as N-major B:
// 8 keys of 128-byte rows per atom (stride byte offset 1024), the next 64 columns one slab
// further (leading byte offset); a k-step is 16 keys, 2048 bytes. N is 2 NO columns (wgPvCols).
// Past 128 columns (the layout of 256) it runs as two products, the second two slabs further and
// 2 NO - 128 wide (O's accumulators 64.. are its columns 128.. in the same layout).
template <int MT, int KEYS, int NO, int KS>
__device__ __forceinline__ void wgIssuePV(float (&o)[NO], const uint32_t (&pf)[KS][4], uint32_t vAddr) {
    const uint32_t vDesc = wgDescLo(vAddr, KEYS * 128);
    if constexpr (NO > 64) {
        float (&lo)[64] = *reinterpret_cast<float (*)[64]>(&o[0]);
        float (&hi)[NO - 64] = *reinterpret_cast<float (*)[NO - 64]>(&o[64]);
        const uint32_t vHi = vDesc + ((2 * KEYS * 128) >> 4);
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            wgmmaPV<MT>(lo, pf[kk], vDesc + ((kk * 16 * 128) >> 4));
            wgmmaPV<MT>(hi, pf[kk], vHi + ((kk * 16 * 128) >> 4));
        }
    } else {
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) wgmmaPV<MT>(o, pf[kk], vDesc + ((kk * 16 * 128) >> 4));
    }
    wgCommit();
}

// Scores of the tile at key c0 to probabilities (in s), folding them into m and l (base-2 units);
// alpha gets the tile's rescale factors of O. lg is computed once by the caller. The exponent is MUFU's ex2 alone (fastExp2): at 128 keys per tile the
// softmax's issue slots, more than the tensor cores, set the pace. (Folding the scale into the
// subtraction as one FFMA made ptxas spill at 255 registers.)
template <int NS, int KEYS = 2 * NS>
__device__ __forceinline__ void wgSoftmax(const AttnParams& p, const WgItem& it, const WgRows& w, float (&s)[NS],
                                          int c0, const LogitTransform& lg, int lane, float (&m)[2],
                                          float (&l)[2], float (&alpha)[2]) {
#pragma unroll
    for (int i = 0; i < NS; ++i) wgKeep(s[i]);
    // Logits in base 2; masks only where the tile straddles a boundary for this warpgroup's rows.
    fragmentLogits(s, lg, c0, lane, [&](int) { return lg.slope(p, it.h); }, w.pq);
    if (tileNeedsMask(p, c0, KEYS, it.kvEnd, w.pqLo, w.pqHi)) {
        fragmentMask(s, p, it.b, it.kvLen, it.kvStart, it.kvEnd, c0, lane, w.ok, w.i, w.pq);
    }
    // Online softmax (a row spans the 4 lanes of a quad). Maxima and sums run as 2 chains per row
    // (by i / 4 mod 2) so that their latencies overlap.
    float mPart[2][2];
#pragma unroll
    for (int c = 0; c < 2; ++c) mPart[c][0] = mPart[c][1] = -INFINITY;
#pragma unroll
    for (int i = 0; i < NS; ++i) mPart[(i >> 2) & 1][(i >> 1) & 1] = maxNan(mPart[(i >> 2) & 1][(i >> 1) & 1], s[i]);
    float mRef[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        mRef[r] = maxNan(mPart[0][r], mPart[1][r]);
        mRef[r] = maxNan(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 1));
        mRef[r] = maxNan(mRef[r], __shfl_xor_sync(0xffffffffu, mRef[r], 2));
        const float mNew = maxNan(m[r], mRef[r]);
        mRef[r] = mNew == -INFINITY ? 0.f : mNew;  // a row with no key yet: every p is 0
        alpha[r] = fastExp2(m[r] - mRef[r]);
        m[r] = mNew;
    }
    float lPart[2][2] = {};
#pragma unroll
    for (int i = 0; i < NS; ++i) {
        const float pe = fastExp2(s[i] - mRef[(i >> 1) & 1]);
        s[i] = pe;
        lPart[(i >> 2) & 1][(i >> 1) & 1] += pe;
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) l[r] = fmaf(l[r], alpha[r], lPart[0][r] + lPart[1][r]);
    // Pins the probabilities here: without it the compiler sinks the softmax below the caller's
    // wait for P V, and the warpgroup then idles on its own P V instead of overlapping it.
#pragma unroll
    for (int i = 0; i < NS; ++i) wgKeep(s[i]);
    wgKeep(l[0]);
    wgKeep(l[1]);
    wgKeep(alpha[0]);
    wgKeep(alpha[1]);
}

// O, once its P V has landed, times the tile's alpha; once the running maximum settles, alpha is 1
// for the whole warp and the rescale is skipped.
template <int NO>
__device__ __forceinline__ void wgRescale(float (&o)[NO], const float (&alpha)[2]) {
    wgKeepAll(o);
    if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
        for (int i = 0; i < NO; ++i) o[i] *= alpha[(i >> 1) & 1];
    }
}

// Accumulators of key blocks 2kk, 2kk + 1 form the A fragment of keys 16kk..16kk+15.
template <int MT, int KS, int NS>
__device__ __forceinline__ void wgPack(uint32_t (&pf)[KS][4], const float (&s)[NS]) {
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
#pragma unroll
        for (int e = 0; e < 4; ++e) pf[kk][e] = Mma<MT>::pack(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
    }
}

// Normalise and write: O's accumulator i is column 8 (i / 4) + 2 (lane % 4) + (i & 1), row
// (i >> 1) & 1, the m16n8 layout of prefillWriteRows.
// Only the first dr columns: those past it are the layout's zero padding.
// COLS: the columns P V computed (wgPvCols), at least dr.
template <int MT, int COLS>
__device__ __forceinline__ void wgWriteRows(const AttnParams& p, const WgItem& it, const WgRows& w,
                                            const float (&o)[COLS / 2], const float (&m)[2], float (&l)[2], int lane,
                                            int dr) {
    prefillWriteRows<MT, COLS>(p, [&](int nb, int e) { return o[4 * nb + e]; }, m, l, w.ok, w.i, it.qoStart, it.qoLen,
                             it.h, it.partialBase, lane, dr);
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL


#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// The copier warpgroup of an FP8 K/V block (see the top of this file). Thread tid owns the FP8
// chunks (rows tid / COLS + k RSTEP, 16-byte column tid % COLS) of every tile: it copies them into
// the staging slot of the tile's parity, and later converts the same chunks into the 16-bit tile
// (columns 2 c and 2 c + 1 of those rows), so no copier waits for another's copies.
// barAddr: the block's mbarriers, kFull, vFull, kEmpty, vEmpty [ST] each (as wgPrefillBody lays them out).
template <int MT, int KT, int DH, int KEYS, int ST, typename OffsetOf>
__device__ __forceinline__ void wgFp8Copier(const AttnParams& p, const WgItem& it, uint32_t* offs, OffsetOf offsetOf,
                                            uint8_t* kvs, uint32_t barAddr, int nTiles, int tid, int dr) {
    auto kFull = [&](int s) { return barAddr + 8 * s; };
    auto vFull = [&](int s) { return barAddr + 8 * (ST + s); };
    auto kEmpty = [&](int s) { return barAddr + 8 * (2 * ST + s); };
    auto vEmpty = [&](int s) { return barAddr + 8 * (3 * ST + s); };
    constexpr int NB_OFFSETS = WG_NB_OFFSETS;
    constexpr int TILE = KEYS * DH * 2;  // one 16-bit tile
    constexpr int RAW = KEYS * DH;       // one FP8 tile
    constexpr int COLS = DH / 16;        // FP8 chunks per row
    constexpr int RSTEP = 128 / COLS;    // rows one pass of the copier covers
    constexpr int N = KEYS / RSTEP;      // chunks per thread per tile, of K and of V each
    static_assert(KEYS % RSTEP == 0, "copy shape");
    uint8_t* raw = kvs + 2 * ST * TILE;  // staging: K of even and odd tiles, then V's
    const int myRow = tid / COLS, myCol = tid % COLS;
    const bool live = myCol < dr / 16;   // columns past the head dim are the layout's padding
    const uint8_t* head[2] = {wgHeadBase<1>(p, it, false, live ? myCol : 0), wgHeadBase<1>(p, it, true, live ? myCol : 0)};
    auto staged = [&](int t, int isV) { return raw + (2 * isV + (t & 1)) * RAW + myRow * DH + myCol * 16; };

    auto issueRaw = [&](int t) {
        const uint32_t* o = offs + (t & 1) * KEYS;
        uint32_t off[N];
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] = o[myRow + k * RSTEP];  // all loads first: each cp.async is a memory clobber
#pragma unroll
        for (int isV = 0; isV < 2; ++isV) {
            uint8_t* dst = staged(t, isV);
#pragma unroll
            for (int k = 0; k < N; ++k) {
                const bool valid = live && off[k] != WG_NO_ROW;
                asyncCopy16(dst + k * RSTEP * DH, head[isV] + (size_t) (valid ? off[k] : 0u) * 16, valid);
            }
        }
        asyncCopyCommit();
    };
    auto convert = [&](int t, int isV, int st) {
        const uint8_t* src = staged(t, isV);
        uint8_t* dst = kvs + (isV ? ST + st : st) * TILE;
        // Two chunks at a time: the copier holds 56 registers (setmaxnreg), and a full unroll spills.
#pragma unroll 2
        for (int k = 0; k < N; ++k) {
            const int r = myRow + k * RSTEP;
            const uint4 in = *reinterpret_cast<const uint4*>(src + k * RSTEP * DH);
            uint4 lo, hi;
            wgFp8ChunkTo16<MT, KT>(in, lo, hi);
            *reinterpret_cast<uint4*>(dst + wgChunk<KEYS>(r, 2 * myCol)) = lo;
            *reinterpret_cast<uint4*>(dst + wgChunk<KEYS>(r, 2 * myCol + 1)) = hi;
        }
        wgProxyFence();  // generic-proxy stores, read next by the consumers' wgmma (async proxy)
    };

    if (nTiles == 0) return;
    uint32_t nextOffset = offsetOf(0);
    if (tid < KEYS) offs[tid] = nextOffset;
    wgNamedSync(NB_OFFSETS, 128);
    issueRaw(0);
    if (nTiles > 1) nextOffset = offsetOf(1);
    for (int t = 0; t < nTiles; ++t) {
        if (t + 1 < nTiles) {
            // Offsets slot (t + 1) & 1 was last read by the copies of tile t - 1, issued before the
            // previous offsets barrier that every copier passed.
            if (tid < KEYS) offs[((t + 1) & 1) * KEYS + tid] = nextOffset;
            wgNamedSync(NB_OFFSETS, 128);
            issueRaw(t + 1);  // into the staging slot this thread converted tile t - 1 from
            if (t + 2 < nTiles) nextOffset = offsetOf(t + 2);
            asyncCopyWait<1>();  // this thread's chunks of tile t have landed
        } else {
            asyncCopyWait<0>();
        }
        const int st = t % ST;
        const uint32_t freed = ((t / ST) + 1) & 1;  // phase of tile t - ST's release
        if (t >= ST) wgBarWait(kEmpty(st), freed);
        convert(t, 0, st);
        wgBarArrive(kFull(st));
        if (t >= ST) wgBarWait(vEmpty(st), freed);
        convert(t, 1, st);
        wgBarArrive(vFull(st));
    }
}
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// One block of wgThreads: the copier (warpgroup 0) and the consumers; see the top of this file.
// DH: the layout's head dim (64, 128 or 256); DR: the problem's, at most DH, a multiple of 8, or 0
// for the problem's head dim at run time (p.d, checked by the host likewise); KT: K/V's type, MT or
// FP8 (then DH at most 128 and DR a multiple of 16).
template <int MT, int DH, int DR = DH, int KT = MT>
__device__ __forceinline__ void wgPrefillBody(const AttnParams& p) {
    constexpr int KB = Elem<KT>::bytes;
    static_assert(DR <= DH && DR % 8 == 0 && (DH == 64 || DH == 128 || DH == 256), "head dims");
    static_assert(KT == MT || (KB == 1 && DH <= 128 && DR % 16 == 0), "K/V of q's type, or FP8 up to head dim 128");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const int dr = DR > 0 ? DR : p.d;         // the problem's head dim: columns past it are zero
    constexpr int KEYS = wgKeys(DH);           // keys per tile
    constexpr int ST = wgStages(DH, KB);       // K tiles (and V tiles) in flight or in use
    constexpr int VPR = DH / 8;                  // 16-byte chunks per row
    constexpr int Q_STEP = 128 / VPR;            // q rows one pass of a consumer warpgroup copies
    // The copier's share of a tile: rows myRow + k ROW_STEP (a multiple of the 8-row swizzle
    // period), CPT chunks of each (head dim 256: 2).
    constexpr int ROW_STEP = Q_STEP < 8 ? 8 : Q_STEP;
    constexpr int CPT = VPR * ROW_STEP / 128;
    constexpr int KS = KEYS / 16;                // k-steps of P V
    constexpr int NS = KEYS / 2;                 // S accumulators per thread
    constexpr int NO = wgPvCols(DH, DR) / 2;     // O accumulators per thread
    constexpr int TILE = KEYS * DH * 2;
    constexpr int CW = wgConsumers(DH, KB);      // consumer warpgroups
    constexpr int ROWS = wgRows(DH, KB);         // query rows of the block: q is a ROWS-row operand
    static_assert(64 % Q_STEP == 0 && KEYS <= 128, "copy shapes");
    // Named barriers (0 is __syncthreads): 1..CW q of consumer 0..CW-1; WG_NB_OFFSETS the
    // copier's row offsets.
    constexpr int NB_Q = 1, NB_OFFSETS = WG_NB_OFFSETS;
    static_assert(NB_Q + CW <= NB_OFFSETS, "named barriers");
    extern __shared__ __align__(16) uint8_t smemRaw[];
    uint32_t* offs = reinterpret_cast<uint32_t*>(smemRaw);  // row offsets [2][KEYS]
    const uint32_t smemAddr = (uint32_t) __cvta_generic_to_shared(smemRaw);
    const uint32_t barAddr = smemAddr + 2 * KEYS * 4;  // kFull, vFull, kEmpty, vEmpty [ST] each
    auto kFull = [&](int s) { return barAddr + 8 * s; };
    auto vFull = [&](int s) { return barAddr + 8 * (ST + s); };
    auto kEmpty = [&](int s) { return barAddr + 8 * (2 * ST + s); };
    auto vEmpty = [&](int s) { return barAddr + 8 * (3 * ST + s); };
    const uint32_t rawAddr = smemAddr + WG_HEAD;
    const uint32_t pad = (1024u - (rawAddr & 1023u)) & 1023u;
    uint8_t* qs = smemRaw + WG_HEAD + pad;
    uint8_t* kvs = qs + ROWS * DH * 2;         // K stages, then V stages
    const uint32_t qAddr = rawAddr + pad;
    const uint32_t kvAddr = qAddr + ROWS * DH * 2;

    const WgItem it = wgItemOf<ROWS, KEYS>(p);
    const int kvStart = it.kvStart, nTiles = it.nTiles;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;

    if (tid == 0) {
        for (int s = 0; s < ST; ++s) {
            wgBarInit(kFull(s), 128);
            wgBarInit(vFull(s), 128);
            wgBarInit(kEmpty(s), 4 * CW);  // one arrival per consumer warp
            wgBarInit(vEmpty(s), 4 * CW);
        }
    }
    __syncthreads();  // the only block-wide barrier: the mbarriers are initialised

    if (wg == 0) {
        // ---- copier: row offsets of tile t into slot t & 1, then K_t and V_t into stage t % ST.
        if constexpr (CW == 2) {
            asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
        } else {
            asm volatile("setmaxnreg.dec.sync.aligned.u32 32;\n" ::: "memory");
        }
        auto offsetOf = [&](int t) { return tid < KEYS ? wgRowOffset<KB>(p, it, kvStart + t * KEYS + tid) : WG_NO_ROW; };
        if constexpr (KB == 1) {
            wgFp8Copier<MT, KT, DH, KEYS, ST>(p, it, offs, offsetOf, kvs, barAddr, nTiles, tid, dr);
            return;
        }
        constexpr int COLS = VPR / CPT;  // threads along a row
        const int myRow = tid / COLS;
        const uint8_t* kHead[CPT];
        const uint8_t* vHead[CPT];
        int myDst[CPT];
        bool live[CPT];
#pragma unroll
        for (int c = 0; c < CPT; ++c) {
            const int col = tid % COLS + c * COLS;
            live[c] = col < dr / 8;
            kHead[c] = wgHeadBase<KB>(p, it, false, live[c] ? col : 0);
            vHead[c] = wgHeadBase<KB>(p, it, true, live[c] ? col : 0);
            myDst[c] = wgChunk<KEYS>(myRow, col);
        }
        auto issue = [&](int t, bool isV, int st) {
            uint8_t* dst[CPT];
#pragma unroll
            for (int c = 0; c < CPT; ++c) dst[c] = kvs + (isV ? ST + st : st) * TILE + myDst[c];
            wgCopyTile<ROW_STEP, KEYS, CPT>(isV ? vHead : kHead, dst, offs + (t & 1) * KEYS, live, myRow);
            asyncCopyCommit();
        };
        uint32_t nextOffset = nTiles > 0 ? offsetOf(0) : WG_NO_ROW;
        for (int t = 0; t < nTiles; ++t) {
            // Slot t & 1 was last read by the copies of tile t - 2, issued before the previous
            // offsets barrier that every copier passed.
            if (tid < KEYS) offs[(t & 1) * KEYS + tid] = nextOffset;
            wgNamedSync(NB_OFFSETS, 128);
            if (t + 1 < nTiles) nextOffset = offsetOf(t + 1);  // in flight during the copies
            const int st = t % ST;
            const uint32_t freed = ((t / ST) + 1) & 1;     // phase of tile t - ST's release
            if (t >= ST) wgBarWait(kEmpty(st), freed);
            issue(t, false, st);
            wgBarArriveCopies(kFull(st));
            if (t >= ST) wgBarWait(vEmpty(st), freed);
            issue(t, true, st);
            wgBarArriveCopies(vFull(st));
        }
        asyncCopyWait<0>();  // leave nothing in flight behind an exiting thread
        return;
    }

    // ---- consumers.
    // The block holds 168 registers a thread from launch (__launch_bounds__(wgThreads, 1)) with two
    // consumers: the copier's 168 - 56 leave exactly 224 - 168 for each consumer thread; with
    // three, 128 at launch, the copier's 128 - 32 leave 160 - 128 for each of three. Asking for
    // more than the copier gave up never returns.
    if constexpr (CW == 2) {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n" ::: "memory");
    }
    const int cw = wg - 1;                     // consumer 0..CW-1
    const int ctid = tid - 128 * wg;           // thread within the warpgroup
    const int wgRow0 = 64 * cw;
    // With three consumers a warpgroup's registers (160) hold O and S, or O and P, not all three:
    // it multiplies P_{t-1} V_{t-1} before it scores tile t instead of beside it, and the other
    // two keep the tensor cores busy meanwhile.
    constexpr bool SERIAL = CW == 3;
    const WgRows w = wgRowsOf<KEYS>(p, it, wgRow0, warp, lane);

    // q of this warpgroup's 64 rows, copied by the warpgroup itself; fenced by each writer for
    // the async proxy before the warpgroup's barrier.
    if (nTiles > 0) {
        wgCopyQ<DH, 64, Q_STEP, ROWS>(p, it, qs, wgRow0, ctid / VPR, ctid % VPR, dr);
        asyncCopyCommit();
        asyncCopyWait<0>();
        wgProxyFence();
        wgNamedSync(NB_Q + cw, 128);
    }

    const LogitTransform lg(p, it.kvh);
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NO];
#pragma unroll
    for (int i = 0; i < NO; ++i) o[i] = 0.f;
    uint32_t pf[KS][4];  // P of the last scored tile, A fragments of its 16-key steps
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) pf[kk][0] = pf[kk][1] = pf[kk][2] = pf[kk][3] = 0u;
    uint32_t qLo[DH / 16];
    wgQDescs<DH, ROWS>(qLo, qAddr + wgRow0 * 128);

    // The consumer warp's release of a stage: its wgmma reading it have completed.
    auto release = [&](uint32_t bar) {
        if (lane == 0) wgBarArrive(bar);
    };

    // Iteration t scores tile t and adds tile t - 1 to O; iteration nTiles only adds the last.
    for (int t = 0; nTiles > 0 && t <= nTiles; ++t) {
        if (t < nTiles) wgBarWait(kFull(t % ST), (t / ST) & 1);
        if (t > 0) wgBarWait(vFull((t - 1) % ST), ((t - 1) / ST) & 1);
        // The copier's cp.async wrote through the generic proxy; the barrier wait made those
        // writes visible to this thread, the fence orders them before its wgmma's reads.
        wgProxyFence();
        const uint32_t kAddr = kvAddr + (t % ST) * TILE;
        const uint32_t vAddr = kvAddr + (ST + (t - 1) % ST) * TILE;  // V_{t-1}

        const bool steady = __shfl_sync(0xffffffffu, t > w.tLo && t < w.tHi, 0);
        const bool first = __shfl_sync(0xffffffffu, t == w.tLo && t < w.tHi, 0);
        const bool last = __shfl_sync(0xffffffffu, t == w.tHi && t > w.tLo, 0);
        float s[NS], alpha[2];
        if (steady && SERIAL) {
            // P_{t-1} V_{t-1} lands before S_t is issued, so P's registers are free for S.
            wgFenceOperands(o, pf);
            wgIssuePV<MT, KEYS>(o, pf, vAddr);
            wgWait<0>();
            release(vEmpty((t - 1) % ST));
            wgKeepAll(o);
            wgFence();
            wgIssueS<MT, DH, KEYS, wgKSteps(DH, DR)>(s, qLo, kAddr);
            wgWait<0>();
            release(kEmpty(t % ST));
            wgSoftmax(p, it, w, s, kvStart + t * KEYS, lg, lane, m, l, alpha);
            wgRescale(o, alpha);
            wgPack<MT>(pf, s);
        } else if (steady) {
            wgFenceOperands(o, pf);
            wgIssueS<MT, DH, KEYS, wgKSteps(DH, DR)>(s, qLo, kAddr);
            wgIssuePV<MT, KEYS>(o, pf, vAddr);
            wgWait<1>();  // S of tile t
            release(kEmpty(t % ST));
            wgSoftmax(p, it, w, s, kvStart + t * KEYS, lg, lane, m, l, alpha);
            wgWait<0>();  // O holds tile t - 1
            release(vEmpty((t - 1) % ST));
            wgRescale(o, alpha);
            wgPack<MT>(pf, s);
        } else if (first) {
            wgFenceOperands(o, pf);
            wgIssueS<MT, DH, KEYS, wgKSteps(DH, DR)>(s, qLo, kAddr);
            wgWait<0>();
            release(kEmpty(t % ST));
            if (t > 0) release(vEmpty((t - 1) % ST));  // V_{t-1} is not this warpgroup's
            wgSoftmax(p, it, w, s, kvStart + t * KEYS, lg, lane, m, l, alpha);  // O is 0: no rescale
            wgPack<MT>(pf, s);
        } else if (last) {
            wgFenceOperands(o, pf);
            wgIssuePV<MT, KEYS>(o, pf, vAddr);
            wgWait<0>();
            if (t < nTiles) release(kEmpty(t % ST));  // K_t is not this warpgroup's
            release(vEmpty((t - 1) % ST));
            wgKeepAll(o);
        } else {
            if (t < nTiles) release(kEmpty(t % ST));
            if (t > 0) release(vEmpty((t - 1) % ST));
        }
    }

    wgWriteRows<MT, 2 * NO>(p, it, w, o, m, l, lane, dr);
#else
    __trap();  // wgmma exists only on sm_90a; the host selects this kernel there alone
#endif
}


}  // namespace attn4j
