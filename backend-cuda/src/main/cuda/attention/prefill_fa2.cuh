// FlashAttention-2-style prefill (the default below sm_90; prefillKernel=fa2 forces it) for K/V
// of q's 16-bit type, no RoPE on the fly, head dim 64 or 128. Prefill does about 2 * 64 MMA FLOPs per K/V
// byte loaded into a 64-row block, so the kernel is built to keep the Tensor Cores fed:
//
// - a block is one (request, query head, 64-row tile) work item; the host orders the work list
//   longest first, so short tiles fill the tail of the grid;
// - 4 warps each own 16 query rows; their q fragments are read once into registers;
// - 64-key K/V tiles stream through a 2-stage cp.async ring of padded rows (conflict-free
//   ldmatrix); the tile's per-row page offsets are computed once into shared memory, one tile
//   ahead, so the copies never wait on a page table lookup;
// - S = Q K^T stays in registers (K fragments by ldmatrix), softmax is online in base 2 with the
//   log2(e)-prescaled scale, and P is repacked in registers as the A operand of P V (V fragments
//   by ldmatrix.trans): no score goes through shared memory and warps never merge;
// - causal and window tiles that no row can see are never loaded; masks (causal, window, custom
//   bits, the end of the keys) are only evaluated on the tiles that straddle a boundary.
#pragma once
#include "query_tiles.cuh"
#include "variant.cuh"

