// Generic batch attention over a paged KV view: decode, prefill, ragged and single calls all
// arrive here as one problem (see org.attn4j.spi.AttentionProblem).
//
// A block owns one KV head and up to WARPS * IPW (query row, head of the group) items of one
// request, so each K/V byte it loads serves the whole GQA group and several rows. Keys stream
// through shared memory in tiles of TK: the next tile's 8-byte vectors are loaded into
// registers while the current one is computed. A work item may cover only a slice of the keys
// (split KV); its state then goes to a workspace that merge_partials combines. Per-token KV
// scales (FP8 caches) multiply each K and V row as its tile is committed to shared memory.
#pragma once
#include "params.cuh"
#include "state.cuh"
#include "variant.cuh"

namespace attn4j {

constexpr int TK = 32;         // keys per tile: one per lane when scoring
constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;
constexpr int MAX_DT = 8;      // head dim up to 256 = 8 per lane
// K/V rows move as 8-byte vectors: any head dim that is a multiple of 8 keeps every row 8-byte
// aligned, in every dtype (an FP8 row of 40 bytes is not 16-byte aligned). A thread stages
// 2 TK (256 bytes / 8) / THREADS of them per tile at head dim 256: 4 bytes per element, 16.
template <int KT> __host__ __device__ constexpr int stageVectors() { return 2 * TK * (256 * Elem<KT>::bytes / 8) / THREADS; }


template <int QT, int KT, int IPW>
__device__ __forceinline__ void attentionBody(const AttnParams& p) {
    extern __shared__ __align__(16) float smem[];
    const int D = p.d, DV = p.dv, g = p.group;  // D: q and K rows, DV: V and o rows
    constexpr int IPB = IPW * WARPS;
    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], itemStart = wk[1], partialBase = wk[4];
    int kvStart = wk[2], kvEnd = wk[3];
    const int kvh = blockIdx.y;
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart;
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    kvEnd = min(kvEnd, kvLen);  // a device page table's plan schedules for its longest request
    const int nItems = min(IPB, qoLen * g - itemStart);
    float* qs = smem;                 // [IPB][D]
    float* ks = qs + IPB * D;         // [TK][D + 1]: padded so lanes reading one column miss bank clashes
    float* vs = ks + TK * (D + 1);    // [TK][DV]
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    for (int idx = tid; idx < nItems * D; idx += THREADS) {
        int it = idx / D, d = idx - it * D;
        int gi = itemStart + it, i = gi / g, h = kvh * g + gi % g;
        long long base = (long long) (qoStart + i) * p.qTok + (long long) h * p.qHead;
        float x = loadElem<QT>(p.q, base + d);
        if (p.ropeFreq && d < p.ropeDim) {
            int pi, pd;
            bool first;
            ropePair(d, p.ropeDim, p.ropeInterleaved, pi, pd, first);
            float xp = loadElem<QT>(p.q, base + pd), c, s;
            ropeCosSin(p.ropeFreq, pi, (long long) i + kvLen - qoLen, c, s);
            x = first ? x * c - xp * s : x * c + xp * s;
        }
        qs[idx] = x;
    }
    // Keys no item of this block can see are skipped, not just masked.
    if (nItems > 0) {
        int pqLo = itemStart / g + kvLen - qoLen, pqHi = (itemStart + nItems - 1) / g + kvLen - qoLen;
        cutToVisibleKeys(p, pqLo, pqHi, kvStart, kvEnd);
    }

    // Online softmax in base 2: m is the running maximum of the base-2 logits.
    const LogitTransform lg(p, kvh);
    float m[IPW], l[IPW], acc[IPW][MAX_DT], slope[IPW];
    int row[IPW], pq[IPW];
#pragma unroll
    for (int u = 0; u < IPW; ++u) {
        m[u] = -INFINITY;
        l[u] = 0.f;
        int gi = itemStart + warp * IPW + u;
        row[u] = gi / g;
        pq[u] = row[u] + kvLen - qoLen;
        slope[u] = lg.slope(p, kvh * g + gi % g);
#pragma unroll
        for (int t = 0; t < MAX_DT; ++t) acc[u][t] = 0.f;
    }
    constexpr int VE = 8 / Elem<KT>::bytes;
    constexpr int NSTAGE = stageVectors<KT>();
    const int vpr = D / VE, vprV = DV / VE;  // 8-byte vectors per K row, per V row
    const int perTile = TK * (vpr + vprV);
    uint2 stage[NSTAGE];
    // Per-token scales come with FP8 caches only: each staged vector's row scale, for them alone.
    constexpr bool FP8 = Elem<KT>::bytes == 1;
    const bool tokenScales = FP8 && perTokenScales(p);
    float stageScale[FP8 ? NSTAGE : 1];

