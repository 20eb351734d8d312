// Tensor Core attention (mma.sync m16n8k16, sm_80 and newer) for the common cases: K/V of q's
// 16-bit type or FP8 (dequantised exactly to q's type), no RoPE on the fly. Same work items and
// outputs as the generic kernel (attention.cuh); see TcConfig for the two block shapes.
//
// A block is WM x WN warps: WM warps along 16-item query blocks, WN warps along the keys of each
// tile. K/V tiles stream into shared memory through cp.async, two stages deep, so the next
// tiles' bytes are in flight while the current one is multiplied. Each warp keeps its own
// online-softmax state; the warps of a block merge theirs through shared memory at the end.
#pragma once
#include "attention.cuh"

namespace attn4j {

template <int MT> struct Mma;
template <> struct Mma<F16> {
    static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};
template <> struct Mma<BF16> {
    static __device__ __forceinline__ void run(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};

// Two FP8 codes (the first in the low byte) as two elements of q's 16-bit type, exactly: every
// e4m3 and e5m2 value, NaN and infinity included, is a half and a bfloat16 value.
template <int T, int KT> __device__ __forceinline__ uint32_t fp8PairToMma(uint32_t pair) {
    const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t) (pair & 0xFFFFu),
                                                     KT == E4M3 ? __NV_E4M3 : __NV_E5M2);
    if (T == F16) return (uint32_t) h.x | ((uint32_t) h.y << 16);
    const float2 f = __half22float2(__half2(h));
    return Mma<BF16>::pack(f.x, f.y);
}

__device__ __forceinline__ void cpAsync16(void* smemDst, const void* src, bool valid) {
    uint32_t dst = (uint32_t) __cvta_generic_to_shared(smemDst);
    int n = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cpAsyncWait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrixX4(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t* r, const void* smemRow) {
    uint32_t a = (uint32_t) __cvta_generic_to_shared(smemRow);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

// One online-softmax step on a thread's two rows of m16n8 score fragments, already in base 2 and
// masked to -inf: folds the tile's row maxima (rowMax, per thread) into m across the quad, turns
// s into probabilities, adds them to l and rescales l and o by the change of maximum.
template <int NB_S, int NB_O>
__device__ __forceinline__ void onlineSoftmaxStep(float (&s)[NB_S][4], float (&o)[NB_O][4], float (&m)[2],
                                                  float (&l)[2], float (&rowMax)[2]) {
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 1));
        rowMax[r] = maxNan(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 2));
        float mNew = maxNan(m[r], rowMax[r]);
        float mUse = mNew == -INFINITY ? 0.f : mNew;  // a row with no key yet: every p is 0
        alpha[r] = exp2f(m[r] - mUse);
        m[r] = mNew;
        rowMax[r] = mUse;
        l[r] *= alpha[r];
    }
#pragma unroll
    for (int nb = 0; nb < NB_S; ++nb) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            float pe = exp2f(s[nb][e] - rowMax[e >> 1]);
            s[nb][e] = pe;
            l[e >> 1] += pe;
        }
    }
    // Once the running maximum settles, alpha is 1 for the whole warp: skip the rescale.
    if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
#pragma unroll
        for (int nb = 0; nb < NB_O; ++nb) {
            o[nb][0] *= alpha[0];
            o[nb][1] *= alpha[0];
            o[nb][2] *= alpha[1];
            o[nb][3] *= alpha[1];
        }
    }
}

