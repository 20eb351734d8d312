// Bandwidth-bound decode on CUDA cores (the default without grouping at head dims 64, 96 and 128,
// BlockShape.streamAutoHeadDim; decodeKernel=stream forces it) for K/V of q's 16-bit type, no
// RoPE on the fly, head dims 64, 80, 96, 128, 192 and 256, a GQA group up to
// StreamRow<D>::MAX_GROUP. Decode reads every K/V byte once and does g multiply-adds per element,
// so the kernel is built to keep bytes in flight:
//
// - a block is one (request, KV head, key chunk) work item of the usual schedule; its 4 warps
//   each stream their own contiguous quarter of the chunk;
// - a key row's D / 8 16-byte vectors go to LPK lanes, VPL vectors each (StreamRow), so a warp
//   step covers 32 / LPK keys; lane `col` of a key holds vectors col, col + LPK, ..., so every
//   copy instruction reads whole runs of a row;
// - every lane copies its own vectors with cp.async into a private 4-stage ring and later reads
//   back exactly those bytes, so the loop needs no barrier at all, only wait_group;
// - the chunk's page ids are read once into shared memory before streaming starts;
// - scores are fp32 FMAs on CUDA cores (the whole group's q rows sit in registers), reduced
//   over the key's lanes with shuffles; softmax is online per warp (one rescale per stage), and
//   the warps merge their states through shared memory at the end.
// Split chunks write partial states that merge_partials combines, as for the other kernels.
#pragma once
#include "params.cuh"
#include "state.cuh"
#include "variant.cuh"

namespace attn4j {

constexpr int STREAM_WARPS = 4;
constexpr int STREAM_STAGES = 4;

// How a key row of head dim D spreads over a warp, mirrored by the host (BlockShape.streamLanesPerKey
// and the methods beside it). Rows of few vectors take fewer lanes so that a lane still copies
// whole 16-byte vectors; a stage holds about 4 vectors a lane so that every head dim keeps the same
// bytes in flight; the group's q and o rows live in registers, so the group shrinks as VPL grows.
template <int D> struct StreamRow {
    static_assert(D % 8 == 0 && D >= 8, "rows of whole 16-byte vectors");
    static constexpr int VECS = D / 8;
    static constexpr int LPK = VECS % 16 == 0 ? 16 : VECS % 8 == 0 ? 8 : VECS % 4 == 0 ? 4 : VECS % 2 == 0 ? 2 : 1;
    static constexpr int VPL = VECS / LPK;       // vectors per lane
    static constexpr int KPS = 32 / LPK;         // keys per warp step
    static constexpr int STEPS = VPL >= 4 ? 1 : 4 / VPL;  // warp steps per stage
    static constexpr int SK = KPS * STEPS;       // keys per warp stage
    static constexpr int VEC_BYTES = 32 * 16;    // one vector of every lane
    static constexpr int STEP_BYTES = VPL * VEC_BYTES;
    static constexpr int RING_BYTES = STEPS * STEP_BYTES;  // K (or V) bytes of one warp stage
    // Stage rings first, then the chunk's page ids (BlockShape.streamRingBytes).
    static constexpr int RING_TOTAL = STREAM_WARPS * STREAM_STAGES * 2 * RING_BYTES;
    static constexpr int MAX_GROUP = VPL == 1 ? 8 : VPL == 2 ? 4 : VPL <= 4 ? 2 : 1;
};

// The 8 16-bit elements of a 16-byte vector as floats (exact for both types).
template <int T> __device__ __forceinline__ void unpack8(const uint4& v, float* f) {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        if (T == BF16) {
            f[2 * e] = __uint_as_float(w[e] << 16);
            f[2 * e + 1] = __uint_as_float(w[e] & 0xFFFF0000u);
        } else {
            __half2_raw r;
            r.x = (unsigned short) (w[e] & 0xFFFF);
            r.y = (unsigned short) (w[e] >> 16);
            float2 x = __half22float2(__half2(r));
            f[2 * e] = x.x;
            f[2 * e + 1] = x.y;
        }
    }
}

