// Multi-head latent attention (spec §13): every query head of a request attends over one shared
// latent KV head whose key is [ckv ; kpe] and whose value is ckv itself. The host (CudaMlaPlan)
// writes MlaParams byte for byte, checked by the param_sizes kernel.
//
// mlaTensorCoreBody: the query heads (and, in prefill, the rows) of a request are the M side of
// the Tensor Core products, MLA_ITEMS items per block, so each K/V tile a block stages is read
// once for all of them. A tile's [ckv ; kpe] rows serve first as the keys of S = Q K^T and then,
// their ckv part, as the values of O += P V: the cache is read once per tile, never twice.
// Eight warps: for S, warp w takes items 16 (w & 3) .. and keys 16 (w >> 2) .. of the tile; the
// scores go through shared memory, where one quad of threads per item runs the online softmax;
// for O, warp w takes items 16 (w & 3) .. and the half (w >> 2) of the latent dim.
//
// mlaGenericBody: one warp per (row, head) on CUDA cores, any dims and dtypes; the fallback.
#pragma once
#include "../primitives/mma_sync.cuh"
#include "state.cuh"

namespace attn4j {

constexpr int MLA_ITEMS = 64;       // (row, head) items per Tensor Core block: 4 m16 tiles
constexpr int MLA_KEYS = 32;        // keys per staged tile
constexpr int MLA_WARPS = 8;
constexpr int MLA_THREADS = 32 * MLA_WARPS;
constexpr int MLA_MAX_CKV = 512;    // the largest latent dim the Tensor Core kernel's registers hold
constexpr int MLA_WORK_INTS = 5;    // request, first item, first key, end key, partial base (-1: direct)
constexpr int MLA_MERGE_INTS = 4;   // request, partial base, splits, items of the request
constexpr int MLA_GENERIC_WARPS = 8;

// 8-byte fields first, then 4-byte ones; the host writes the same bytes.
struct MlaParams {
    const void* qn;      // [rows, heads, dc] view
    const void* qp;      // [rows, heads, dp] view
    const uint8_t* ckv;  // pools [pages, pageSize, d] with a page stride
    const uint8_t* kpe;
    void* o;             // [rows, heads, dc] view
    float* lse;          // [rows, heads] contiguous, or null
    const int* qoIndptr;
    const int* kvIndptr;
    const int* kvIndices;
    const int* kvLens;
    const int* work;     // MLA_WORK_INTS per Tensor Core block
    const int* rowRequest;  // the request of each query row (the generic kernel's)
    const int* merge;    // MLA_MERGE_INTS per split request
    float* partialO;     // [slots, dc]
    float* partialLse;   // [slots]
    long long qnTok, qnHead, qpTok, qpHead, oTok, oHead;
    long long ckvOffset, kpeOffset, ckvPageStride, kpePageStride;
    int heads, dc, dp, pageSize, pageShift, causal;  // pageShift: log2(pageSize) when a power of two, else -1
    float smScale, ckvScale, kpeScale;
    int totalItems;      // rows * heads (the generic kernel's grid)
    int mergeBlocks;     // blocks of the merge per split request
};

struct MlaKeys {
    const MlaParams& p;
    int pageBase;
    __device__ __forceinline__ int page(int j) const {
        return p.kvIndices[pageBase + (p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize)];
    }
    __device__ __forceinline__ int slot(int j) const {
        return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize;
    }
    __device__ __forceinline__ long long ckvRow(int j) const {
        return p.ckvOffset + (long long) page(j) * p.ckvPageStride + (long long) slot(j) * p.dc;
    }
    __device__ __forceinline__ long long kpeRow(int j) const {
        return p.kpeOffset + (long long) page(j) * p.kpePageStride + (long long) slot(j) * p.dp;
    }
};

// The last key (exclusive) item `it` of request b may see: its query position + 1 when causal.
__device__ __forceinline__ int mlaVisibleEnd(const MlaParams& p, int it, int qoLen, int kvLen) {
    if (!p.causal) return kvLen;
    const int row = it / p.heads;
    const long long pq = (long long) row + kvLen - qoLen;
    return (int) max(0LL, min((long long) kvLen, pq + 1));
}

// Shared memory of the Tensor Core kernel, in elements of the 16-bit q type unless said. Rows are
// padded by 8 elements so that ldmatrix's eight 16-byte rows fall in distinct banks.
struct MlaSmem {
    int dk, rowK;  // key dim dc + dp; its padded row
    __device__ __host__ static constexpr int rowP() { return MLA_KEYS + 8; }
    __device__ __host__ static constexpr int rowS() { return MLA_KEYS + 4; }  // floats
    __device__ __host__ int qElems() const { return MLA_ITEMS * rowK; }
    __device__ __host__ int stageElems() const { return MLA_KEYS * rowK; }
    __device__ __host__ int bytes() const {
        return 2 * (qElems() + 2 * stageElems() + MLA_ITEMS * rowP()) + 4 * (MLA_ITEMS * rowS() + 3 * MLA_ITEMS);
    }
};

// Stages keys [k0, k0 + MLA_KEYS) of the chunk into one stage: [ckv ; kpe] per key, rows past
// kvEnd zero. 16-bit caches copy without waiting; FP8 ones convert to q's type on the way.
template <int QT, int KT>
__device__ __forceinline__ void mlaStageKeys(const MlaParams& p, const MlaKeys& keys, uint16_t* stage, int rowK,
                                             int k0, int kvEnd) {
    constexpr int KB = Elem<KT>::bytes;
    constexpr int PER16 = 16 / KB;  // cache elements per 16-byte read
    const int cChunks = p.dc / PER16, pChunks = p.dp / PER16, perKey = cChunks + pChunks;
    for (int c = threadIdx.x; c < MLA_KEYS * perKey; c += MLA_THREADS) {
        const int r = c / perKey, part = c - r * perKey;
        const int j = k0 + r;
        const bool valid = j < kvEnd;
        const bool latent = part < cChunks;
        const int e = (latent ? part : part - cChunks) * PER16;  // element within its row
        const uint8_t* src = latent ? p.ckv : p.kpe;
        if (valid) src += ((latent ? keys.ckvRow(j) : keys.kpeRow(j)) + e) * KB;
        uint16_t* dst = stage + r * rowK + (latent ? 0 : p.dc) + e;
        if (KB == 2) {
            asyncCopy16(dst, src, valid);
        } else {
            uint4 raw = valid ? *reinterpret_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
            const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
            uint32_t out[8];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                out[2 * i] = fp8PairToMma<QT, KT>(w[i] & 0xFFFFu);
                out[2 * i + 1] = fp8PairToMma<QT, KT>(w[i] >> 16);
            }
            reinterpret_cast<uint4*>(dst)[0] = make_uint4(out[0], out[1], out[2], out[3]);
            reinterpret_cast<uint4*>(dst)[1] = make_uint4(out[4], out[5], out[6], out[7]);
        }
    }
    asyncCopyCommit();
}

