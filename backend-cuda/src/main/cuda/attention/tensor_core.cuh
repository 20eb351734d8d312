// Tensor Core attention (mma.sync m16n8k16, sm_80 and newer) for the common cases: K/V of q's
// 16-bit type or FP8 (dequantised exactly to q's type), no RoPE on the fly. Same work items and
// outputs as the generic kernel (attention/generic.cuh); see TcConfig for the two block shapes.
// One of the two kernels that take per-token KV scales (each key's, read beside its page lookup).
//
// A block is WM x WN warps: WM warps along 16-item query blocks, WN warps along the keys of each
// tile. K/V tiles stream into shared memory through cp.async, two stages deep, so the next
// tiles' bytes are in flight while the current one is multiplied. Each warp keeps its own
// online-softmax state; the warps of a block merge theirs through shared memory at the end.
#pragma once
#include "params.cuh"
#include "state.cuh"
#include "variant.cuh"
#include "../primitives/mma_sync.cuh"

namespace attn4j {

// Shared memory layout, in bytes, shared with the host (AttentionSchedule.tcSharedBytes).
// D: head dim of q and K, DV: of V and o.
struct TcLayout {
    int dp, dpv;      // padded q / converted K row, converted V row, 16-bit elements
    int rowP, rowPV;  // padded raw K row, V row, bytes
    int qBytes, stageBytes, convBytes, mergeBytes;
    int stages;
    __device__ TcLayout(int D, int DV, int kvBytes, int ipb, int tk, int wn, int nStages) {
        stages = nStages;
        dp = D + 8;
        dpv = DV + 8;
        rowP = D * kvBytes + 16;
        rowPV = DV * kvBytes + 16;
        qBytes = ipb * dp * 2;
        stageBytes = tk * (rowP + rowPV);  // K then V of one tile
        convBytes = kvBytes == 2 ? 0 : tk * (dp + dpv) * 2;
        mergeBytes = wn * ipb * (DV + 2) * 4;
    }
};

template <int MT, int KT, int WM, int WN, int KPW, int DMAX, int STAGES>
__device__ __forceinline__ void tcAttentionBody(const AttnParams& p) {
    constexpr int NT = 32 * WM * WN;
    constexpr int TK = KPW * WN;
    constexpr int IPB = 16 * WM;
    constexpr int KB = Elem<KT>::bytes;
    constexpr int NB_S = KPW / 8;     // score n-blocks per warp
    constexpr int NB_O = DMAX / 8;    // output n-blocks (upper bound)
    extern __shared__ __align__(16) uint8_t smemRaw[];
    const int D = p.d, DV = p.dv, g = p.group;
    const TcLayout L(D, DV, KB, IPB, TK, WN, STAGES);
    uint16_t* qs = reinterpret_cast<uint16_t*>(smemRaw);
    uint8_t* stages = smemRaw + L.qBytes;
    uint16_t* conv = reinterpret_cast<uint16_t*>(stages + STAGES * L.stageBytes);

    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], itemStart = wk[1], partialBase = wk[4];
    int kvStart = wk[2], kvEnd = wk[3];
    const int kvh = blockIdx.y;
    const int qoStart = p.qoIndptr[b], qoLen = p.qoIndptr[b + 1] - qoStart;
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    kvEnd = min(kvEnd, kvLen);  // a device page table's plan schedules for its longest request
    const int nItems = min(IPB, qoLen * g - itemStart);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp % WM, wn = warp / WM;

    // q rows of the block's items, as stored (q's type is the MMA type); missing items are 0.
    for (int idx = tid; idx < IPB * D; idx += NT) {
        int it = idx / D, d = idx - it * D;
        uint16_t bits = 0;
        if (it < nItems) {
            int gi = itemStart + it, i = gi / g, h = kvh * g + gi % g;
            bits = reinterpret_cast<const uint16_t*>(p.q)[(long long) (qoStart + i) * p.qTok + (long long) h * p.qHead + d];
        }
        qs[it * L.dp + d] = bits;
    }
    if (nItems > 0) {
        int pqLo = itemStart / g + kvLen - qoLen, pqHi = (itemStart + nItems - 1) / g + kvLen - qoLen;
        cutToVisibleKeys(p, pqLo, pqHi, kvStart, kvEnd);
    }

