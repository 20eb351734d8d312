// Hopper MLA decode and prefill on warpgroup MMA (sm_90a only; elsewhere the entry points trap):
// DeepSeek's dims (a latent of 512, a rotary part of 64), q and cache of one 16-bit type, equal
// latent and rotary scales. The work items, partial states and merge are those of
// attention/mla.cuh's Tensor Core kernel (MlaSchedule): MLA_ITEMS (row, head) items of one
// request and one chunk of its keys per block.
//
// Why this shape: decode-mla sits on the H100's ridge point (73 GFLOP over 302 MB), so the
// products must run at warpgroup-MMA rates while every cache byte is read once for all heads.
//
// - a block is three warpgroups: warpgroup 0 copies (Q once, then [ckv ; kpe] tiles of MLA_WG_KEYS
//   keys, two stages); consumer 0 (warpgroup 1) computes S = Q K^T over the whole 576-wide key,
//   the online softmax and O[:, 0:256]; consumer 1 (warpgroup 2) computes O[:, 256:512]. O of
//   64 items is 64 x 512 floats, more than one warpgroup's registers, hence the split;
// - consumer 0 keeps P in registers (the A operand of its own P V) and writes it to shared memory
//   with the rows' rescale factors; consumer 1 reads both from there. One P buffer: consumer 0
//   writes P of tile t + 1 only after consumer 1 has finished its P V of tile t (a named barrier
//   each way);
// - Q, the tiles and P live in shared memory in the layout wgmma descriptors read with 128-byte
//   swizzling (hopper/wgmma.cuh): 64-row operands in 64-column slabs of 8 KB. S reads Q and a
//   tile K-major; P V reads the tile's first 512 columns (ckv, the value) N-major;
// - a stage is free once all eight consumer warps have released it (an "empty" mbarrier), each
//   as soon as its last product on the stage has landed; the copies of a stage arrive on its
//   "full" mbarrier when they land;
// - where the page size is a power of two of 8 or more (MlaTensorMaps.boxRows), one copier thread
//   brings a tile's whole pages by tensor copies, a 64-column slab of a page per instruction;
//   otherwise, and for a tile's rows past the keys (zeros, not a page's unused slots), a warp's
//   copy instruction reads 512 contiguous bytes of one row (whole 128-byte lines where rows are
//   128-byte aligned): every tile comes through L2 twice (two blocks of 64 heads per request), so
//   the number of L2 requests counts as much as the bytes.
#pragma once
#include "../attention/mla.cuh"
#include "tma.cuh"
#include "wgmma.cuh"

