// Bandwidth-bound decode on Tensor Cores (the default for GQA groups of 2 to 8; decodeKernel=mma
// forces it) for K/V of q's 16-bit type, no RoPE on the fly, head dim 64 or 128, GQA group up to
// 16. Same work items, page ids in shared memory, per-warp key ranges and split states as the
// streaming kernel (decode_stream.cuh); only the arithmetic differs.
//
// Why: on CUDA cores a group of g heads costs about g multiply-adds per K/V element plus the
// shuffles that reduce each score over its lanes; at g = 4 that is more instructions per byte
// than the SM issues at full HBM bandwidth. On Tensor Cores the group is the M side of an
// m16n8k16 MMA (rows past g are zero and never written), so a 16-key stage of 8 KB (D 128) costs
// 32 MMAs, 16 ldmatrix and 16 cp.async per lane instead of several hundred FMAs and shuffles.
//
// - each warp streams its own keys through a private 3-stage cp.async ring of padded rows (so
//   ldmatrix is conflict-free); a __syncwarp after each wait makes other lanes' copies visible,
//   and the block never synchronises inside the loop;
// - S = Q K^T from q fragments held in registers and K fragments by ldmatrix; online softmax in
//   base 2 on the accumulators; P is repacked in registers as the A operand of P V (V fragments
//   by ldmatrix.trans);
// - the 4 warps merge their states through shared memory at the end, as in the streaming kernel.
#pragma once
#include "decode_stream.cuh"
#include "mma.cuh"

namespace attn4j {

constexpr int MMA_DEC_WARPS = 4;
constexpr int MMA_DEC_STAGES = 3;
constexpr int MMA_DEC_KEYS = 16;  // keys per warp stage: one k-step of P V
constexpr int MMA_DEC_PAD = 8;    // 16-bit elements appended to each shared row

// Shared by the host (BlockShape.mmaDecodeRingBytes): the warps' rings, then the chunk's page ids.
__host__ __device__ constexpr int mmaDecRowBytes(int dh) { return (dh + MMA_DEC_PAD) * 2; }
__host__ __device__ constexpr int mmaDecStageBytes(int dh) { return 2 * MMA_DEC_KEYS * mmaDecRowBytes(dh); }
__host__ __device__ constexpr int mmaDecRingBytes(int dh) {
    return MMA_DEC_WARPS * MMA_DEC_STAGES * mmaDecStageBytes(dh);
}

template <int T, int D>
__device__ __forceinline__ void mmaDecodeBody(const AttnParams& p) {
    constexpr int ROW = D + MMA_DEC_PAD;               // shared row stride, 16-bit elements
    constexpr int VPR = D / 8;                         // 16-byte vectors per row
    constexpr int KEYS_PER_COPY = 32 / VPR;            // rows one warp-wide copy covers
    constexpr int COPIES = MMA_DEC_KEYS / KEYS_PER_COPY;  // per lane per stage, for K and for V each
    constexpr int KD = D / 16;                         // k-steps of Q K^T
    constexpr int NB_O = D / 8;                        // output n-blocks
    constexpr int NT = 32 * MMA_DEC_WARPS;
    constexpr int SK = MMA_DEC_KEYS;
    static_assert(32 % VPR == 0 && SK % KEYS_PER_COPY == 0, "copy shape");
    extern __shared__ __align__(16) uint8_t smemRaw[];
    int* pages = reinterpret_cast<int*>(smemRaw + mmaDecRingBytes(D));

    const int* wk = p.work + WORK_INTS * blockIdx.x;
    const int b = wk[0], partialBase = wk[4];  // decode: the block holds the whole group (item 0)
    int kvStart = wk[2], kvEnd = wk[3];
    const int kvh = blockIdx.y, g = p.group;
    const int qRow = p.qoIndptr[b];
    const int pageBase = p.kvIndptr[b], nPages = p.kvIndptr[b + 1] - pageBase;
    const int kvLen = nPages == 0 ? 0 : (nPages - 1) * p.pageSize + p.kvLastPageLen[b];
    kvEnd = min(kvEnd, kvLen);  // a device page table's plan schedules for its longest request
    // The one query row sits at position kvLen - 1: causal keeps every key, the window cuts the front.
    if (p.causal) kvEnd = min(kvEnd, kvLen);
    if (p.windowLeft >= 0) kvStart = max(kvStart, kvLen - 1 - p.windowLeft);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };
    const int firstPage = kvEnd > kvStart ? pageOf(kvStart) : 0;
    const int pageCount = kvEnd > kvStart ? pageOf(kvEnd - 1) - firstPage + 1 : 0;
    for (int i = tid; i < pageCount; i += NT) pages[i] = p.kvIndices[pageBase + firstPage + i];