    // This thread's two rows of its warp's 16 items.
    int rowPq[2];
    int rowI[2];
    bool rowOk[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        int it = wm * 16 + (lane >> 2) + 8 * r;
        int gi = itemStart + it;
        rowOk[r] = it < nItems;
        rowI[r] = gi / g;
        rowPq[r] = rowI[r] + kvLen - qoLen;
    }
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NB_O][4];
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;
    const LogitTransform lg(p, kvh);
    // Per-token scales (spec §1) come with FP8 caches only: 16-bit instantiations drop the code.
    const bool tokenScales = KB == 1 && perTokenScales(p);
    auto rowSlope = [&](int r) { return lg.slope(p, kvh * g + (itemStart + wm * 16 + (lane >> 2) + 8 * r) % g); };

    // 16-byte vectors per K row and per V row; a (key, column) copies both where both exist.
    const int vprK = D * KB / 16, vprV = DV * KB / 16, vpr = max(vprK, vprV);
    // K and V vectors of one (key, column) share their page lookup. All page ids of a tile are
    // loaded before the first copy is issued, so their latencies overlap instead of adding up.
    constexpr int MAX_ISSUE = (TK * (DMAX * KB / 16) + NT - 1) / NT;
    // When the threads cover whole rows, each thread keeps one column and steps rows evenly.
    const bool evenRows = NT % vpr == 0;
    const int rowStep = NT / vpr, myRow = tid / vpr, myCol = tid - myRow * vpr;
    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };
    auto issue = [&](int c0, int st) {
        uint8_t* base = stages + st * L.stageBytes;
        const int vectors = TK * vpr;
        int page[MAX_ISSUE];
#pragma unroll
        for (int k = 0; k < MAX_ISSUE; ++k) {
            int vi = tid + k * NT;
            int j = c0 + (evenRows ? myRow + k * rowStep : vi / vpr);
            page[k] = vi < vectors && j < kvEnd ? p.kvIndices[pageBase + pageOf(j)] : -1;
        }
#pragma unroll
        for (int k = 0; k < MAX_ISSUE; ++k) {
            int vi = tid + k * NT;
            if (vi < vectors) {
                int r = evenRows ? myRow + k * rowStep : vi / vpr;
                int col = evenRows ? myCol : vi - r * vpr;
                int j = c0 + r;
                bool valid = page[k] >= 0;
                const uint8_t* srcK = p.k;
                const uint8_t* srcV = p.v;
                if (valid) {
                    const int slot = slotOf(j);
                    srcK += (p.kOffset + page[k] * p.pageStride + slot * p.slotStride + kvh * p.headStride) * KB
                            + col * 16;
                    srcV += (p.vOffset + page[k] * p.vPageStride + slot * p.vSlotStride + kvh * p.vHeadStride) * KB
                            + col * 16;
                }
                if (col < vprK) cpAsync16(base + r * L.rowP + col * 16, srcK, valid);
                if (col < vprV) cpAsync16(base + TK * L.rowP + r * L.rowPV + col * 16, srcV, valid);
            }
        }
        cpAsyncCommit();
    };

    const int nTiles = kvEnd > kvStart ? (kvEnd - kvStart + TK - 1) / TK : 0;
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        if (st < nTiles) {
            issue(kvStart + st * TK, st);
        } else {
            cpAsyncCommit();
        }
    }
    __syncthreads();  // q in place
    for (int t = 0; t < nTiles; ++t) {
        const int c0 = kvStart + t * TK;
        if (t + STAGES - 1 < nTiles) {
            issue(c0 + (STAGES - 1) * TK, (t + STAGES - 1) % STAGES);
        } else {
            cpAsyncCommit();
        }
        cpAsyncWait<STAGES - 1>();
        __syncthreads();
        const int st = t % STAGES;
        const uint16_t* ks;
        const uint16_t* vs;
        int ksStride, vsStride;
        if (KB == 2) {
            ks = reinterpret_cast<const uint16_t*>(stages + st * L.stageBytes);
            vs = reinterpret_cast<const uint16_t*>(stages + st * L.stageBytes + TK * L.rowP);
            ksStride = L.rowP / 2;
            vsStride = L.rowPV / 2;
        } else {
            // FP8 to q's type, exactly, once per tile: the K rows, then the V rows.
            const uint8_t* raw = stages + st * L.stageBytes;
            for (int vi = tid; vi < TK * (vprK + vprV); vi += NT) {
                const bool isV = vi >= TK * vprK;
                const int rem = isV ? vi - TK * vprK : vi, w = isV ? vprV : vprK;
                const int r = rem / w, col = rem - r * w;
                uint4 v = *reinterpret_cast<const uint4*>(raw + (isV ? TK * L.rowP + r * L.rowPV : r * L.rowP) + col * 16);
                uint32_t packed[8];
#pragma unroll
                for (int e = 0; e < 8; ++e) packed[e] = Mma<MT>::pack(vecElem<KT>(v, 2 * e), vecElem<KT>(v, 2 * e + 1));
                uint4* dst = reinterpret_cast<uint4*>(conv + (isV ? TK * L.dp + r * L.dpv : r * L.dp) + col * 16);
                dst[0] = make_uint4(packed[0], packed[1], packed[2], packed[3]);
                dst[1] = make_uint4(packed[4], packed[5], packed[6], packed[7]);
            }
            __syncthreads();
            ks = conv;
            vs = conv + TK * L.dp;
            ksStride = L.dp;
            vsStride = L.dpv;
        }

        // S = Q K^T for the warp's 16 items and KPW keys.
        float s[NB_S][4];
#pragma unroll
        for (int nb = 0; nb < NB_S; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
        const uint16_t* qw = qs + (wm * 16 + (lane >> 2)) * L.dp + (lane & 3) * 2;
#pragma unroll
        for (int kk = 0; kk < DMAX / 16; ++kk) {
            if (kk * 16 < D) {
                uint32_t a[4];
                a[0] = *reinterpret_cast<const uint32_t*>(qw + kk * 16);
                a[1] = *reinterpret_cast<const uint32_t*>(qw + 8 * L.dp + kk * 16);
                a[2] = *reinterpret_cast<const uint32_t*>(qw + kk * 16 + 8);
                a[3] = *reinterpret_cast<const uint32_t*>(qw + 8 * L.dp + kk * 16 + 8);
#pragma unroll
                for (int nb = 0; nb < NB_S; ++nb) {
                    const uint16_t* kr = ks + (wn * KPW + nb * 8 + (lane >> 2)) * ksStride + kk * 16 + (lane & 3) * 2;
                    Mma<MT>::run(s[nb], a, *reinterpret_cast<const uint32_t*>(kr),
                                 *reinterpret_cast<const uint32_t*>(kr + 8));
                }
            }
        }

        // Online softmax in base 2 on this thread's two rows.
        const int cw = c0 + wn * KPW;
        // Per-token scales: a key's K scale multiplies its raw scores, its V scale (vTok) its
        // probabilities after l has summed them. The thread's accumulators e and e + 2 of n-block
        // nb are one key (fragmentKey); keys past kvEnd take 1 and are masked anyway.
        float vTok[NB_S][2];
        if (KB == 1 && tokenScales) {
#pragma unroll
            for (int nb = 0; nb < NB_S; ++nb) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int j = fragmentKey(cw, 4 * nb + e, lane);
                    float kt = 1.f, vt = 1.f;
                    if (j < kvEnd) {
                        const long long at = tokenScaleIndex(p, p.kvIndices[pageBase + pageOf(j)], slotOf(j), kvh);
                        kt = p.kScales[at];
                        vt = p.vScales[at];
                    }
                    s[nb][e] *= kt;
                    s[nb][e + 2] *= kt;
                    vTok[nb][e] = vt;
                }
            }
        }
        fragmentLogits(s, lg, cw, lane, rowSlope, rowPq);
        fragmentMask(s, p, b, kvLen, kvStart, kvEnd, cw, lane, rowOk, rowI, rowPq);
        float rowMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nb = 0; nb < NB_S; ++nb) {
            rowMax[0] = maxNan(rowMax[0], maxNan(s[nb][0], s[nb][1]));
            rowMax[1] = maxNan(rowMax[1], maxNan(s[nb][2], s[nb][3]));
        }
        onlineSoftmaxStep(s, o, m, l, rowMax);
        if (KB == 1 && tokenScales) {
#pragma unroll
            for (int nb = 0; nb < NB_S; ++nb) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nb][e] *= vTok[nb][e & 1];
            }
        }

        // O += P V, 16 keys per k-step; V fragments through ldmatrix.trans.