template <int QT, int KT>
__device__ __forceinline__ void mlaTensorCoreBody(const MlaParams& p) {
    extern __shared__ __align__(16) uint8_t smemRaw[];
    const int* w = p.work + MLA_WORK_INTS * blockIdx.x;
    const int b = w[0], item0 = w[1], kvStart = w[2], kvEnd0 = w[3], partialBase = w[4];
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart, kvLen = p.kvLens[b];
    const int items = qoLen * p.heads;
    const int dk = p.dc + p.dp;
    const MlaSmem L{dk, dk + 8};
    uint16_t* sQ = reinterpret_cast<uint16_t*>(smemRaw);
    uint16_t* sK = sQ + L.qElems();
    uint16_t* sP = sK + 2 * L.stageElems();
    float* sS = reinterpret_cast<float*>(sP + MLA_ITEMS * MlaSmem::rowP());
    float* sAlpha = sS + MLA_ITEMS * MlaSmem::rowS();
    float* sM = sAlpha + MLA_ITEMS;
    float* sL = sM + MLA_ITEMS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const MlaKeys keys{p, p.kvIndptr[b]};

    // The keys any of this block's items sees: causal rows end early, and the last item sees most.
    const int lastItem = min(item0 + MLA_ITEMS, items) - 1;
    const int kvEnd = min(kvEnd0, mlaVisibleEnd(p, lastItem, qoLen, kvLen));
    const int tiles = kvEnd > kvStart ? (kvEnd - kvStart + MLA_KEYS - 1) / MLA_KEYS : 0;
    if (tiles > 0) mlaStageKeys<QT, KT>(p, keys, sK, L.rowK, kvStart, kvEnd);

    // Q of the block's items, [qn ; qp] per item in q's type; items past the request are zero.
    for (int c = threadIdx.x; c < MLA_ITEMS * dk; c += MLA_THREADS) {
        const int i = c / dk, d = c - i * dk, it = item0 + i;
        uint32_t bits = 0;
        if (it < items) {
            const int row = qoStart + it / p.heads, h = it % p.heads;
            bits = d < p.dc ? reinterpret_cast<const uint16_t*>(p.qn)[row * p.qnTok + h * p.qnHead + d]
                            : reinterpret_cast<const uint16_t*>(p.qp)[row * p.qpTok + h * p.qpHead + d - p.dc];
        }
        sQ[i * L.rowK + d] = (uint16_t) bits;
    }

    // The softmax quad of item (threadIdx.x >> 2): its running maximum (base 2) and sum.
    const int sItem = threadIdx.x >> 2, sQuarter = threadIdx.x & 3;
    const int sVisible = mlaVisibleEnd(p, item0 + sItem, qoLen, kvLen);
    float m = -INFINITY, l = 0.f;
    const float LOG2E = 1.4426950408889634f;
    const float cScale = p.smScale * p.ckvScale * LOG2E, pScale = p.smScale * p.kpeScale * LOG2E;

    const int mt = warp & 3, half = warp >> 2;
    const int hw = p.dc / 2;  // latent columns of this warp's half of O
    float o[MLA_MAX_CKV / 16][4];
#pragma unroll
    for (int nb = 0; nb < MLA_MAX_CKV / 16; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;

    for (int t = 0; t < tiles; ++t) {
        const int k0 = kvStart + t * MLA_KEYS;
        asyncCopyWait<0>();
        __syncthreads();  // tile t is staged; every warp is done with tile t - 1's stage and P
        if (t + 1 < tiles) mlaStageKeys<QT, KT>(p, keys, sK + ((t + 1) & 1) * L.stageElems(), L.rowK,
                                                k0 + MLA_KEYS, kvEnd);
        const uint16_t* stage = sK + (t & 1) * L.stageElems();

        // S = Q K^T: 16 items x 16 keys per warp, the latent and rotary parts apart (their scales differ).
        float sc[2][4] = {}, sr[2][4] = {};
        const uint16_t* qa = sQ + (mt * 16 + (lane & 15)) * L.rowK + (lane >> 4) * 8;
        const uint16_t* kb = stage + (half * 16 + (lane & 7) + ((lane >> 4) << 3)) * L.rowK + ((lane >> 3) & 1) * 8;
        for (int k = 0; k < p.dc; k += 16) {
            uint32_t a[4], bk[4];
            ldmatrixX4(a, qa + k);
            ldmatrixX4(bk, kb + k);
            Mma<QT>::run(sc[0], a, bk[0], bk[1]);
            Mma<QT>::run(sc[1], a, bk[2], bk[3]);
        }
        for (int k = p.dc; k < dk; k += 16) {
            uint32_t a[4], bk[4];
            ldmatrixX4(a, qa + k);
            ldmatrixX4(bk, kb + k);
            Mma<QT>::run(sr[0], a, bk[0], bk[1]);
            Mma<QT>::run(sr[1], a, bk[2], bk[3]);
        }
#pragma unroll
        for (int nb = 0; nb < 2; ++nb) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int i = mt * 16 + (lane >> 2) + 8 * (e >> 1);
                const int col = half * 16 + nb * 8 + (lane & 3) * 2 + (e & 1);
                sS[i * MlaSmem::rowS() + col] = fmaf(sc[nb][e], cScale, sr[nb][e] * pScale);
            }
        }
        __syncthreads();

        // Online softmax, a quad per item, 8 keys per thread; masked keys weigh nothing.
        {
            float x[8];
            float tileMax = -INFINITY;
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const int col = sQuarter * 8 + e, j = k0 + col;
                x[e] = j < kvEnd && j < sVisible ? sS[sItem * MlaSmem::rowS() + col] : -INFINITY;
                tileMax = maxNan(tileMax, x[e]);
            }
            tileMax = maxNan(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            tileMax = maxNan(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 2));
            const float mNew = maxNan(m, tileMax);
            const float mUse = mNew == -INFINITY ? 0.f : mNew;  // no key yet: every p is 0
            const float alpha = exp2f(m - mUse);
            float sum = 0.f;
            uint32_t packed[4];
#pragma unroll
            for (int e = 0; e < 8; e += 2) {
                const float p0 = exp2f(x[e] - mUse), p1 = exp2f(x[e + 1] - mUse);
                sum += p0 + p1;
                packed[e >> 1] = Mma<QT>::pack(p0, p1);
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            l = fmaf(l, alpha, sum);
            m = mNew;
            *reinterpret_cast<uint4*>(sP + sItem * MlaSmem::rowP() + sQuarter * 8) =
                make_uint4(packed[0], packed[1], packed[2], packed[3]);
            if (sQuarter == 0) sAlpha[sItem] = alpha;
        }
        __syncthreads();

        // O = alpha O + P V: the values are the staged ckv rows, read through ldmatrix.trans.
        const float a0 = sAlpha[mt * 16 + (lane >> 2)], a1 = sAlpha[mt * 16 + (lane >> 2) + 8];
        if (!__all_sync(0xffffffffu, a0 == 1.f && a1 == 1.f)) {
#pragma unroll
            for (int nb = 0; nb < MLA_MAX_CKV / 16; ++nb) {
                o[nb][0] *= a0;
                o[nb][1] *= a0;
                o[nb][2] *= a1;
                o[nb][3] *= a1;
            }
        }
        const uint16_t* pa = sP + (mt * 16 + (lane & 15)) * MlaSmem::rowP() + (lane >> 4) * 8;
#pragma unroll
        for (int ks = 0; ks < MLA_KEYS / 16; ++ks) {
            uint32_t a[4];
            ldmatrixX4(a, pa + ks * 16);
            const int key = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const uint16_t* vrow = stage + key * L.rowK + half * hw + (lane >> 4) * 8;
#pragma unroll
            for (int nb = 0; nb < MLA_MAX_CKV / 16; nb += 2) {
                if (nb * 8 < hw) {
                    uint32_t bv[4];
                    ldmatrixX4Trans(bv, vrow + nb * 8);
                    Mma<QT>::run(o[nb], a, bv[0], bv[1]);
                    Mma<QT>::run(o[nb + 1], a, bv[2], bv[3]);
                }
            }
        }
    }

    // Each item's end: the quad hands m and l to the O warps, which scale and write.
    if (sQuarter == 0) {
        sM[sItem] = m;
        sL[sItem] = l;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = mt * 16 + (lane >> 2) + 8 * r, it = item0 + i;
        if (it >= items) continue;
        const RowEnd end = finishRow(sM[i], sL[i], -INFINITY);
        const float scale = end.oScale * p.ckvScale;  // the values are ckv, dequantised
        const int row = qoStart + it / p.heads, h = it % p.heads;
#pragma unroll
        for (int nb = 0; nb < MLA_MAX_CKV / 16; ++nb) {
            if (nb * 8 < hw) {
                const int d = half * hw + nb * 8 + (lane & 3) * 2;
                const float x0 = o[nb][2 * r] * scale, x1 = o[nb][2 * r + 1] * scale;
                if (partialBase < 0) {
                    const long long at = row * p.oTok + h * p.oHead + d;
                    storeElem<QT>(p.o, at, x0);
                    storeElem<QT>(p.o, at + 1, x1);
                } else {
                    float* po = p.partialO + (long long) (partialBase + it) * p.dc + d;
                    po[0] = x0;
                    po[1] = x1;
                }
            }
        }
        if ((lane & 3) == 0 && half == 0) {
            if (partialBase >= 0) {
                p.partialLse[partialBase + it] = end.lse;
            } else if (p.lse != nullptr) {
                p.lse[(long long) row * p.heads + h] = end.lse;
            }
        }
    }
}