    // q fragments (A operand, rows = heads of the group): rows lane/4 and lane/4 + 8.
    uint32_t qf[KD][4];
    {
        const int h0 = lane >> 2, h1 = h0 + 8, c = (lane & 3) * 2;
        const uint16_t* q0 = reinterpret_cast<const uint16_t*>(p.q) + (long long) qRow * p.qTok
                + (long long) (kvh * g + h0) * p.qHead + c;
        const uint16_t* q1 = q0 + 8 * D;
#pragma unroll
        for (int kk = 0; kk < KD; ++kk) {
            qf[kk][0] = h0 < g ? *reinterpret_cast<const uint32_t*>(q0 + kk * 16) : 0u;
            qf[kk][1] = h1 < g ? *reinterpret_cast<const uint32_t*>(q1 + kk * 16) : 0u;
            qf[kk][2] = h0 < g ? *reinterpret_cast<const uint32_t*>(q0 + kk * 16 + 8) : 0u;
            qf[kk][3] = h1 < g ? *reinterpret_cast<const uint32_t*>(q1 + kk * 16 + 8) : 0u;
        }
    }
    __syncthreads();  // page ids in place

    const int len = max(0, kvEnd - kvStart);
    const int perWarp = ((len + MMA_DEC_WARPS - 1) / MMA_DEC_WARPS + SK - 1) / SK * SK;
    const int wStart = kvStart + warp * perWarp;
    const int wEnd = min(kvEnd, wStart + perWarp);
    const int nStages = wEnd > wStart ? (wEnd - wStart + SK - 1) / SK : 0;
    uint8_t* ring = smemRaw + warp * MMA_DEC_STAGES * mmaDecStageBytes(D);

    // Lane's copies: row (lane / VPR) + i * KEYS_PER_COPY of the stage, 16-byte column lane % VPR.
    // Keys past the range copy nothing (zero fill) from the last key's address.
    const int col = lane % VPR, rowInCopy = lane / VPR;
    const uint8_t* kBase = p.k + (p.kOffset + kvh * p.headStride) * 2 + col * 16;
    const uint8_t* vBase = p.v + (p.vOffset + kvh * p.headStride) * 2 + col * 16;
    auto issue = [&](int st) {
        uint8_t* kDst = ring + (st % MMA_DEC_STAGES) * mmaDecStageBytes(D) + col * 16;
        uint8_t* vDst = kDst + SK * mmaDecRowBytes(D);
#pragma unroll
        for (int i = 0; i < COPIES; ++i) {
            const int r = rowInCopy + i * KEYS_PER_COPY;
            const int j = wStart + st * SK + r;
            const int jc = min(j, wEnd - 1);
            const long long rel = ((long long) pages[pageOf(jc) - firstPage] * p.pageStride
                                   + (long long) slotOf(jc) * p.slotStride) * 2;
            const int n = j < wEnd ? 16 : 0;
            asyncCopy16((uint32_t) __cvta_generic_to_shared(kDst + r * mmaDecRowBytes(D)), kBase + rel, n);
            asyncCopy16((uint32_t) __cvta_generic_to_shared(vDst + r * mmaDecRowBytes(D)), vBase + rel, n);
        }
        asyncCopyCommit();
    };

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NB_O][4];
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;
    const float LOG2E = 1.4426950408889634f;
    const float scale = p.smScale * p.kScale;
    const float scaleLog2 = scale * LOG2E;
    const int mi = lane >> 3;