namespace attn4j {

constexpr int MLA_WG_DC = 512;          // latent dim, the value's
constexpr int MLA_WG_DP = 64;           // rotary dim
constexpr int MLA_WG_DK = MLA_WG_DC + MLA_WG_DP;
constexpr int MLA_WG_KEYS = 64;         // keys per tile
constexpr int MLA_WG_THREADS = 384;     // copier + two consumers
constexpr int MLA_WG_SLAB = 64 * 128;   // bytes of a 64-column slab of a 64-row operand
constexpr int MLA_WG_OPERAND = (MLA_WG_DK / 64) * MLA_WG_SLAB;  // Q or one tile: 72 KB
constexpr int MLA_WG_HEAD = 2048;       // row offsets, mbarriers, rescale factors, row ends
// The head, up to 1 KB to reach a 1024-byte boundary (the swizzle is anchored to the address), Q,
// two tiles and P: 227 KB, the most a block may have on sm_90.
constexpr int MLA_WG_SMEM = MLA_WG_HEAD + 1024 + 3 * MLA_WG_OPERAND + MLA_WG_SLAB;
static_assert(MLA_WG_SMEM <= 227 * 1024, "sm_90 allows 227 KB of dynamic shared memory");
static_assert(MLA_ITEMS == 64, "a consumer warpgroup's M side is the block's items");
// Head: ckv and kpe row offsets [2 slots][64] (1 KB), mbarriers (qFull, kFull[2], kEmpty[2]) at
// 1024, rescale factors [64] at 1088, final maxima and sums [2][64] at 1344.
static_assert(1344 + 2 * 64 * 4 <= MLA_WG_HEAD, "head of shared memory");

// Tensor copies of the cache tiles: rank-3 descriptors of each pool as (column, slot, page), boxes
// of 64 columns (one 128-byte swizzled slab) by boxRows slots of one page. boxRows divides the page
// size and the schedule's chunk starts, so a box never crosses a page; 0: no tensor copies (the
// pools' layout does not allow them), every row by cp.async.
struct MlaTensorMaps {
    TmaDescriptor ckv, kpe;
    int boxRows;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr uint32_t MLA_WG_NO_ROW = 0xFFFFFFFFu;  // past the keys: zero-filled, nothing read

// Byte offset of 16-byte chunk col of row r of a 64-row operand.
__device__ __forceinline__ int mlaWgChunk(int r, int col) { return wgChunk<64>(r, col); }

// The copier warpgroup: Q of the block's items, then every tile. tid: 0..127.
template <int QT>
__device__ __forceinline__ void mlaWgCopier(const MlaParams& p, const MlaTensorMaps& maps, int b, int item0,
                                            int items, int qoStart, int kvStart, int kvEnd, int nTiles, uint8_t* qs,
                                            uint8_t* tiles, uint32_t* offs, uint32_t qFull, uint32_t kFull0,
                                            uint32_t kEmpty0, int tid) {
    constexpr int CPR = MLA_WG_DK / 8;  // 16-byte chunks per row: 64 latent, 8 rotary
    // Q: item i's [q_nope ; q_pe] row; items past the request are zero.
    for (int q = tid; q < MLA_ITEMS * CPR; q += 128) {
        const int i = q / CPR, c = q - i * CPR, it = item0 + i;
        const bool live = it < items;
        const uint8_t* src = reinterpret_cast<const uint8_t*>(p.qn);
        if (live) {
            const int row = qoStart + it / p.heads, h = it % p.heads;
            src = c < MLA_WG_DC / 8
                    ? reinterpret_cast<const uint8_t*>(p.qn) + (row * p.qnTok + h * p.qnHead) * 2 + c * 16
                    : reinterpret_cast<const uint8_t*>(p.qp) + (row * p.qpTok + h * p.qpHead) * 2
                            + (c - MLA_WG_DC / 8) * 16;
        }
        asyncCopy16(qs + mlaWgChunk(i, c), src, live);
    }
    wgBarArriveCopies(qFull);

    const MlaKeys keys{p, p.kvIndptr[b]};
    const int copyWarp = tid >> 5, lane = tid & 31;
    const int boxRows = maps.boxRows;
    if (tid == 0 && boxRows > 0) {
        tmaPrefetchDescriptor(&maps.ckv);
        tmaPrefetchDescriptor(&maps.kpe);
    }
    for (int t = 0; t < nTiles; ++t) {
        const int st = t & 1, j0 = kvStart + t * MLA_WG_KEYS;
        // The tile's leading rows that whole boxes of keys hold come by tensor copies; the rest
        // (a box that runs past the keys: its rows past them must be zeros, not whatever the
        // page's unused slots hold) row by row.
        const int tmaRows =
                boxRows > 0 && j0 % boxRows == 0 ? min(MLA_WG_KEYS, max(0, (kvEnd - j0) / boxRows * boxRows)) : 0;
        uint32_t* slot = offs + st * 2 * MLA_WG_KEYS;  // ckv offsets [64], kpe offsets [64]
        // Slot st was last read by the copies of tile t - 2, issued before the previous offsets
        // barrier that every copier passed.
        if (tid < 2 * MLA_WG_KEYS) {
            const int r = tid & (MLA_WG_KEYS - 1), j = j0 + r;
            uint32_t off = MLA_WG_NO_ROW;
            if (j < kvEnd && r >= tmaRows) {
                // 16-byte units: the plan checks that both pools fit 2^32 of them.
                off = tid < MLA_WG_KEYS ? (uint32_t) (keys.ckvRow(j) * 2 / 16) : (uint32_t) (keys.kpeRow(j) * 2 / 16);
            }
            slot[tid] = off;
        }
        wgNamedSync(1, 128);
        if (t >= 2) wgBarWait(kEmpty0 + 8 * st, ((t >> 1) + 1) & 1);
        uint8_t* dst = tiles + st * MLA_WG_OPERAND;
        if (tid == 0 && tmaRows > 0) {
            // Counted before this thread's arrival below, so the phase cannot complete without them.
            const uint32_t full = kFull0 + 8 * st, dstAddr = (uint32_t) __cvta_generic_to_shared(dst);
            tmaExpectBytes(full, tmaRows * MLA_WG_DK * 2);
            for (int r0 = 0; r0 < tmaRows; r0 += boxRows) {
                const int page = keys.page(j0 + r0), slot0 = keys.slot(j0 + r0);
#pragma unroll
                for (int s = 0; s < MLA_WG_DC / 64; ++s) {
                    tmaLoad3d(dstAddr + s * MLA_WG_SLAB + r0 * 128, &maps.ckv, 64 * s, slot0, page, full);
                }
                tmaLoad3d(dstAddr + (MLA_WG_DC / 64) * MLA_WG_SLAB + r0 * 128, &maps.kpe, 0, slot0, page, full);
            }
        }
        // Warp w copies rows w, w + 4, ...: each latent row as two copies of 512 contiguous bytes
        // (a lane's 16 bytes each), then the rotary rows four at a time, so that a copy
        // instruction asks L2 for 4 lines (5 where a row is not 128-byte aligned), not 16 parts.
#pragma unroll 4
        for (int i = 0; i < MLA_WG_KEYS / 4; ++i) {
            const int r = copyWarp + 4 * i;
            if (r < tmaRows) continue;
            const uint32_t off = slot[r];
            const bool valid = off != MLA_WG_NO_ROW;
            const uint8_t* src = p.ckv + (size_t) (valid ? off : 0u) * 16 + lane * 16;
            asyncCopy16(dst + mlaWgChunk(r, lane), src, valid);
            asyncCopy16(dst + mlaWgChunk(r, lane + 32), src + 512, valid);
        }
#pragma unroll
        for (int i = 0; i < MLA_WG_KEYS / 16; ++i) {
            const int r = copyWarp + 4 * (4 * i + (lane >> 3)), c = lane & 7;
            if (r < tmaRows) continue;
            const uint32_t off = slot[MLA_WG_KEYS + r];
            const bool valid = off != MLA_WG_NO_ROW;
            asyncCopy16(dst + mlaWgChunk(r, MLA_WG_DC / 8 + c), p.kpe + (size_t) (valid ? off : 0u) * 16 + c * 16, valid);
        }
        wgBarArriveCopies(kFull0 + 8 * st);
    }
    asyncCopyWait<0>();  // leave nothing in flight behind an exiting thread
}

// O half (columns 256 h .. 256 h + 255) += P V of the tile at tileAddr; P from registers.
template <int QT>
__device__ __forceinline__ void mlaWgIssuePVRegs(float (&o)[128], const uint32_t (&pf)[4][4], uint32_t tileAddr,
                                                 int h) {
    float (&lo)[64] = *reinterpret_cast<float (*)[64]>(&o[0]);
    float (&hi)[64] = *reinterpret_cast<float (*)[64]>(&o[64]);
    const uint32_t vLo = wgDescLo(tileAddr + 4 * h * MLA_WG_SLAB, MLA_WG_SLAB);
    const uint32_t vHi = vLo + ((2 * MLA_WG_SLAB) >> 4);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
        wgmmaPV<QT>(lo, pf[kk], vLo + ((kk * 16 * 128) >> 4));
        wgmmaPV<QT>(hi, pf[kk], vHi + ((kk * 16 * 128) >> 4));
    }
    wgCommit();
}

// The same with P from shared memory (K-major, one slab of 64 rows x 64 keys at pAddr).
template <int QT>
__device__ __forceinline__ void mlaWgIssuePVShared(float (&o)[128], uint32_t pAddr, uint32_t tileAddr, int h) {
    float (&lo)[64] = *reinterpret_cast<float (*)[64]>(&o[0]);
    float (&hi)[64] = *reinterpret_cast<float (*)[64]>(&o[64]);
    const uint32_t pLo = wgDescLo(pAddr, 16);
    const uint32_t vLo = wgDescLo(tileAddr + 4 * h * MLA_WG_SLAB, MLA_WG_SLAB);
    const uint32_t vHi = vLo + ((2 * MLA_WG_SLAB) >> 4);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
        wgmmaPVShared<QT>(lo, pLo + ((kk * 32) >> 4), vLo + ((kk * 16 * 128) >> 4));
        wgmmaPVShared<QT>(hi, pLo + ((kk * 32) >> 4), vHi + ((kk * 16 * 128) >> 4));
    }
    wgCommit();
}