// The split requests' partial states, merged: one warp per (item, request), lanes over the latent dim.
template <int QT>
__device__ __forceinline__ void mlaMergeBody(const MlaParams& p) {
    const int entry = blockIdx.x / p.mergeBlocks, block = blockIdx.x - entry * p.mergeBlocks;
    const int* e = p.merge + MLA_MERGE_INTS * entry;
    const int b = e[0], base = e[1], splits = e[2], items = e[3];
    const int it = block * MLA_GENERIC_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (it >= items) return;
    float mx = -INFINITY;
    for (int s = 0; s < splits; ++s) mx = maxNan(mx, p.partialLse[base + s * items + it]);
    const bool empty = mx == -INFINITY;
    float total = 0.f;
    for (int s = 0; s < splits; ++s) total += empty ? 0.f : expf(p.partialLse[base + s * items + it] - mx);
    const int row = p.qoIndptr[b] + it / p.heads, h = it % p.heads;
    for (int d = lane; d < p.dc; d += 32) {
        float a = 0.f;
        for (int s = 0; s < splits; ++s) {
            const long long slot = base + (long long) s * items + it;
            const float wgt = empty ? 0.f : expf(p.partialLse[slot] - mx);
            if (wgt > 0.f) a = fmaf(wgt, p.partialO[slot * p.dc + d], a);
        }
        storeElem<QT>(p.o, row * p.oTok + h * p.oHead + d, empty ? 0.f : a / total);
    }
    if (lane == 0 && p.lse != nullptr) p.lse[(long long) row * p.heads + h] = empty ? -INFINITY : mx + logf(total);
}