#pragma unroll
    for (int st = 0; st < MMA_DEC_STAGES - 1; ++st) {
        if (st < nStages) {
            issue(st);
        } else {
            asyncCopyCommit();
        }
    }
    for (int t = 0; t < nStages; ++t) {
        if (t + MMA_DEC_STAGES - 1 < nStages) {
            issue(t + MMA_DEC_STAGES - 1);
        } else {
            asyncCopyCommit();
        }
        asyncCopyWait<MMA_DEC_STAGES - 1>();  // this lane's copies of stage t have landed
        __syncwarp();                       // and every other lane's
        const uint16_t* ks = reinterpret_cast<const uint16_t*>(ring + (t % MMA_DEC_STAGES) * mmaDecStageBytes(D));
        const uint16_t* vs = ks + SK * ROW;

        // S = Q K^T, 16 heads x 16 keys: ldmatrix x4 gives both n-blocks' b0, b1 of one k-step.
        float s[2][4];
#pragma unroll
        for (int nb = 0; nb < 2; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
        const uint16_t* kLane = ks + ((mi >> 1) * 8 + (lane & 7)) * ROW + (mi & 1) * 8;
#pragma unroll
        for (int kk = 0; kk < KD; ++kk) {
            uint32_t bk[4];
            ldmatrixX4(bk, kLane + kk * 16);
            Mma<T>::run(s[0], qf[kk], bk[0], bk[1]);
            Mma<T>::run(s[1], qf[kk], bk[2], bk[3]);
        }

        if (p.softCap > 0.f) {
            const float capLog2 = p.softCap * LOG2E, invCap = 1.f / p.softCap;
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nb][e] = capLog2 * tanhf(s[nb][e] * scale * invCap);
        } else {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nb][e] *= scaleLog2;
        }
        // Keys past the warp's range, and those the custom mask drops (row 0 of the request).
        const int c0 = wStart + t * SK;
        if (c0 + SK > wEnd || p.mask) {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int j = c0 + nb * 8 + (lane & 3) * 2 + (e & 1);
                    bool ok = j < wEnd;
                    if (ok && p.mask) {
                        const long long bit = p.maskOffsets[b] + j;
                        ok = (p.mask[bit >> 3] >> (bit & 7)) & 1;
                    }
                    if (!ok) s[nb][e] = -INFINITY;
                }
            }
        }
        float rowMax[2];
        rowMax[0] = maxNan(maxNan(s[0][0], s[0][1]), maxNan(s[1][0], s[1][1]));
        rowMax[1] = maxNan(maxNan(s[0][2], s[0][3]), maxNan(s[1][2], s[1][3]));
        onlineSoftmaxStep(s, o, m, l, rowMax);

        // O += P V over the stage's 16 keys.
        uint32_t a[4];
        a[0] = Mma<T>::pack(s[0][0], s[0][1]);
        a[1] = Mma<T>::pack(s[0][2], s[0][3]);
        a[2] = Mma<T>::pack(s[1][0], s[1][1]);
        a[3] = Mma<T>::pack(s[1][2], s[1][3]);
        const uint16_t* vrow = vs + ((lane & 7) + ((lane >> 3) & 1) * 8) * ROW + (lane >> 4) * 8;
#pragma unroll
        for (int nb = 0; nb < NB_O; nb += 2) {
            uint32_t bv[4];
            ldmatrixX4Trans(bv, vrow + nb * 8);
            Mma<T>::run(o[nb], a, bv[0], bv[1]);
            Mma<T>::run(o[nb + 1], a, bv[2], bv[3]);
        }
        __syncwarp();  // every lane has read stage t before the next iteration refills its slot
    }
    asyncCopyWait<0>();
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }

    // The block's warps saw different keys: merge through shared memory (rings are free now).
    constexpr int H = 16;
    __syncthreads();
    float* mS = reinterpret_cast<float*>(smemRaw);  // [WARPS][H]
    float* lS = mS + MMA_DEC_WARPS * H;             // [WARPS][H]
    float* oS = lS + MMA_DEC_WARPS * H;             // [WARPS][H][D]
    const int h0 = lane >> 2;
    if ((lane & 3) == 0) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mS[warp * H + h0 + 8 * r] = m[r];
            lS[warp * H + h0 + 8 * r] = l[r];
        }
    }
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int h = h0 + 8 * (e >> 1), d = nb * 8 + (lane & 3) * 2 + (e & 1);
            if (h < g) oS[(warp * H + h) * D + d] = o[nb][e];
        }
    }
    __syncthreads();
    storeMergedWarpStates<T, MMA_DEC_WARPS, H, D, NT>(p, mS, lS, oS, qRow, kvh, partialBase);
}

}  // namespace attn4j