// Writes one consumer's half of O (or its partial state) for the thread's two rows. O's
// accumulator i of a 64-column... n128 half: column 8 (i / 4) + 2 (lane % 4) + (i & 1), row
// (i >> 1) & 1 of the thread's pair.
template <int QT>
__device__ __forceinline__ void mlaWgWrite(const MlaParams& p, const float (&o)[128], const float (&m)[2],
                                           const float (&l)[2], int half, int item0, int items, int qoStart,
                                           int partialBase, int rowBase, int lane, bool writeLse) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int it = item0 + rowBase + 8 * r;
        if (it >= items) continue;
        const RowEnd end = finishRow(m[r], l[r], -INFINITY);
        const float scale = end.oScale * p.ckvScale;
        const int row = qoStart + it / p.heads, h = it % p.heads;
#pragma unroll
        for (int i = 0; i < 128; i += 2) {
            if (((i >> 1) & 1) != r) continue;
            const int nh = i >> 6, ii = i & 63;
            const int d = 256 * half + 128 * nh + 8 * (ii >> 2) + 2 * (lane & 3);
            mlaStorePair<QT>(p, row, h, it, partialBase, d, o[i] * scale, o[i + 1] * scale);
        }
        if (writeLse && (lane & 3) == 0) mlaStoreLse(p, row, h, it, partialBase, end.lse);
    }
}
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