// Shared memory layout, in bytes, shared with the host (AttentionSchedule.tcSharedBytes).
struct TcLayout {
    int dp;        // padded q / converted row, 16-bit elements
    int rowP;      // padded raw KV row, bytes
    int qBytes, stageBytes, convBytes, mergeBytes;
    int stages;
    __device__ TcLayout(int D, int kvBytes, int ipb, int tk, int wn, int nStages) {
        stages = nStages;
        dp = D + 8;
        rowP = D * kvBytes + 16;
        qBytes = ipb * dp * 2;
        stageBytes = 2 * tk * rowP;  // K then V of one tile
        convBytes = kvBytes == 2 ? 0 : 2 * tk * dp * 2;
        mergeBytes = wn * ipb * (D + 2) * 4;
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
    const int D = p.d, g = p.group;
    const TcLayout L(D, KB, IPB, TK, WN, STAGES);
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
        if (p.causal) kvEnd = min(kvEnd, pqHi + 1);
        if (p.windowLeft >= 0) kvStart = max(kvStart, pqLo - p.windowLeft);
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
    const float LOG2E = 1.4426950408889634f;
    const float scale = p.smScale * p.kScale;

    const int vpr = D * KB / 16;
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
                    long long rel = page[k] * p.pageStride + slotOf(j) * p.slotStride + kvh * p.headStride;
                    srcK += (p.kOffset + rel) * KB + col * 16;
                    srcV += (p.vOffset + rel) * KB + col * 16;
                }
                cpAsync16(base + r * L.rowP + col * 16, srcK, valid);
                cpAsync16(base + TK * L.rowP + r * L.rowP + col * 16, srcV, valid);
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
        int ksStride;
        if (KB == 2) {
            ks = reinterpret_cast<const uint16_t*>(stages + st * L.stageBytes);
            vs = reinterpret_cast<const uint16_t*>(stages + st * L.stageBytes + TK * L.rowP);
            ksStride = L.rowP / 2;
        } else {
            // FP8 to q's type, exactly, once per tile.
            const uint8_t* raw = stages + st * L.stageBytes;
            for (int vi = tid; vi < 2 * TK * vpr; vi += NT) {
                int r = vi / vpr, col = vi - r * vpr;  // rows 0..TK-1 are K, TK..2TK-1 are V
                uint4 v = *reinterpret_cast<const uint4*>(raw + r * L.rowP + col * 16);
                uint32_t packed[8];
#pragma unroll
                for (int e = 0; e < 8; ++e) packed[e] = Mma<MT>::pack(vecElem<KT>(v, 2 * e), vecElem<KT>(v, 2 * e + 1));
                uint4* dst = reinterpret_cast<uint4*>(conv + r * L.dp + col * 16);
                dst[0] = make_uint4(packed[0], packed[1], packed[2], packed[3]);
                dst[1] = make_uint4(packed[4], packed[5], packed[6], packed[7]);
            }
            __syncthreads();
            ks = conv;
            vs = conv + TK * L.dp;
            ksStride = L.dp;
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
        float rowMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nb = 0; nb < NB_S; ++nb) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                int r = e >> 1;
                int j = c0 + wn * KPW + nb * 8 + (lane & 3) * 2 + (e & 1);
                float x = s[nb][e] * scale;
                if (p.softCap > 0.f) x = p.softCap * tanhf(x / p.softCap);
                bool ok = rowOk[r] && j < kvEnd && j >= kvStart;
                if (p.causal) ok = ok && j <= rowPq[r];
                if (p.windowLeft >= 0) ok = ok && j >= rowPq[r] - p.windowLeft;
                if (ok && p.mask) {
                    long long bit = p.maskOffsets[b] + (long long) rowI[r] * kvLen + j;
                    ok = (p.mask[bit >> 3] >> (bit & 7)) & 1;
                }
                x = ok ? x * LOG2E : -INFINITY;
                s[nb][e] = x;
                rowMax[r] = maxNan(rowMax[r], x);
            }
        }
        onlineSoftmaxStep(s, o, m, l, rowMax);

        // O += P V, 16 keys per k-step; V fragments through ldmatrix.trans.
#pragma unroll
        for (int ks16 = 0; ks16 < KPW / 16; ++ks16) {
            uint32_t a[4];
            a[0] = Mma<MT>::pack(s[2 * ks16][0], s[2 * ks16][1]);
            a[1] = Mma<MT>::pack(s[2 * ks16][2], s[2 * ks16][3]);
            a[2] = Mma<MT>::pack(s[2 * ks16 + 1][0], s[2 * ks16 + 1][1]);
            a[3] = Mma<MT>::pack(s[2 * ks16 + 1][2], s[2 * ks16 + 1][3]);
            const int key = wn * KPW + ks16 * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const uint16_t* vrow = vs + key * ksStride + (lane >> 4) * 8;
#pragma unroll
            for (int nb = 0; nb < NB_O; nb += 2) {
                if (nb * 8 < D) {
                    uint32_t bv[4];
                    ldmatrixX4Trans(bv, vrow + nb * 8);
                    Mma<MT>::run(o[nb], a, bv[0], bv[1]);
                    if ((nb + 1) * 8 < D) Mma<MT>::run(o[nb + 1], a, bv[2], bv[3]);
                }
            }
        }
        __syncthreads();  // this stage (and conv) is rewritten next
    }

    // Merge the warps' states through shared memory (reusing the tile buffers), then write.
    float* mS = reinterpret_cast<float*>(stages);       // [WN][IPB]
    float* lS = mS + WN * IPB;                          // [WN][IPB]
    float* oS = lS + WN * IPB;                          // [WN][IPB][D]
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
        if (nb * 8 < D) {
            int d = nb * 8 + (lane & 3) * 2;
            int it0 = wm * 16 + (lane >> 2);
            oS[(wn * IPB + it0) * D + d] = o[nb][0];
            oS[(wn * IPB + it0) * D + d + 1] = o[nb][1];
            oS[(wn * IPB + it0 + 8) * D + d] = o[nb][2];
            oS[(wn * IPB + it0 + 8) * D + d + 1] = o[nb][3];
        }
    }
    __syncthreads();
    for (int idx = tid; idx < nItems * D; idx += NT) {
        int it = idx / D, d = idx - it * D;
        float mMax = -INFINITY;
#pragma unroll
        for (int w = 0; w < WN; ++w) mMax = maxNan(mMax, mS[w * IPB + it]);
        float total = 0.f, acc = 0.f;
        if (mMax != -INFINITY) {
#pragma unroll
            for (int w = 0; w < WN; ++w) {
                float f = exp2f(mS[w * IPB + it] - mMax);
                total += f * lS[w * IPB + it];
                acc += f * oS[(w * IPB + it) * D + d];
            }
        }
        // Empty (no weight: nothing allowed, or every allowed logit -inf); NaN passes through.
        const bool empty = mMax == -INFINITY;
        float val = empty ? 0.f : acc * p.vScale / total;
        float lseV = empty ? -INFINITY : (mMax + log2f(total)) * 0.6931471805599453f;
        int gi = itemStart + it, i = gi / g, h = kvh * g + gi % g;
        if (partialBase < 0) {
            long long r = (long long) (qoStart + i) * p.hq + h;
            storeElem<MT>(p.o, (long long) (qoStart + i) * p.oTok + (long long) h * p.oHead + d, val);
            if (d == 0 && p.lse) p.lse[r] = lseV;
        } else {
            long long slot = partialBase + (long long) kvh * qoLen * g + gi;
            p.partialO[slot * D + d] = val;
            if (d == 0) p.partialLse[slot] = lseV;
        }
    }
}