    auto fetch = [&](int c0) {
#pragma unroll
        for (int s = 0; s < NSTAGE; ++s) {
            int vi = tid + s * THREADS;
            if (vi < perTile) {
                bool isV = vi >= TK * vpr;
                int rem = isV ? vi - TK * vpr : vi, w = isV ? vprV : vpr;
                int r = rem / w, col = rem - r * w, j = c0 + r;
                uint2 val = make_uint2(0, 0);
                float scale = 1.f;
                if (j < kvEnd) {
                    int page = p.kvIndices[pageBase + j / p.pageSize];
                    int slot = j % p.pageSize;
                    long long off = isV ? p.vOffset + page * p.vPageStride + slot * p.vSlotStride + kvh * p.vHeadStride
                                        : p.kOffset + page * p.pageStride + slot * p.slotStride + kvh * p.headStride;
                    const uint2* src = reinterpret_cast<const uint2*>((isV ? p.v : p.k) + off * Elem<KT>::bytes);
                    val = __ldg(src + col);
                    if (FP8 && tokenScales) scale = (isV ? p.vScales : p.kScales)[tokenScaleIndex(p, page, slot, kvh)];
                }
                stage[s] = val;
                if constexpr (FP8) stageScale[s] = scale;
            }
        }
    };
    auto commit = [&]() {
#pragma unroll
        for (int s = 0; s < NSTAGE; ++s) {
            int vi = tid + s * THREADS;
            if (vi < perTile) {
                bool isV = vi >= TK * vpr;
                int rem = isV ? vi - TK * vpr : vi, w = isV ? vprV : vpr;
                int r = rem / w, col = rem - r * w;
                float* dst = isV ? vs + r * DV : ks + r * (D + 1);
                float scale = 1.f;
                if constexpr (FP8) scale = stageScale[s];
#pragma unroll
                for (int e = 0; e < VE; ++e) dst[col * VE + e] = vecElem<KT>(stage[s], e) * scale;
            }
        }
    };

    if (kvStart < kvEnd) fetch(kvStart);
    for (int c0 = kvStart; c0 < kvEnd; c0 += TK) {
        __syncthreads();  // the last tile's readers are done (first pass: q is in place)
        commit();
        __syncthreads();
        if (p.ropeFreq) {
            const int half = p.ropeDim / 2;
            for (int idx = tid; idx < TK * half; idx += THREADS) {
                int r = idx / half, pi = idx - r * half, j = c0 + r;
                if (j < kvEnd) {
                    int a = p.ropeInterleaved ? 2 * pi : pi, bIdx = p.ropeInterleaved ? 2 * pi + 1 : pi + half;
                    float* kr = ks + r * (D + 1);
                    float x = kr[a], y = kr[bIdx], c, s;
                    ropeCosSin(p.ropeFreq, pi, j, c, s);
                    kr[a] = x * c - y * s;
                    kr[bIdx] = y * c + x * s;
                }
            }
            __syncthreads();
        }
        if (c0 + TK < kvEnd) fetch(c0 + TK);  // in flight while this tile is computed

        const int j = c0 + lane;
        float sc[IPW];
#pragma unroll
        for (int u = 0; u < IPW; ++u) sc[u] = 0.f;
        const float* kr = ks + lane * (D + 1);
        const float* qb = qs + warp * IPW * D;
        for (int d = 0; d < D; ++d) {
            float kv = kr[d];
#pragma unroll
            for (int u = 0; u < IPW; ++u) sc[u] = fmaf(qb[u * D + d], kv, sc[u]);
        }
        withLogitFlags(lg, [&](auto flags) {
            using Flags = decltype(flags);
#pragma unroll
            for (int u = 0; u < IPW; ++u) sc[u] = lg.template apply<Flags::cap, Flags::alibi>(sc[u], slope[u], j, pq[u]);
        });
        float pv[IPW];
#pragma unroll
        for (int u = 0; u < IPW; ++u) {
            const bool ok = j < kvEnd && warp * IPW + u < nItems && keyVisible(p, b, row[u], pq[u], j, kvLen);
            const float x = ok ? sc[u] : -INFINITY;
            float mNew = maxNan(m[u], warpMax(x));
            float pj = 0.f, alpha = 1.f;
            if (mNew != -INFINITY) {
                pj = exp2f(x - mNew);
                alpha = exp2f(m[u] - mNew);
            }
            l[u] = l[u] * alpha + warpSum(pj);
            m[u] = mNew;
#pragma unroll
            for (int t = 0; t < MAX_DT; ++t) acc[u][t] *= alpha;
            pv[u] = pj;
        }
        for (int jj = 0; jj < TK; ++jj) {
            float pj[IPW];
#pragma unroll
            for (int u = 0; u < IPW; ++u) pj[u] = __shfl_sync(0xffffffffu, pv[u], jj);
            const float* vr = vs + jj * DV;
#pragma unroll
            for (int t = 0; t < MAX_DT; ++t) {
                int d = lane + 32 * t;
                if (d < DV) {
                    float vv = vr[d];
#pragma unroll
                    for (int u = 0; u < IPW; ++u) acc[u][t] = fmaf(pj[u], vv, acc[u][t]);
                }
            }
        }
    }

#pragma unroll
    for (int u = 0; u < IPW; ++u) {
        int it = warp * IPW + u;
        if (it >= nItems) continue;
        int gi = itemStart + it, h = kvh * g + gi % g;
        const RowEnd end = finishRow(m[u], l[u], rowSink(p.sinks, h, partialBase));
        const float inv = end.oScale * headVScale(p, kvh), lseV = end.lse;
        if (partialBase < 0) {
            long long r = (long long) (qoStart + row[u]) * p.hq + h;
            long long ob = (long long) (qoStart + row[u]) * p.oTok + (long long) h * p.oHead;
#pragma unroll
            for (int t = 0; t < MAX_DT; ++t) {
                int d = lane + 32 * t;
                if (d < DV) storeElem<QT>(p.o, ob + d, acc[u][t] * inv);
            }
            if (lane == 0 && p.lse) p.lse[r] = lseV;
        } else {
            long long slot = partialBase + (long long) kvh * qoLen * g + gi;
#pragma unroll
            for (int t = 0; t < MAX_DT; ++t) {
                int d = lane + 32 * t;
                if (d < DV) p.partialO[slot * DV + d] = acc[u][t] * inv;
            }
            if (lane == 0) p.partialLse[slot] = lseV;
        }
    }
}

}  // namespace attn4j