template <int QT>
__device__ __forceinline__ void mlaWgmmaBody(const MlaParams& p, const MlaTensorMaps& maps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    // Named barriers (0 is __syncthreads): 1 the copier's row offsets; 2 P full (consumer 0
    // arrives, consumer 1 waits); 3 P empty (the other way); 4 the rows' ends.
    constexpr int NB_P_FULL = 2, NB_P_EMPTY = 3, NB_END = 4;
    extern __shared__ __align__(16) uint8_t smemRaw[];
    uint32_t* offs = reinterpret_cast<uint32_t*>(smemRaw);
    float* sAlpha = reinterpret_cast<float*>(smemRaw + 1088);
    float* sEnd = reinterpret_cast<float*>(smemRaw + 1344);  // maxima [64], then sums [64]
    const uint32_t smemAddr = (uint32_t) __cvta_generic_to_shared(smemRaw);
    const uint32_t qFull = smemAddr + 1024, kFull0 = qFull + 8, kEmpty0 = qFull + 24;
    const uint32_t rawAddr = smemAddr + MLA_WG_HEAD;
    const uint32_t pad = (1024u - (rawAddr & 1023u)) & 1023u;
    uint8_t* qs = smemRaw + MLA_WG_HEAD + pad;
    uint8_t* tiles = qs + MLA_WG_OPERAND;
    uint8_t* ps = tiles + 2 * MLA_WG_OPERAND;
    const uint32_t qAddr = rawAddr + pad, tilesAddr = qAddr + MLA_WG_OPERAND, pAddr = tilesAddr + 2 * MLA_WG_OPERAND;

    const int* w = p.work + MLA_WORK_INTS * blockIdx.x;
    const int b = w[0], item0 = w[1], kvStart = w[2], kvEnd0 = w[3], partialBase = w[4];
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart, kvLen = p.kvLens[b];
    const int items = qoLen * p.heads;
    const int lastItem = min(item0 + MLA_ITEMS, items) - 1;
    const int kvEnd = min(kvEnd0, mlaVisibleEnd(p, lastItem, qoLen, kvLen));
    const int nTiles = kvEnd > kvStart ? (kvEnd - kvStart + MLA_WG_KEYS - 1) / MLA_WG_KEYS : 0;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;

    if (tid == 0) {
        wgBarInit(qFull, 128);
        for (int s = 0; s < 2; ++s) {
            wgBarInit(kFull0 + 8 * s, 128);
            wgBarInit(kEmpty0 + 8 * s, 8);  // one arrival per consumer warp
        }
    }
    __syncthreads();  // the only block-wide barrier: the mbarriers are initialised

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
        if (nTiles > 0) {
            mlaWgCopier<QT>(p, maps, b, item0, items, qoStart, kvStart, kvEnd, nTiles, qs, tiles, offs, qFull,
                            kFull0, kEmpty0, tid);
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int cw = wg - 1;  // consumer 0 (S, softmax, O's first half) or 1 (O's second half)
    const int rowBase = 16 * (warp & 3) + (lane >> 2);  // the thread's rows: rowBase, rowBase + 8
    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    auto release = [&](int st) {
        if (lane == 0) wgBarArrive(kEmpty0 + 8 * st);
    };

    if (cw == 0) {
        const float scaleLog2 = p.smScale * p.ckvScale * 1.4426950408889634f;
        int visible[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int it = item0 + rowBase + 8 * r;
            visible[r] = it < items ? mlaVisibleEnd(p, it, qoLen, kvLen) : 0;
        }
        // P of the last tile, the A fragments of its four 16-key steps: declared here and pinned
        // after each wait, since the P V issued with them reads these registers until it lands.
        uint32_t pf[4][4];
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) pf[kk][0] = pf[kk][1] = pf[kk][2] = pf[kk][3] = 0u;
        if (nTiles > 0) wgBarWait(qFull, 0);
        for (int t = 0; t < nTiles; ++t) {
            const int st = t & 1, k0 = kvStart + t * MLA_WG_KEYS;
            const uint32_t tileAddr = tilesAddr + st * MLA_WG_OPERAND;
            if (t > 0) {
                // The last tile's P V has landed: its stage goes back to the copier before S of
                // this tile is issued, so the copy of tile t + 1 overlaps S, not only the softmax.
                wgWait<0>();
                wgKeepAll(o);
                wgKeepFragments(pf);
                release(st ^ 1);
            }
            wgBarWait(kFull0 + 8 * st, (t >> 1) & 1);
            // The copier's cp.async wrote through the generic proxy; the barrier wait made those
            // writes (and Q's) visible to this thread, the fence orders them before its wgmma's reads.
            wgProxyFence();
            // S = Q K^T over the 36 k-steps of the key: both operands 64-row, K-major.
            float s[32];
            {
                const uint32_t qLo = wgDescLo(qAddr, 16), kLo = wgDescLo(tileAddr, 16);
                wgFenceOperands(o, pf);
                wgmmaS<QT, false>(s, qLo, kLo);
#pragma unroll
                for (int kk = 1; kk < MLA_WG_DK / 16; ++kk) {
                    const uint32_t off = ((kk >> 2) * MLA_WG_SLAB + (kk & 3) * 32) >> 4;
                    wgmmaS<QT, true>(s, qLo + off, kLo + off);
                }
                wgCommit();
            }
            wgWait<0>();  // S of this tile has landed
            wgKeepAll(o);
            wgKeepFragments(pf);
#pragma unroll
            for (int i = 0; i < 32; ++i) wgKeep(s[i]);
            // Logits in base 2, masked past the chunk and each row's visible end.
            float rowMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int i = 0; i < 32; ++i) {
                const int r = (i >> 1) & 1, j = k0 + 8 * (i >> 2) + 2 * (lane & 3) + (i & 1);
                s[i] = j < kvEnd && j < visible[r] ? s[i] * scaleLog2 : -INFINITY;
                rowMax[r] = maxNan(rowMax[r], s[i]);
            }
            float alpha[2], mRef[2];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 1));
                rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 2));
                const float mNew = maxNan(m[r], rowMax[r]);
                mRef[r] = mNew == -INFINITY ? 0.f : mNew;  // a row with no key yet: every p is 0
                alpha[r] = fastExp2(m[r] - mRef[r]);
                m[r] = mNew;
            }
            float lTile[2] = {0.f, 0.f};