// A query-tiled prefill block's keys when its request is split (partialBase >= 0): the block's
// range [kvStart, kvEnd) cut to split s of p.kvChunk keys. Rows see the rest in other blocks.
__device__ __forceinline__ void prefillSplitRange(const AttnParams& p, int s, int partialBase, int& kvStart,
                                                  int& kvEnd) {
    if (partialBase < 0) return;
    const long long lo = (long long) s * p.kvChunk;
    kvStart = (int) max((long long) kvStart, lo);
    kvEnd = (int) min((long long) kvEnd, lo + p.kvChunk);
}

// Normalises a query-tiled prefill block's two rows per thread (l summed over the quad) and
// writes o (times vScale, in q's type) and lse; for a split request (partialBase >= 0) the
// split's float state instead, at merge_stream's slot partialBase + KV head * items + row * g +
// head in group (items = qoLen * g). oAt(nb, e) reads accumulator e of 8-column block nb, so the
// kernels' register layouts need not match.
template <int MT, int DH, typename OAt>
__device__ __forceinline__ void prefillWriteRows(const AttnParams& p, OAt oAt, const float (&m)[2], float (&l)[2],
                                                 const bool (&rowOk)[2], const int (&rowI)[2], int qoStart, int qoLen,
                                                 int h, int partialBase, int lane) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        if (!rowOk[r]) continue;
        // Empty (no weight: nothing allowed, or every allowed logit -inf); NaN passes through.
        const bool empty = m[r] == -INFINITY;
        const float inv = empty ? 0.f : p.vScale / l[r];
        const float lseV = empty ? -INFINITY : (m[r] + log2f(l[r])) * 0.6931471805599453f;
        if (partialBase >= 0) {
            const int g = p.group;
            const long long slot = partialBase + (long long) (h / g) * qoLen * g + (long long) rowI[r] * g + h % g;
            float2* out = reinterpret_cast<float2*>(p.partialO + slot * DH + (lane & 3) * 2);
#pragma unroll
            for (int nb = 0; nb < DH / 8; ++nb) out[nb * 4] = make_float2(oAt(nb, 2 * r) * inv, oAt(nb, 2 * r + 1) * inv);
            if ((lane & 3) == 0) p.partialLse[slot] = lseV;
            continue;
        }
        const long long outRow = (long long) (qoStart + rowI[r]) * p.hq + h;
        uint32_t* out = reinterpret_cast<uint32_t*>(reinterpret_cast<uint16_t*>(p.o)
                + (long long) (qoStart + rowI[r]) * p.oTok + (long long) h * p.oHead + (lane & 3) * 2);
#pragma unroll
        for (int nb = 0; nb < DH / 8; ++nb) out[nb * 4] = Mma<MT>::pack(oAt(nb, 2 * r) * inv, oAt(nb, 2 * r + 1) * inv);
        if (p.lse && (lane & 3) == 0) p.lse[outRow] = lseV;
    }
}

}  // namespace attn4j
