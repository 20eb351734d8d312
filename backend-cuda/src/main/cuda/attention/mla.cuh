// Multi-head latent attention (spec §13): every query head of a request attends over one shared
// latent KV head whose key is [ckv ; kpe] and whose value is ckv itself. The host (CudaMlaPlan)
// writes MlaParams byte for byte, checked by the param_sizes kernel.
//
// mlaTensorCoreBody: the query heads (and, in prefill, the rows) of a request are the M side of
// the Tensor Core products, MLA_ITEMS items per block, so each K/V tile a block stages is read
// once for all of them. A tile's [ckv ; kpe] rows serve first as the keys of S = Q K^T and then,
// their ckv part, as the values of O += P V: the cache is read once per tile, never twice.
// MLA_WPT warps per 16 items: for S each sums a share of the key dim and they swap partial
// sums through shared memory (a barrier of those warps alone), so all hold the tile's scores in
// registers and run the same online softmax; for O each takes a share of the latent dim, its
// probabilities as the A operand straight from registers.
//
// mlaGenericBody: one warp per (row, head) on CUDA cores, any dims and dtypes; the fallback.
#pragma once
#include "../primitives/mma_sync.cuh"
#include "state.cuh"

namespace attn4j {

constexpr int MLA_ITEMS = 64;       // (row, head) items per Tensor Core block: 4 m16 tiles
constexpr int MLA_KEYS = 32;        // keys per staged tile
constexpr int MLA_STAGES = 3;       // key tiles in flight
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

// The Tensor Core kernel's shape: MLA_WPT warps share each m16 tile of items (4 tiles, MLA_ITEMS
// items per block), splitting the key dim of S and the latent dim of O between them.
constexpr int MLA_WPT = 2;
constexpr int MLA_WARPS = 4 * MLA_WPT;
constexpr int MLA_THREADS = 32 * MLA_WARPS;
constexpr int MLA_O_TILES = MLA_MAX_CKV / MLA_WPT / 8;  // n8 tiles of O a warp can hold
static_assert(MLA_THREADS % MLA_KEYS == 0 && MLA_THREADS % MLA_ITEMS == 0, "threads per key and per item");

// Shared memory of the Tensor Core kernel: Q and MLA_STAGES key tiles in elements of the 16-bit q
// type, rows padded by 8 elements so that ldmatrix's eight 16-byte rows fall in distinct banks;
// then each warp's swap buffer of partial scores (16 floats per lane).
struct MlaSmem {
    int dk, rowK;  // key dim dc + dp; its padded row
    __device__ __host__ int qElems() const { return MLA_ITEMS * rowK; }
    __device__ __host__ int stageElems() const { return MLA_KEYS * rowK; }
    __device__ __host__ int bytes() const { return 2 * (qElems() + MLA_STAGES * stageElems()) + 4 * MLA_THREADS * 16; }
};

// Stages keys [k0, k0 + MLA_KEYS) of the chunk into one stage: [ckv ; kpe] per key, rows past
// kvEnd zero. MLA_THREADS / MLA_KEYS threads per key, so each looks its key's page up once;
// 16-bit caches copy without waiting, FP8 ones convert to q's type on the way.
template <int QT, int KT>
__device__ __forceinline__ void mlaStageKeys(const MlaParams& p, const MlaKeys& keys, uint16_t* stage, int rowK,
                                             int k0, int kvEnd) {
    constexpr int TPK = MLA_THREADS / MLA_KEYS;
    const int dc = p.dc, dp = p.dp;
    constexpr int KB = Elem<KT>::bytes;
    constexpr int PER16 = 16 / KB;  // cache elements per 16-byte read
    const int r = threadIdx.x / TPK, j = k0 + r;
    const bool valid = j < kvEnd;
    const int cChunks = dc / PER16, perKey = cChunks + dp / PER16;
    const uint8_t* ckvRow = p.ckv;
    const uint8_t* kpeRow = p.kpe;
    if (valid) {
        const int page = keys.page(j), slot = keys.slot(j);
        ckvRow += (p.ckvOffset + (long long) page * p.ckvPageStride + (long long) slot * dc) * KB;
        kpeRow += (p.kpeOffset + (long long) page * p.kpePageStride + (long long) slot * dp) * KB;
    }
    uint16_t* dstRow = stage + r * rowK;
#pragma unroll 4
    for (int part = threadIdx.x % TPK; part < perKey; part += TPK) {
        const bool latent = part < cChunks;
        const int e = (latent ? part : part - cChunks) * PER16;  // element within its row
        const uint8_t* src = valid ? (latent ? ckvRow : kpeRow) + e * KB : p.ckv;
        uint16_t* dst = dstRow + (latent ? 0 : dc) + e;
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

// S steps [ks0, ks1) (16 key-dim elements each) of a warp's 16 items over the tile's 32 keys,
// accumulated into acc.
template <int QT>
__device__ __forceinline__ void mlaScoreSteps(float (&acc)[4][4], const uint16_t* qa, const uint16_t* kb, int rowK,
                                              int ks0, int ks1) {
    for (int ks = ks0; ks < ks1; ++ks) {
        uint32_t a[4], b0[4], b1[4];
        ldmatrixX4(a, qa + ks * 16);
        ldmatrixX4(b0, kb + ks * 16);
        ldmatrixX4(b1, kb + 16 * rowK + ks * 16);
        Mma<QT>::run(acc[0], a, b0[0], b0[1]);
        Mma<QT>::run(acc[1], a, b0[2], b0[3]);
        Mma<QT>::run(acc[2], a, b1[0], b1[1]);
        Mma<QT>::run(acc[3], a, b1[2], b1[3]);
    }
}

// The end of item `it` (request row `row`, head h): two adjacent latent columns d, d + 1 of O
// (already normalised) and its lse, into o / lse directly or into the split's partial state.
template <int QT>
__device__ __forceinline__ void mlaStorePair(const MlaParams& p, int row, int h, int it, int partialBase, int d,
                                             float x0, float x1) {
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
__device__ __forceinline__ void mlaStoreLse(const MlaParams& p, int row, int h, int it, int partialBase, float lse) {
    if (partialBase >= 0) {
        p.partialLse[partialBase + it] = lse;
    } else if (p.lse != nullptr) {
        p.lse[(long long) row * p.heads + h] = lse;
    }
}

template <int QT, int KT>
__device__ __forceinline__ void mlaTensorCoreBody(const MlaParams& p) {
    constexpr int WPT = MLA_WPT;
    extern __shared__ __align__(16) uint8_t smemRaw[];
    const int dc = p.dc, dk = dc + p.dp;
    const int* w = p.work + MLA_WORK_INTS * blockIdx.x;
    const int b = w[0], item0 = w[1], kvStart = w[2], kvEnd0 = w[3], partialBase = w[4];
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart, kvLen = p.kvLens[b];
    const int items = qoLen * p.heads;
    const MlaSmem L{dk, dk + 8};
    uint16_t* sQ = reinterpret_cast<uint16_t*>(smemRaw);
    uint16_t* sK = sQ + L.qElems();
    float4* sX = reinterpret_cast<float4*>(sK + MLA_STAGES * L.stageElems());  // [warp][4][lane]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const MlaKeys keys{p, p.kvIndptr[b]};

    // The keys any of this block's items sees: causal rows end early, and the last item sees most.
    const int lastItem = min(item0 + MLA_ITEMS, items) - 1;
    const int kvEnd = min(kvEnd0, mlaVisibleEnd(p, lastItem, qoLen, kvLen));
    const int tiles = kvEnd > kvStart ? (kvEnd - kvStart + MLA_KEYS - 1) / MLA_KEYS : 0;
#pragma unroll
    for (int s = 0; s < MLA_STAGES - 1; ++s) {
        if (s < tiles) {
            mlaStageKeys<QT, KT>(p, keys, sK + s * L.stageElems(), L.rowK, kvStart + s * MLA_KEYS, kvEnd);
        } else {
            asyncCopyCommit();
        }
    }

    // Q of the block's items, [qn ; qp] per item in q's type; items past the request are zero.
    {
        constexpr int TPI = MLA_THREADS / MLA_ITEMS;
        const int i = threadIdx.x / TPI, it = item0 + i;
        const bool live = it < items;
        const int row = qoStart + (live ? it / p.heads : 0), h = live ? it % p.heads : 0;
        const uint16_t* qn = reinterpret_cast<const uint16_t*>(p.qn) + row * p.qnTok + h * p.qnHead;
        const uint16_t* qp = reinterpret_cast<const uint16_t*>(p.qp) + row * p.qpTok + h * p.qpHead - dc;
#pragma unroll 8
        for (int d = threadIdx.x % TPI; d < dk; d += TPI) {
            sQ[i * L.rowK + d] = live ? (d < dc ? qn[d] : qp[d]) : (uint16_t) 0;
        }
    }

    // The WPT warps of items 16 mt .. 16 mt + 15 each sum a share of the key dim's 16-wide steps
    // of S over all the tile's keys and swap partial sums through shared memory (a barrier of
    // those warps alone); each then adds the shares in the same order, so all hold the same
    // scores and run the same online softmax. For O each takes 1 / WPT of the latent dim.
    const int mt = warp / WPT, part = warp % WPT;
    const int steps = dk / 16, dcSteps = dc / 16;
    const int ks0 = part * steps / WPT, ks1 = (part + 1) * steps / WPT;
    const int cw = dc / WPT;  // latent columns of this warp's share of O
    const float LOG2E = 1.4426950408889634f;
    const float cScale = p.smScale * p.ckvScale * LOG2E, pScale = p.smScale * p.kpeScale * LOG2E;
    // The thread's two items (fragment rows) and the keys they may see.
    const int rowVisible0 = mlaVisibleEnd(p, item0 + mt * 16 + (lane >> 2), qoLen, kvLen);
    const int rowVisible1 = mlaVisibleEnd(p, item0 + mt * 16 + (lane >> 2) + 8, qoLen, kvLen);
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[MLA_O_TILES][4];
#pragma unroll
    for (int nb = 0; nb < MLA_O_TILES; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;
    float4* mine = sX + warp * 4 * 32 + lane;
    const float4* group = sX + mt * WPT * 4 * 32 + lane;

    for (int t = 0; t < tiles; ++t) {
        const int k0 = kvStart + t * MLA_KEYS;
        asyncCopyWait<MLA_STAGES - 2>();
        __syncthreads();  // tile t is staged; every warp is done with tile t - 1 and its swap buffer
        {
            const int next = t + MLA_STAGES - 1;
            if (next < tiles) {
                mlaStageKeys<QT, KT>(p, keys, sK + (next % MLA_STAGES) * L.stageElems(), L.rowK,
                                     kvStart + next * MLA_KEYS, kvEnd);
            } else {
                asyncCopyCommit();  // an empty group keeps the wait count above in step
            }
        }
        const uint16_t* stage = sK + (t % MLA_STAGES) * L.stageElems();

        // This warp's share of S = Q K^T; latent and rotary steps apart (their scales differ).
        float sc[4][4] = {}, sr[4][4] = {};
        const uint16_t* qa = sQ + (mt * 16 + (lane & 15)) * L.rowK + (lane >> 4) * 8;
        const uint16_t* kb = stage + ((lane & 7) + ((lane >> 4) << 3)) * L.rowK + ((lane >> 3) & 1) * 8;
        mlaScoreSteps<QT>(sc, qa, kb, L.rowK, ks0, min(ks1, dcSteps));
        mlaScoreSteps<QT>(sr, qa, kb, L.rowK, max(ks0, dcSteps), ks1);
#pragma unroll
        for (int nb = 0; nb < 4; ++nb) {
            mine[nb * 32] = make_float4(fmaf(sc[nb][0], cScale, sr[nb][0] * pScale),
                                        fmaf(sc[nb][1], cScale, sr[nb][1] * pScale),
                                        fmaf(sc[nb][2], cScale, sr[nb][2] * pScale),
                                        fmaf(sc[nb][3], cScale, sr[nb][3] * pScale));
        }
        // The tile's warps only: a named barrier (0 is __syncthreads').
        asm volatile("bar.sync %0, %1;\n" ::"r"(1 + mt), "r"(32 * WPT) : "memory");
        float s[4][4];
        float rowMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nb = 0; nb < 4; ++nb) {
            float4 x = group[nb * 32];
#pragma unroll
            for (int g = 1; g < WPT; ++g) {
                const float4 y = group[(g * 4 + nb) * 32];
                x = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
            }
            const float v[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int j = k0 + nb * 8 + (lane & 3) * 2 + (e & 1);
                const bool ok = j < kvEnd && j < (e < 2 ? rowVisible0 : rowVisible1);
                s[nb][e] = ok ? v[e] : -INFINITY;
                rowMax[e >> 1] = maxNan(rowMax[e >> 1], s[nb][e]);
            }
        }
        onlineSoftmaxStep(s, o, m, l, rowMax);

        // O += P V for this warp's share of the latent dim: the values are the staged ckv rows.
#pragma unroll
        for (int kk = 0; kk < MLA_KEYS / 16; ++kk) {
            uint32_t a[4];
            a[0] = Mma<QT>::pack(s[2 * kk][0], s[2 * kk][1]);
            a[1] = Mma<QT>::pack(s[2 * kk][2], s[2 * kk][3]);
            a[2] = Mma<QT>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            a[3] = Mma<QT>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
            const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const uint16_t* vrow = stage + key * L.rowK + part * cw + (lane >> 4) * 8;
#pragma unroll
            for (int nb = 0; nb < MLA_O_TILES; nb += 2) {
                if (nb * 8 < cw) {
                    uint32_t bv[4];
                    ldmatrixX4Trans(bv, vrow + nb * 8);
                    Mma<QT>::run(o[nb], a, bv[0], bv[1]);
                    Mma<QT>::run(o[nb + 1], a, bv[2], bv[3]);
                }
            }
        }
    }
    asyncCopyWait<0>();

    // Each item's end: the quad's partial sums make the row's l; every warp of the tile holds it.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        const int it = item0 + mt * 16 + (lane >> 2) + 8 * r;
        if (it >= items) continue;
        const RowEnd end = finishRow(m[r], l[r], -INFINITY);
        const float scale = end.oScale * p.ckvScale;  // the values are ckv, dequantised
        const int row = qoStart + it / p.heads, h = it % p.heads;
#pragma unroll
        for (int nb = 0; nb < MLA_O_TILES; ++nb) {
            if (nb * 8 < cw) {
                const int d = part * cw + nb * 8 + (lane & 3) * 2;
                mlaStorePair<QT>(p, row, h, it, partialBase, d, o[nb][2 * r] * scale, o[nb][2 * r + 1] * scale);
            }
        }
        if ((lane & 3) == 0 && part == 0) mlaStoreLse(p, row, h, it, partialBase, end.lse);
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