// The block's warps saw different keys of one (request, KV head): combines their states for the
// group's heads (m in base 2, l, unnormalised o; in shared memory as [W][H], [W][H] and [W][H][D])
// and writes o and lse, or the split's partial state for merge_stream. Used by both streaming
// decode kernels.
template <int T, int W, int H, int D, int NT>
__device__ __forceinline__ void storeMergedWarpStates(const AttnParams& p, const float* mS, const float* lS,
                                                      const float* oS, int qRow, int kvh, int partialBase) {
    const int g = p.group;
    for (int idx = threadIdx.x; idx < g * D; idx += NT) {
        const int h = idx / D, d = idx - h * D;
        float mMax = -INFINITY;
#pragma unroll
        for (int w = 0; w < W; ++w) mMax = maxNan(mMax, mS[w * H + h]);
        float total = 0.f, acc = 0.f;
        if (mMax != -INFINITY) {
#pragma unroll
            for (int w = 0; w < W; ++w) {
                const float f = exp2f(mS[w * H + h] - mMax);
                total += f * lS[w * H + h];
                acc += f * oS[(w * H + h) * D + d];
            }
        }
        const RowEnd end = finishRow(mMax, total, rowSink(p.sinks, kvh * g + h, partialBase));
        const float val = acc * end.oScale * headVScale(p, kvh), lseV = end.lse;
        if (partialBase < 0) {
            const long long r = (long long) qRow * p.hq + kvh * g + h;
            storeElem<T>(p.o, (long long) qRow * p.oTok + (long long) (kvh * g + h) * p.oHead + d, val);
            if (d == 0 && p.lse) p.lse[r] = lseV;
        } else {
            const long long slot = partialBase + (long long) kvh * g + h;
            p.partialO[slot * D + d] = val;
            if (d == 0) p.partialLse[slot] = lseV;
        }
    }
}

// A decode block's work item and KV head. The host launches items along x and KV heads along y;
// the blocks are taken in the order of the launch's linear index, and consecutive ones get the KV
// heads of one item: the heads of a token sit side by side in an NHD page, so blocks that run
// together read whole token rows instead of one head's 1/Hkv of each.
struct DecodeBlock {
    int item, kvh;
};
__device__ __forceinline__ DecodeBlock decodeBlock() {
    const int linear = blockIdx.y * gridDim.x + blockIdx.x;
    return {linear / (int) gridDim.y, linear % (int) gridDim.y};
}