// One warp per (row, head) on CUDA cores: any dims up to 32 * MLA_GENERIC_LANE_DC latent and
// 32 * MLA_GENERIC_LANE_DP rotary elements, any q and cache dtypes.
constexpr int MLA_GENERIC_LANE_DC = MLA_MAX_CKV / 32;
constexpr int MLA_GENERIC_LANE_DP = 8;

template <int QT, int KT>
__device__ __forceinline__ void mlaGenericBody(const MlaParams& p) {
    const int it = blockIdx.x * MLA_GENERIC_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (it >= p.totalItems) return;
    const int row = it / p.heads, h = it - row * p.heads, b = p.rowRequest[row];
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart, kvLen = p.kvLens[b];
    const int visible = mlaVisibleEnd(p, (row - qoStart) * p.heads + h, qoLen, kvLen);
    const MlaKeys keys{p, p.kvIndptr[b]};
    const float LOG2E = 1.4426950408889634f;
    float qc[MLA_GENERIC_LANE_DC], qr[MLA_GENERIC_LANE_DP], acc[MLA_GENERIC_LANE_DC];
#pragma unroll
    for (int i = 0; i < MLA_GENERIC_LANE_DC; ++i) {
        const int d = lane + 32 * i;
        qc[i] = d < p.dc ? loadElem<QT>(p.qn, row * p.qnTok + h * p.qnHead + d) * (p.smScale * p.ckvScale * LOG2E)
                         : 0.f;
        acc[i] = 0.f;
    }
#pragma unroll
    for (int i = 0; i < MLA_GENERIC_LANE_DP; ++i) {
        const int d = lane + 32 * i;
        qr[i] = d < p.dp ? loadElem<QT>(p.qp, row * p.qpTok + h * p.qpHead + d) * (p.smScale * p.kpeScale * LOG2E)
                         : 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j = 0; j < visible; ++j) {
        const long long c = keys.ckvRow(j), r = keys.kpeRow(j);
        float v[MLA_GENERIC_LANE_DC];
        float x = 0.f;
#pragma unroll
        for (int i = 0; i < MLA_GENERIC_LANE_DC; ++i) {
            const int d = lane + 32 * i;
            v[i] = d < p.dc ? loadElem<KT>(p.ckv, c + d) : 0.f;
            x = fmaf(qc[i], v[i], x);
        }
#pragma unroll
        for (int i = 0; i < MLA_GENERIC_LANE_DP; ++i) {
            const int d = lane + 32 * i;
            if (d < p.dp) x = fmaf(qr[i], loadElem<KT>(p.kpe, r + d), x);
        }
        x = warpSum(x);
        if (x == -INFINITY) continue;  // weighs nothing, like a masked key
        const float mNew = maxNan(m, x);
        const float alpha = exp2f(m - mNew), pj = exp2f(x - mNew);
        l = fmaf(l, alpha, pj);
#pragma unroll
        for (int i = 0; i < MLA_GENERIC_LANE_DC; ++i) acc[i] = fmaf(acc[i], alpha, pj * v[i]);
        m = mNew;
    }
    const RowEnd end = finishRow(m, l, -INFINITY);
    const float scale = end.oScale * p.ckvScale;
#pragma unroll
    for (int i = 0; i < MLA_GENERIC_LANE_DC; ++i) {
        const int d = lane + 32 * i;
        if (d < p.dc) storeElem<QT>(p.o, row * p.oTok + h * p.oHead + d, acc[i] * scale);
    }
    if (lane == 0 && p.lse != nullptr) p.lse[(long long) row * p.heads + h] = end.lse;
}

}  // namespace attn4j