namespace attn4j {

constexpr int FA2_WARPS = 4;
constexpr int FA2_THREADS = 32 * FA2_WARPS;
constexpr int FA2_ROWS = 16 * FA2_WARPS;  // query rows of one head per block
constexpr int FA2_KEYS = 64;              // keys per tile
constexpr int FA2_STAGES = 2;
constexpr int FA2_PAD = 8;                // 16-bit elements appended to each shared row

// Shared memory, shared with the host (BlockShape.FA2_PREFILL): q rows, then the stages
// (K tile, V tile), then the page offsets of two tiles.
__host__ __device__ constexpr int fa2RowBytes(int dh) { return (dh + FA2_PAD) * 2; }
__host__ __device__ constexpr int fa2QBytes(int dh) { return FA2_ROWS * fa2RowBytes(dh); }
__host__ __device__ constexpr int fa2StageBytes(int dh) { return 2 * FA2_KEYS * fa2RowBytes(dh); }
__host__ __device__ constexpr int fa2SharedBytes(int dh) {
    return fa2QBytes(dh) + FA2_STAGES * fa2StageBytes(dh) + FA2_STAGES * FA2_KEYS * 8;
}


// Work item ints (AttentionSchedule.queryTiles): request, first query row, query head, key split,
// partial base (-1: the request is not split, the block writes o and lse).
template <int MT, int DH>
__device__ __forceinline__ void fa2PrefillBody(const AttnParams& p) {
    constexpr int ROW = DH + FA2_PAD;           // shared row stride, 16-bit elements
    constexpr int VPR = DH * 2 / 16;            // 16-byte vectors per row
    constexpr int ROW_STEP = FA2_THREADS / VPR;  // rows one pass of the block copies
    constexpr int KD = DH / 16;                 // k-steps of Q K^T
    constexpr int NB_S = FA2_KEYS / 8;          // score n-blocks
    constexpr int NB_O = DH / 8;                // output n-blocks
    static_assert(FA2_THREADS % VPR == 0 && FA2_KEYS % ROW_STEP == 0 && FA2_ROWS % ROW_STEP == 0, "copy shape");
    extern __shared__ __align__(16) uint8_t smemRaw[];
    uint16_t* qs = reinterpret_cast<uint16_t*>(smemRaw);
    uint8_t* stageBase = smemRaw + fa2QBytes(DH);
    long long* offs = reinterpret_cast<long long*>(stageBase + FA2_STAGES * fa2StageBytes(DH));  // [2][KEYS]

    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], rowStart = wk[1], h = wk[2];
    const int kvh = h / p.group;
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart;
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    const int nRows = min(FA2_ROWS, qoLen - rowStart);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // Keys any row of the block can see: [kvStart, kvEnd).
    const int pqLo = rowStart + kvLen - qoLen, pqHi = rowStart + nRows - 1 + kvLen - qoLen;
    int kvStart = 0, kvEnd = kvLen;
    cutToVisibleKeys(p, pqLo, pqHi, kvStart, kvEnd);
    const int partialBase = wk[4];
    prefillSplitRange(p, wk[3], partialBase, kvStart, kvEnd);
    const int nTiles = kvEnd > kvStart ? (kvEnd - kvStart + FA2_KEYS - 1) / FA2_KEYS : 0;

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };
    // Element offset (from kOffset / vOffset) of each key row of the tile at c0; -1 past the keys.
    auto lookUp = [&](int c0, int slot) {
        if (tid < FA2_KEYS) {
            int j = c0 + tid;
            long long off = -1;
            if (j < kvEnd) {
                off = (long long) p.kvIndices[pageBase + pageOf(j)] * p.pageStride
                      + (long long) slotOf(j) * p.slotStride + (long long) kvh * p.headStride;
            }
            offs[slot * FA2_KEYS + tid] = off;
        }
    };
    // Copies the tile whose offsets are in offs[slot] into stage st (missing rows zero-filled).
    auto issue = [&](int slot, int st) {
        uint8_t* kDst = stageBase + st * fa2StageBytes(DH);
        uint8_t* vDst = kDst + FA2_KEYS * fa2RowBytes(DH);
        const int col = tid % VPR;
#pragma unroll
        for (int k = 0; k < FA2_KEYS / ROW_STEP; ++k) {
            const int r = tid / VPR + k * ROW_STEP;
            long long off = offs[slot * FA2_KEYS + r];
            bool valid = off >= 0;
            const uint8_t* srcK = p.k;
            const uint8_t* srcV = p.v;
            if (valid) {
                srcK += (p.kOffset + off) * 2 + col * 16;
                srcV += (p.vOffset + off) * 2 + col * 16;
            }
            asyncCopy16(kDst + r * fa2RowBytes(DH) + col * 16, srcK, valid);
            asyncCopy16(vDst + r * fa2RowBytes(DH) + col * 16, srcV, valid);
        }
    };

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NB_O][4];
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;

    if (nTiles > 0) {
        // Prologue: q rows and tile 0 in one copy group; offsets of tiles 0 and 1.
        {
            const int col = tid % VPR;
#pragma unroll
            for (int k = 0; k < FA2_ROWS / ROW_STEP; ++k) {
                const int r = tid / VPR + k * ROW_STEP;
                bool valid = r < nRows;
                const uint8_t* src = reinterpret_cast<const uint8_t*>(p.q);
                if (valid) src += ((long long) (qoStart + rowStart + r) * p.qTok + (long long) h * p.qHead) * 2 + col * 16;
                asyncCopy16(reinterpret_cast<uint8_t*>(qs) + r * fa2RowBytes(DH) + col * 16, src, valid);
            }
        }
        lookUp(kvStart, 0);
        if (nTiles > 1) lookUp(kvStart + FA2_KEYS, 1);
        __syncthreads();
        issue(0, 0);
        asyncCopyCommit();
        __syncthreads();  // offs[0] is rewritten (tile 2) in the first iteration
    }

    // This thread's two rows of its warp's 16.
    const int row0 = warp * 16 + (lane >> 2);
    int rowPq[2], rowI[2];
    bool rowOk[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        rowI[r] = rowStart + row0 + 8 * r;
        rowOk[r] = row0 + 8 * r < nRows;
        rowPq[r] = rowI[r] + kvLen - qoLen;
    }
    const LogitTransform lg(p, kvh);
    auto rowSlope = [&](int) { return lg.slope(p, h); };  // the block's one query head
    uint32_t qf[KD][4];

    for (int t = 0; t < nTiles; ++t) {
        const int c0 = kvStart + t * FA2_KEYS;
        const int st = t % FA2_STAGES;
        if (t + 1 < nTiles) issue((t + 1) % FA2_STAGES, (t + 1) % FA2_STAGES);
        asyncCopyCommit();
        // Offsets of tile t + 2 go where tile t's were (already copied from); published by the
        // barrier below, read when tile t + 2 is issued in the next iteration.
        if (t + 2 < nTiles) lookUp(c0 + 2 * FA2_KEYS, st);
        asyncCopyWait<1>();
        __syncthreads();
        if (t == 0) {
            const uint16_t* qw = qs + row0 * ROW + (lane & 3) * 2;
#pragma unroll
            for (int kk = 0; kk < KD; ++kk) {
                qf[kk][0] = *reinterpret_cast<const uint32_t*>(qw + kk * 16);
                qf[kk][1] = *reinterpret_cast<const uint32_t*>(qw + 8 * ROW + kk * 16);
                qf[kk][2] = *reinterpret_cast<const uint32_t*>(qw + kk * 16 + 8);
                qf[kk][3] = *reinterpret_cast<const uint32_t*>(qw + 8 * ROW + kk * 16 + 8);
            }
        }
        const uint16_t* ks = reinterpret_cast<const uint16_t*>(stageBase + st * fa2StageBytes(DH));
        const uint16_t* vs = ks + FA2_KEYS * ROW;

        // S = Q K^T: 16 rows x 64 keys per warp. ldmatrix x4 gives two n-blocks' b0, b1:
        // lanes 0-7 keys 0-7 at k 0, 8-15 keys 0-7 at k 8, 16-23 keys 8-15 at k 0, 24-31 at k 8.
        float s[NB_S][4];
#pragma unroll
        for (int nb = 0; nb < NB_S; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
        const int mi = lane >> 3;
        const uint16_t* kLane = ks + ((mi >> 1) * 8 + (lane & 7)) * ROW + (mi & 1) * 8;
#pragma unroll
        for (int kk = 0; kk < KD; ++kk) {
#pragma unroll
            for (int np = 0; np < NB_S / 2; ++np) {
                uint32_t bk[4];
                ldmatrixX4(bk, kLane + np * 16 * ROW + kk * 16);
                Mma<MT>::run(s[2 * np], qf[kk], bk[0], bk[1]);
                Mma<MT>::run(s[2 * np + 1], qf[kk], bk[2], bk[3]);
            }
        }

        // Logits in base 2; masks only where the tile straddles a boundary (uniform over the block).
        fragmentLogits(s, lg, c0, lane, rowSlope, rowPq);
        if (tileNeedsMask(p, c0, FA2_KEYS, kvEnd, pqLo, pqHi)) {
            fragmentMask(s, p, b, kvLen, kvStart, kvEnd, c0, lane, rowOk, rowI, rowPq);
        }

        // Online softmax on this thread's two rows (a row spans the 4 lanes of a quad).
        float rowMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nb = 0; nb < NB_S; ++nb) {
            rowMax[0] = maxNan(rowMax[0], maxNan(s[nb][0], s[nb][1]));
            rowMax[1] = maxNan(rowMax[1], maxNan(s[nb][2], s[nb][3]));
        }
        onlineSoftmaxStep(s, o, m, l, rowMax);

        // O += P V, 16 keys per k-step: the score accumulators of n-blocks 2k, 2k + 1 are the
        // A fragment of keys 16k..16k+15; V fragments through ldmatrix.trans.
#pragma unroll
        for (int k16 = 0; k16 < FA2_KEYS / 16; ++k16) {
            uint32_t a[4];
            a[0] = Mma<MT>::pack(s[2 * k16][0], s[2 * k16][1]);
            a[1] = Mma<MT>::pack(s[2 * k16][2], s[2 * k16][3]);
            a[2] = Mma<MT>::pack(s[2 * k16 + 1][0], s[2 * k16 + 1][1]);
            a[3] = Mma<MT>::pack(s[2 * k16 + 1][2], s[2 * k16 + 1][3]);
            const int key = k16 * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const uint16_t* vrow = vs + key * ROW + (lane >> 4) * 8;
#pragma unroll
            for (int nb = 0; nb < NB_O; nb += 2) {
                uint32_t bv[4];
                ldmatrixX4Trans(bv, vrow + nb * 8);
                Mma<MT>::run(o[nb], a, bv[0], bv[1]);
                Mma<MT>::run(o[nb + 1], a, bv[2], bv[3]);
            }
        }
        __syncthreads();  // stage st is refilled by the next iteration's copies
    }

    // Normalise and write (o[nb] is the m16n8 accumulator of n-block nb).
    prefillWriteRows<MT, DH>(p, [&](int nb, int e) { return o[nb][e]; }, m, l, rowOk, rowI, qoStart, qoLen, h,
                             partialBase, lane);
}

}  // namespace attn4j