template <int T, int D, int G>
__device__ __forceinline__ void streamDecodeBody(const AttnParams& p) {
    using Row = StreamRow<D>;
    static_assert(G <= Row::MAX_GROUP, "the group's q and o rows must fit in registers");
    static_assert(STREAM_WARPS * G * (2 + D) * 4 <= Row::RING_TOTAL, "the warps' states reuse the rings");
    constexpr int LPK = Row::LPK, VPL = Row::VPL, KPS = Row::KPS, SK = Row::SK;
    constexpr int STEPS = Row::STEPS, STEP_BYTES = Row::STEP_BYTES, RING_BYTES = Row::RING_BYTES;
    constexpr int VEC_BYTES = Row::VEC_BYTES;
    constexpr int NT = 32 * STREAM_WARPS;
    extern __shared__ __align__(16) uint8_t smemRaw[];
    int* pages = reinterpret_cast<int*>(smemRaw + Row::RING_TOTAL);

    const DecodeBlock blk = decodeBlock();
    const int* wk = p.work + WORK_INTS * blk.item;
    const int b = wk[0], partialBase = wk[4];  // decode: the block holds the whole group (item 0)
    int kvStart = wk[2], kvEnd = wk[3];
    const int kvh = blk.kvh, g = p.group;
    const int qRow = p.qoIndptr[b];
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    kvEnd = min(kvEnd, kvLen);  // a device page table's plan schedules for its longest request
    // The one query row sits at position kvLen - 1: causal keeps every key, the window cuts the front.
    cutToVisibleKeys(p, kvLen - 1, kvLen - 1, kvStart, kvEnd);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int col = lane % LPK, half = lane / LPK;

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    const int firstPage = kvEnd > kvStart ? pageOf(kvStart) : 0;
    const int pageCount = kvEnd > kvStart ? pageOf(kvEnd - 1) - firstPage + 1 : 0;
    for (int i = tid; i < pageCount; i += NT) pages[i] = p.kvIndices[pageBase + firstPage + i];

    // The group's q rows, this lane's VPL vectors (columns (v * LPK + col) * 8 ...); heads past g are
    // zero and never written.
    float q[G][VPL * 8];
#pragma unroll
    for (int h = 0; h < G; ++h) {
        if (h < g) {
            const uint16_t* qp = reinterpret_cast<const uint16_t*>(p.q) + (long long) qRow * p.qTok
                    + (long long) (kvh * g + h) * p.qHead;
#pragma unroll
            for (int v = 0; v < VPL; ++v) {
                unpack8<T>(*reinterpret_cast<const uint4*>(qp + (v * LPK + col) * 8), q[h] + v * 8);
            }
        } else {
#pragma unroll
            for (int e = 0; e < VPL * 8; ++e) q[h][e] = 0.f;
        }
    }
    __syncthreads();  // page ids in place

    const int len = max(0, kvEnd - kvStart);
    const int perWarp = ((len + STREAM_WARPS - 1) / STREAM_WARPS + SK - 1) / SK * SK;
    const int wStart = kvStart + warp * perWarp;
    const int wEnd = min(kvEnd, wStart + perWarp);
    const int nStages = wEnd > wStart ? (wEnd - wStart + SK - 1) / SK : 0;
    uint8_t* ring = smemRaw + warp * STREAM_STAGES * 2 * RING_BYTES;
    const uint32_t ringAddr = (uint32_t) __cvta_generic_to_shared(ring) + lane * 16;

    // Branch-free copies: keys past the range copy nothing (zero fill) from the last key's address.
    const uint8_t* kBase = p.k + (p.kOffset + kvh * p.headStride) * 2 + col * 16;
    const uint8_t* vBase = p.v + (p.vOffset + kvh * p.headStride) * 2 + col * 16;
    auto issueSteps = [&](int st, auto pageIn, auto slotIn) {
        const uint32_t kDst = ringAddr + (st % STREAM_STAGES) * 2 * RING_BYTES;
#pragma unroll
        for (int s = 0; s < STEPS; ++s) {
            const int j = wStart + st * SK + s * KPS + half;
            const int jc = min(j, wEnd - 1);
            const long long rel =
                    ((long long) pages[pageIn(jc) - firstPage] * p.pageStride + slotIn(jc) * p.slotStride) * 2;
            const int n = j < wEnd ? 16 : 0;  // 0: zero-filled, nothing read
#pragma unroll
            for (int v = 0; v < VPL; ++v) {
                const uint32_t dst = kDst + s * STEP_BYTES + v * VEC_BYTES;
                asyncCopy16(dst, kBase + rel + v * LPK * 16, n);
                asyncCopy16(dst + RING_BYTES, vBase + rel + v * LPK * 16, n);
            }
        }
        asyncCopyCommit();
    };
    auto issue = [&](int st) {
        if (p.pageShift >= 0) {
            issueSteps(st, [&](int j) { return j >> p.pageShift; }, [&](int j) { return j & (p.pageSize - 1); });
        } else {
            issueSteps(st, [&](int j) { return j / p.pageSize; }, [&](int j) { return j % p.pageSize; });
        }
    };

    float m[G], l[G], o[G][VPL * 8];
#pragma unroll
    for (int h = 0; h < G; ++h) {
        m[h] = -INFINITY;
        l[h] = 0.f;
#pragma unroll
        for (int e = 0; e < VPL * 8; ++e) o[h][e] = 0.f;
    }
    const LogitTransform lg(p, kvh);
    float slope[G];
#pragma unroll
    for (int h = 0; h < G; ++h) slope[h] = h < g ? lg.slope(p, kvh * g + h) : 0.f;

#pragma unroll
    for (int st = 0; st < STREAM_STAGES - 1; ++st) {
        if (st < nStages) {
            issue(st);
        } else {
            asyncCopyCommit();
        }
    }
    for (int t = 0; t < nStages; ++t) {
        if (t + STREAM_STAGES - 1 < nStages) {
            issue(t + STREAM_STAGES - 1);
        } else {
            asyncCopyCommit();
        }
        asyncCopyWait<STREAM_STAGES - 1>();  // stage t has landed (this lane's own copies)
        const uint8_t* kb = ring + (t % STREAM_STAGES) * 2 * RING_BYTES + lane * 16;
        const uint8_t* vb = kb + RING_BYTES;

        // Scores of the stage's keys; no branches until all are reduced, so steps interleave.
        float sc[STEPS][G];
#pragma unroll
        for (int s = 0; s < STEPS; ++s) {
#pragma unroll
            for (int h = 0; h < G; ++h) sc[s][h] = 0.f;
#pragma unroll
            for (int v = 0; v < VPL; ++v) {
                float kf[8];
                unpack8<T>(*reinterpret_cast<const uint4*>(kb + s * STEP_BYTES + v * VEC_BYTES), kf);
#pragma unroll
                for (int h = 0; h < G; ++h) {
#pragma unroll
                    for (int e = 0; e < 8; ++e) sc[s][h] = fmaf(q[h][v * 8 + e], kf[e], sc[s][h]);
                }
            }
        }
#pragma unroll
        for (int off = LPK / 2; off > 0; off >>= 1) {
#pragma unroll
            for (int s = 0; s < STEPS; ++s) {
#pragma unroll
                for (int h = 0; h < G; ++h) sc[s][h] += __shfl_xor_sync(0xffffffffu, sc[s][h], off);
            }
        }
        withLogitFlags(lg, [&](auto flags) {
            using Flags = decltype(flags);
#pragma unroll
            for (int s = 0; s < STEPS; ++s) {
                const int j = wStart + t * SK + s * KPS + half;
#pragma unroll
                for (int h = 0; h < G; ++h) {
                    sc[s][h] = lg.template apply<Flags::cap, Flags::alibi>(sc[s][h], slope[h], j, kvLen - 1);
                }
            }
        });
        bool keep[STEPS];
#pragma unroll
        for (int s = 0; s < STEPS; ++s) keep[s] = wStart + t * SK + s * KPS + half < wEnd;
        if (p.mask) {
#pragma unroll
            for (int s = 0; s < STEPS; ++s) {
                keep[s] = keep[s] && keyVisible(p, b, 0, kvLen - 1, wStart + t * SK + s * KPS + half, kvLen);
            }
        }
#pragma unroll
        for (int s = 0; s < STEPS; ++s) {
#pragma unroll
            for (int h = 0; h < G; ++h) sc[s][h] = keep[s] ? sc[s][h] : -INFINITY;
        }
        float mUse[G];
#pragma unroll
        for (int h = 0; h < G; ++h) {
            float mx = sc[0][h];
#pragma unroll
            for (int s = 1; s < STEPS; ++s) mx = maxNan(mx, sc[s][h]);
            const float mNew = maxNan(m[h], mx);
            mUse[h] = mNew == -INFINITY ? 0.f : mNew;
            const float alpha = exp2f(m[h] - mUse[h]);
            m[h] = mNew;
            l[h] *= alpha;
#pragma unroll
            for (int e = 0; e < VPL * 8; ++e) o[h][e] *= alpha;
        }
#pragma unroll
        for (int s = 0; s < STEPS; ++s) {
            float pe[G];
#pragma unroll
            for (int h = 0; h < G; ++h) {
                pe[h] = exp2f(sc[s][h] - mUse[h]);
                l[h] += pe[h];
            }
#pragma unroll
            for (int v = 0; v < VPL; ++v) {
                float vf[8];
                unpack8<T>(*reinterpret_cast<const uint4*>(vb + s * STEP_BYTES + v * VEC_BYTES), vf);
#pragma unroll
                for (int h = 0; h < G; ++h) {
#pragma unroll
                    for (int e = 0; e < 8; ++e) o[h][v * 8 + e] = fmaf(pe[h], vf[e], o[h][v * 8 + e]);
                }
            }
        }
    }
    asyncCopyWait<0>();

    // The warp's key groups (lanes LPK apart) saw different keys: merge them.
#pragma unroll
    for (int off = LPK; off < 32; off <<= 1) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
            const float mo = __shfl_xor_sync(0xffffffffu, m[h], off);
            const float lo = __shfl_xor_sync(0xffffffffu, l[h], off);
            const float mN = maxNan(m[h], mo);
            const float a = mN == -INFINITY ? 0.f : exp2f(m[h] - mN);
            const float c = mN == -INFINITY ? 0.f : exp2f(mo - mN);
            l[h] = l[h] * a + lo * c;
#pragma unroll
            for (int e = 0; e < VPL * 8; ++e) o[h][e] = o[h][e] * a + __shfl_xor_sync(0xffffffffu, o[h][e], off) * c;
            m[h] = mN;
        }
    }

    // Then the block's warps, through shared memory (the rings are free once every warp is here).
    __syncthreads();
    float* mS = reinterpret_cast<float*>(smemRaw);  // [WARPS][G]
    float* lS = mS + STREAM_WARPS * G;              // [WARPS][G]
    float* oS = lS + STREAM_WARPS * G;              // [WARPS][G][D]
    if (lane == 0) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
            mS[warp * G + h] = m[h];
            lS[warp * G + h] = l[h];
        }
    }
    if (half == 0) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