#pragma unroll
            for (int i = 0; i < 32; ++i) {
                s[i] = fastExp2(s[i] - mRef[(i >> 1) & 1]);
                lTile[(i >> 1) & 1] += s[i];
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) l[r] = fmaf(l[r], alpha[r], lTile[r]);
#pragma unroll
            for (int kk = 0; kk < 4; ++kk)
#pragma unroll
                for (int e = 0; e < 4; ++e) pf[kk][e] = Mma<QT>::pack(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
            // P and the rescale factors for consumer 1, once it is done with the last tile's.
            if (t > 0) wgNamedSync(NB_P_EMPTY, 256);
#pragma unroll
            for (int kk = 0; kk < 4; ++kk)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int row = rowBase + 8 * (e & 1);
                    *reinterpret_cast<uint32_t*>(ps + mlaWgChunk(row, 2 * kk + (e >> 1)) + 4 * (lane & 3)) = pf[kk][e];
                }
            if ((lane & 3) == 0) {
                sAlpha[rowBase] = alpha[0];
                sAlpha[rowBase + 8] = alpha[1];
            }
            wgProxyFence();  // generic stores of P, read next by consumer 1's wgmma
            wgNamedArrive(NB_P_FULL, 256);
#pragma unroll
            for (int i = 0; i < 128; ++i) o[i] *= alpha[(i >> 1) & 1];
            wgFenceOperands(o, pf);
            mlaWgIssuePVRegs<QT>(o, pf, tileAddr, 0);
        }
        wgWait<0>();
        wgKeepAll(o);
        wgKeepFragments(pf);
        if (nTiles > 0) release((nTiles - 1) & 1);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        }
        if ((lane & 3) == 0) {
            sEnd[rowBase] = m[0];
            sEnd[rowBase + 8] = m[1];
            sEnd[64 + rowBase] = l[0];
            sEnd[64 + rowBase + 8] = l[1];
        }
        wgNamedArrive(NB_END, 256);
        mlaWgWrite<QT>(p, o, m, l, 0, item0, items, qoStart, partialBase, rowBase, lane, true);
        return;
    }

    // Consumer 1: O's second half from P in shared memory.
    for (int t = 0; t < nTiles; ++t) {
        const int st = t & 1;
        const uint32_t tileAddr = tilesAddr + st * MLA_WG_OPERAND;
        wgNamedSync(NB_P_FULL, 256);
        wgBarWait(kFull0 + 8 * st, (t >> 1) & 1);  // landed long ago; this makes the copies visible here
        wgProxyFence();  // the tile's copies and consumer 0's P, before this warpgroup's wgmma reads them
        const float alpha[2] = {sAlpha[rowBase], sAlpha[rowBase + 8]};
#pragma unroll
        for (int i = 0; i < 128; ++i) o[i] *= alpha[(i >> 1) & 1];
#pragma unroll
        for (int i = 0; i < 128; ++i) wgKeep(o[i]);
        wgFence();
        mlaWgIssuePVShared<QT>(o, pAddr, tileAddr, 1);
        wgWait<0>();
        wgKeepAll(o);
        if (t + 1 < nTiles) wgNamedArrive(NB_P_EMPTY, 256);
        release(st);
    }
    wgNamedSync(NB_END, 256);
    const float mEnd[2] = {sEnd[rowBase], sEnd[rowBase + 8]};
    const float lEnd[2] = {sEnd[64 + rowBase], sEnd[64 + rowBase + 8]};
    mlaWgWrite<QT>(p, o, mEnd, lEnd, 1, item0, items, qoStart, partialBase, rowBase, lane, false);
#else
    __trap();  // wgmma exists only on sm_90a; the host selects this kernel there alone
#endif
}

}  // namespace attn4j