#pragma unroll
        for (int ks16 = 0; ks16 < KPW / 16; ++ks16) {
            uint32_t a[4];
            a[0] = Mma<MT>::pack(s[2 * ks16][0], s[2 * ks16][1]);
            a[1] = Mma<MT>::pack(s[2 * ks16][2], s[2 * ks16][3]);
            a[2] = Mma<MT>::pack(s[2 * ks16 + 1][0], s[2 * ks16 + 1][1]);
            a[3] = Mma<MT>::pack(s[2 * ks16 + 1][2], s[2 * ks16 + 1][3]);
            const int key = wn * KPW + ks16 * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const uint16_t* vrow = vs + key * vsStride + (lane >> 4) * 8;
#pragma unroll
            for (int nb = 0; nb < NB_O; nb += 2) {
                if (nb * 8 < DV) {
                    uint32_t bv[4];
                    ldmatrixX4Trans(bv, vrow + nb * 8);
                    Mma<MT>::run(o[nb], a, bv[0], bv[1]);
                    if ((nb + 1) * 8 < DV) Mma<MT>::run(o[nb + 1], a, bv[2], bv[3]);
                }
            }
        }
        __syncthreads();  // this stage (and conv) is rewritten next
    }

    // Merge the warps' states through shared memory (reusing the tile buffers), then write.
    float* mS = reinterpret_cast<float*>(stages);       // [WN][IPB]
    float* lS = mS + WN * IPB;                          // [WN][IPB]
    float* oS = lS + WN * IPB;                          // [WN][IPB][DV]
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        int it = wm * 16 + (lane >> 2) + 8 * r;
        if ((lane & 3) == 0) {
            mS[wn * IPB + it] = m[r];
            lS[wn * IPB + it] = l[r];
        }
    }
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) {
        if (nb * 8 < DV) {
            int d = nb * 8 + (lane & 3) * 2;
            int it0 = wm * 16 + (lane >> 2);
            oS[(wn * IPB + it0) * DV + d] = o[nb][0];
            oS[(wn * IPB + it0) * DV + d + 1] = o[nb][1];
            oS[(wn * IPB + it0 + 8) * DV + d] = o[nb][2];
            oS[(wn * IPB + it0 + 8) * DV + d + 1] = o[nb][3];
        }
    }
    __syncthreads();
    // Per item: the warps' merged maximum and sum give the normaliser (the sink joins here) and
    // the lse; the normaliser takes the place of the item's first l, which nothing reads again.
    for (int it = tid; it < nItems; it += NT) {
        float mMax = -INFINITY, total = 0.f;
#pragma unroll
        for (int w = 0; w < WN; ++w) mMax = maxNan(mMax, mS[w * IPB + it]);
        if (mMax != -INFINITY) {
#pragma unroll
            for (int w = 0; w < WN; ++w) total += exp2f(mS[w * IPB + it] - mMax) * lS[w * IPB + it];
        }
        const int gi = itemStart + it, i = gi / g, h = kvh * g + gi % g;
        const RowEnd end = finishRow(mMax, total, rowSink(p.sinks, h, partialBase));
        lS[it] = end.oScale * headVScale(p, kvh);
        if (partialBase < 0) {
            if (p.lse) p.lse[(long long) (qoStart + i) * p.hq + h] = end.lse;
        } else {
            p.partialLse[partialBase + (long long) kvh * qoLen * g + gi] = end.lse;
        }
    }
    __syncthreads();
    for (int idx = tid; idx < nItems * DV; idx += NT) {
        int it = idx / DV, d = idx - it * DV;
        float mMax = -INFINITY, acc = 0.f;
#pragma unroll
        for (int w = 0; w < WN; ++w) mMax = maxNan(mMax, mS[w * IPB + it]);
        if (mMax != -INFINITY) {
#pragma unroll
            for (int w = 0; w < WN; ++w) acc += exp2f(mS[w * IPB + it] - mMax) * oS[(w * IPB + it) * DV + d];
        }
        const int gi = itemStart + it, i = gi / g, h = kvh * g + gi % g;
        const float val = acc * lS[it];
        if (partialBase < 0) {
            storeElem<MT>(p.o, (long long) (qoStart + i) * p.oTok + (long long) h * p.oHead + d, val);
        } else {
            p.partialO[(partialBase + (long long) kvh * qoLen * g + gi) * DV + d] = val;
        }
    }
}

}  // namespace attn4j