#pragma unroll
            for (int v = 0; v < VPL; ++v) {
#pragma unroll
                for (int e = 0; e < 8; ++e) oS[(warp * G + h) * D + (v * LPK + col) * 8 + e] = o[h][v * 8 + e];
            }
        }
    }
    __syncthreads();
    storeMergedWarpStates<T, STREAM_WARPS, G, D, NT>(p, mS, lS, oS, qRow, kvh, partialBase);
}

// merge_partials for the streaming decode's many splits: the block reads the split LSEs once,
// in parallel, keeps their weights in shared memory, and each thread's output column sums the
// splits with independent loads (unrolled) instead of one dependent round trip per split.
constexpr int STREAM_MERGE_THREADS = 128;
constexpr int STREAM_MERGE_WEIGHTS = 1024;  // splits beyond this recompute their weight

template <int QT>
__device__ __forceinline__ void mergeStreamBody(const MergePartialsParams& p) {
    constexpr int NT = STREAM_MERGE_THREADS;
    __shared__ float red[NT / 32];
    __shared__ float weight[STREAM_MERGE_WEIGHTS];
    const int* e = p.rows + 5 * blockIdx.x;
    const int qrow = e[0], i = e[1], base = e[2], splits = e[3], items = e[4];
    const int h = blockIdx.y, kvh = h / p.group, gi = i * p.group + h % p.group;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const long long first = base + (long long) kvh * items + gi, stride = (long long) p.hkv * items;

    float m = -INFINITY;
    for (int s = tid; s < splits; s += NT) m = maxNan(m, p.partialLse[first + s * stride]);
    m = warpMax(m);
    if (lane == 0) red[warp] = m;
    __syncthreads();
    // The sink joins the merged row as one more state: lse = sink, o = 0.
    const float sink = p.sinks != nullptr ? p.sinks[h] : -INFINITY;
    m = maxNan(sink, red[0]);
#pragma unroll
    for (int w = 1; w < NT / 32; ++w) m = maxNan(m, red[w]);
    __syncthreads();  // red is reused below

    float t = 0.f;
    for (int s = tid; s < splits; s += NT) {
        const float w = m == -INFINITY ? 0.f : expf(p.partialLse[first + s * stride] - m);
        if (s < STREAM_MERGE_WEIGHTS) weight[s] = w;
        t += w;
    }
    t = warpSum(t);
    if (lane == 0) red[warp] = t;
    __syncthreads();
    float total = m == -INFINITY ? 0.f : expf(sink - m);
#pragma unroll
    for (int w = 0; w < NT / 32; ++w) total += red[w];

    const long long out = (long long) qrow * p.hq + h;
    const long long ob = (long long) qrow * p.oTok + (long long) h * p.oHead;
    const bool empty = m == -INFINITY;
    for (int d = tid; d < p.d; d += NT) {
        float acc = 0.f;
#pragma unroll 8
        for (int s = 0; s < splits; ++s) {
            const long long slot = first + s * stride;
            const float w = s < STREAM_MERGE_WEIGHTS ? weight[s]
                    : (m == -INFINITY ? 0.f : expf(p.partialLse[slot] - m));
            const float x = p.partialO[slot * p.d + d];
            acc = w > 0.f ? fmaf(w, x, acc) : acc;  // a zero weight never multiplies its state
        }
        storeElem<QT>(p.o, ob + d, empty ? 0.f : acc / total);
    }
    if (tid == 0 && p.lse) p.lse[out] = empty ? -INFINITY : m + logf(total);
}

}  // namespace attn4j
