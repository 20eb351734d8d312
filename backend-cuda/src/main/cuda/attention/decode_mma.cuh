// Bandwidth-bound decode on Tensor Cores (the default for GQA groups, for FP8 K/V and without
// grouping at head dims 80 and 256; decodeKernel=mma forces it) for K/V of q's 16-bit type or FP8, no
// RoPE on the fly, head dims that are multiples of 16 up to 256, GQA group up to 16. Same work
// items, page ids in shared memory, per-warp key ranges and split states as the streaming kernel
// (attention/decode_stream.cuh); only the arithmetic differs.
//
// Why: on CUDA cores a group of g heads costs about g multiply-adds per K/V element plus the
// shuffles that reduce each score over its lanes; at g = 4 that is more instructions per byte
// than the SM issues at full HBM bandwidth. On Tensor Cores the group is the M side of an
// m16n8k16 MMA (rows past g are zero and never written), so a 16-key stage of 8 KB (D 128) costs
// 32 MMAs, 16 ldmatrix and 16 cp.async per lane instead of several hundred FMAs and shuffles.
//
// - each warp streams its own keys through a private cp.async ring of padded rows (so ldmatrix
//   is conflict-free); a __syncwarp after each wait makes other lanes' copies visible, and the
//   block never synchronises inside the loop;
// - S = Q K^T from q fragments held in registers and K fragments by ldmatrix; online softmax in
//   base 2 on the accumulators; P is repacked in registers as the A operand of P V (V fragments
//   by ldmatrix.trans);
// - FP8 K/V stays FP8 in shared memory, so a stage holds half the bytes. ldmatrix moves 16-bit
//   cells, which for FP8 rows are pairs of adjacent elements: the K fragment a lane receives
//   holds 4 adjacent dims of one key, and the V fragment 2 adjacent dims of 2 keys. Both are
//   used as they come: the dot product's dims are taken in a permuted order (q's fragments are
//   loaded in the same order), and each V fragment splits into two n-blocks, one of even output
//   dims and one of odd. Each FP8 pair converts exactly to q's type in registers;
// - the 4 warps merge their states through shared memory at the end, as in the streaming kernel;
// - per-token KV scales (FP8): a key's K scale multiplies its raw scores and its V scale its
//   probabilities after l has summed them, as in the Tensor Core kernel; each key's scales are
//   read beside its page id in shared memory.
#pragma once
#include "../primitives/mma_sync.cuh"
#include "decode_stream.cuh"

namespace attn4j {

constexpr int MMA_DEC_WARPS = 4;
constexpr int MMA_DEC_KEYS = 16;       // keys per warp stage: one k-step of P V
constexpr int MMA_DEC_PAD_BYTES = 16;  // appended to each shared row

// Shared by the host (BlockShape.mmaDecodeRingBytes): the warps' rings, then the chunk's page ids.
// Rows of 512 bytes and more (head dim 256 in 16 bits) keep 2 stages, so the ring fits in the
// shared memory of an sm_80 block; the others 3.
__host__ __device__ constexpr int mmaDecStages(int dh, int kvBytes) { return dh * kvBytes >= 512 ? 2 : 3; }
__host__ __device__ constexpr int mmaDecRowBytes(int dh, int kvBytes) { return dh * kvBytes + MMA_DEC_PAD_BYTES; }
__host__ __device__ constexpr int mmaDecStageBytes(int dh, int kvBytes) {
    return 2 * MMA_DEC_KEYS * mmaDecRowBytes(dh, kvBytes);
}
__host__ __device__ constexpr int mmaDecRingBytes(int dh, int kvBytes) {
    return MMA_DEC_WARPS * mmaDecStages(dh, kvBytes) * mmaDecStageBytes(dh, kvBytes);
}


template <int T, int KT, int D>
__device__ __forceinline__ void mmaDecodeBody(const AttnParams& p) {
    constexpr bool FP8 = Elem<KT>::bytes == 1;
    constexpr int KB = Elem<KT>::bytes;
    constexpr int STAGES = mmaDecStages(D, KB);
    constexpr int ROWB = mmaDecRowBytes(D, KB);        // shared row stride, bytes
    constexpr int STAGEB = mmaDecStageBytes(D, KB);
    constexpr int VPR = D * KB / 16;                   // 16-byte vectors per row
    constexpr int SK = MMA_DEC_KEYS;
    constexpr int COPIES = (SK * VPR + 31) / 32;       // per lane per stage, for K and for V each
    constexpr int KD = D / 16;                         // k-steps of Q K^T
    constexpr int NB_O = D / 8;                        // output n-blocks
    constexpr int NT = 32 * MMA_DEC_WARPS;
    static_assert(D % 16 == 0 && D <= 256, "head dim");
    static_assert(KB == 2 || FP8, "K/V of q's 16-bit type or FP8");
    extern __shared__ __align__(16) uint8_t smemRaw[];
    int* pages = reinterpret_cast<int*>(smemRaw + mmaDecRingBytes(D, KB));

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

    auto pageOf = [&](int j) { return p.pageShift >= 0 ? j >> p.pageShift : j / p.pageSize; };
    auto slotOf = [&](int j) { return p.pageShift >= 0 ? j & (p.pageSize - 1) : j % p.pageSize; };
    const int firstPage = kvEnd > kvStart ? pageOf(kvStart) : 0;
    const int pageCount = kvEnd > kvStart ? pageOf(kvEnd - 1) - firstPage + 1 : 0;
    for (int i = tid; i < pageCount; i += NT) pages[i] = p.kvIndices[pageBase + firstPage + i];

    // q fragments (A operand, rows = heads of the group): rows lane/4 and lane/4 + 8. With FP8
    // K the k-step's 16 dims are taken in the order the K fragments come in: lane quad c holds
    // dims 4c..4c+3, the first two as a0/a1, the last two as a2/a3.
    uint32_t qf[KD][4];
    {
        const int h0 = lane >> 2, h1 = h0 + 8;
        const int c = FP8 ? (lane & 3) * 4 : (lane & 3) * 2;
        const int second = FP8 ? 2 : 8;
        const uint16_t* q0 = reinterpret_cast<const uint16_t*>(p.q) + (long long) qRow * p.qTok
                + (long long) (kvh * g + h0) * p.qHead + c;
        const uint16_t* q1 = q0 + 8 * p.qHead;
#pragma unroll
        for (int kk = 0; kk < KD; ++kk) {
            qf[kk][0] = h0 < g ? *reinterpret_cast<const uint32_t*>(q0 + kk * 16) : 0u;
            qf[kk][1] = h1 < g ? *reinterpret_cast<const uint32_t*>(q1 + kk * 16) : 0u;
            qf[kk][2] = h0 < g ? *reinterpret_cast<const uint32_t*>(q0 + kk * 16 + second) : 0u;
            qf[kk][3] = h1 < g ? *reinterpret_cast<const uint32_t*>(q1 + kk * 16 + second) : 0u;
        }
    }
    __syncthreads();  // page ids in place

    const int len = max(0, kvEnd - kvStart);
    const int perWarp = ((len + MMA_DEC_WARPS - 1) / MMA_DEC_WARPS + SK - 1) / SK * SK;
    const int wStart = kvStart + warp * perWarp;
    const int wEnd = min(kvEnd, wStart + perWarp);
    const int nStages = wEnd > wStart ? (wEnd - wStart + SK - 1) / SK : 0;
    uint8_t* ring = smemRaw + warp * STAGES * STAGEB;

    // Lane's copies: vector lane + 32 i of the stage's K (and V) rows. Keys past the range copy
    // nothing (zero fill) from the last key's address.
    const uint8_t* kBase = p.k + (p.kOffset + kvh * p.headStride) * KB;
    const uint8_t* vBase = p.v + (p.vOffset + kvh * p.headStride) * KB;
    auto issue = [&](int st) {
        uint8_t* kDst = ring + (st % STAGES) * STAGEB;
        uint8_t* vDst = kDst + SK * ROWB;
#pragma unroll
        for (int i = 0; i < COPIES; ++i) {
            const int vec = lane + 32 * i;
            if (SK * VPR % 32 == 0 || vec < SK * VPR) {
                const int r = vec / VPR, col = vec - r * VPR;
                const int j = wStart + st * SK + r;
                const int jc = min(j, wEnd - 1);
                const long long rel = ((long long) pages[pageOf(jc) - firstPage] * p.pageStride
                                       + (long long) slotOf(jc) * p.slotStride) * KB + col * 16;
                const int n = j < wEnd ? 16 : 0;
                asyncCopy16((uint32_t) __cvta_generic_to_shared(kDst + r * ROWB + col * 16), kBase + rel, n);
                asyncCopy16((uint32_t) __cvta_generic_to_shared(vDst + r * ROWB + col * 16), vBase + rel, n);
            }
        }
        asyncCopyCommit();
    };

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[NB_O][4];
#pragma unroll
    for (int nb = 0; nb < NB_O; ++nb) o[nb][0] = o[nb][1] = o[nb][2] = o[nb][3] = 0.f;
    // The MMA rows are the group's heads (lane / 4 and + 8), all at the query's position kvLen - 1.
    const LogitTransform lg(p, kvh);
    auto rowSlope = [&](int r) {
        const int h = (lane >> 2) + 8 * r;
        return h < g ? lg.slope(p, kvh * g + h) : 0.f;
    };
    const int rowPq[2] = {kvLen - 1, kvLen - 1};
    const bool tokenScales = FP8 && perTokenScales(p);
    const int rowI[2] = {0, 0};
    const bool rowOk[2] = {true, true};
    const int mi = lane >> 3;
    // ldmatrix row addresses. 16-bit: matrices (keys 0-7, dims 0-7), (0-7, 8-15), (8-15, 0-7),
    // (8-15, 8-15) of a k-step. FP8: (keys 0-7, bytes 0-15), (8-15, 0-15), (0-7, 16-31),
    // (8-15, 16-31) of two k-steps (K) or two 16-dim slices (V).
    const int laneRow = FP8 ? (lane & 7) + (mi & 1) * 8 : (mi >> 1) * 8 + (lane & 7);
    const int laneColB = FP8 ? (mi >> 1) * 16 : (mi & 1) * 16;
    const int vRow = FP8 ? laneRow : (lane & 7) + (mi & 1) * 8;
    const int vColB = FP8 ? laneColB : (lane >> 4) * 16;

#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        if (st < nStages) {
            issue(st);
        } else {
            asyncCopyCommit();
        }
    }
    for (int t = 0; t < nStages; ++t) {
        if (t + STAGES - 1 < nStages) {
            issue(t + STAGES - 1);
        } else {
            asyncCopyCommit();
        }
        asyncCopyWait<STAGES - 1>();  // this lane's copies of stage t have landed
        __syncwarp();                 // and every other lane's
        const uint8_t* ks = ring + (t % STAGES) * STAGEB;
        const uint8_t* vs = ks + SK * ROWB;

        // S = Q K^T, 16 heads x 16 keys.
        float s[2][4];
#pragma unroll
        for (int nb = 0; nb < 2; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
        const uint8_t* kLane = ks + laneRow * ROWB + laneColB;
        if constexpr (!FP8) {
            // ldmatrix x4 gives both n-blocks' b0, b1 of one k-step.
#pragma unroll
            for (int kk = 0; kk < KD; ++kk) {
                uint32_t bk[4];
                ldmatrixX4(bk, kLane + kk * 32);
                Mma<T>::run(s[0], qf[kk], bk[0], bk[1]);
                Mma<T>::run(s[1], qf[kk], bk[2], bk[3]);
            }
        } else {
            // ldmatrix x4 gives both n-blocks of two k-steps, 4 FP8 dims per lane each.
#pragma unroll
            for (int kk = 0; kk < KD; kk += 2) {
                uint32_t bk[4];
                if (kk + 1 < KD) {
                    ldmatrixX4(bk, kLane + kk * 16);
                } else {
                    ldmatrixX2(bk, kLane + kk * 16);
                }
#pragma unroll
                for (int h = 0; h < 2 && kk + h < KD; ++h) {
#pragma unroll
                    for (int nb = 0; nb < 2; ++nb) {
                        const uint32_t w = bk[2 * h + nb];
                        Mma<T>::run(s[nb], qf[kk + h], fp8PairToMma<T, KT>(w), fp8PairToMma<T, KT>(w >> 16));
                    }
                }
            }
        }

        // Keys past the warp's range, and those the custom mask drops (row 0 of the request).
        const int c0 = wStart + t * SK;
        // Per-token scales: accumulators e and e + 2 of n-block nb are one key (fragmentKey);
        // keys past the warp's range take 1 and are masked.
        float vTok[2][2];
        if (FP8 && tokenScales) {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int j = fragmentKey(c0, 4 * nb + e, lane);
                    float kt = 1.f, vt = 1.f;
                    if (j < wEnd) {
                        const long long at = tokenScaleIndex(p, pages[pageOf(j) - firstPage], slotOf(j), kvh);
                        kt = p.kScales[at];
                        vt = p.vScales[at];
                    }
                    s[nb][e] *= kt;
                    s[nb][e + 2] *= kt;
                    vTok[nb][e] = vt;
                }
            }
        }
        fragmentLogits(s, lg, c0, lane, rowSlope, rowPq);
        if (c0 + SK > wEnd || p.mask) fragmentMask(s, p, b, kvLen, wStart, wEnd, c0, lane, rowOk, rowI, rowPq);
        float rowMax[2];
        rowMax[0] = maxNan(maxNan(s[0][0], s[0][1]), maxNan(s[1][0], s[1][1]));
        rowMax[1] = maxNan(maxNan(s[0][2], s[0][3]), maxNan(s[1][2], s[1][3]));
        onlineSoftmaxStep(s, o, m, l, rowMax);
        if (FP8 && tokenScales) {
#pragma unroll
            for (int nb = 0; nb < 2; ++nb) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nb][e] *= vTok[nb][e & 1];
            }
        }

        // O += P V over the stage's 16 keys.
        uint32_t a[4];
        a[0] = Mma<T>::pack(s[0][0], s[0][1]);
        a[1] = Mma<T>::pack(s[0][2], s[0][3]);
        a[2] = Mma<T>::pack(s[1][0], s[1][1]);
        a[3] = Mma<T>::pack(s[1][2], s[1][3]);
        const uint8_t* vLane = vs + vRow * ROWB + vColB;
        if constexpr (!FP8) {
#pragma unroll
            for (int nb = 0; nb < NB_O; nb += 2) {
                uint32_t bv[4];
                ldmatrixX4Trans(bv, vLane + nb * 16);
                Mma<T>::run(o[nb], a, bv[0], bv[1]);
                Mma<T>::run(o[nb + 1], a, bv[2], bv[3]);
            }
        } else {
            // Per 16-dim slice: bv[2 h] holds keys 2c, 2c+1 and bv[2 h + 1] keys 2c+8, 2c+9, each
            // at dims 2n and 2n+1 of the slice (n = lane / 4). o[2 slice] gathers the even
            // dims, o[2 slice + 1] the odd ones.
            constexpr int SLICES = D / 16;
#pragma unroll
            for (int sl = 0; sl < SLICES; sl += 2) {
                uint32_t bv[4];
                if (sl + 1 < SLICES) {
                    ldmatrixX4Trans(bv, vLane + sl * 16);
                } else {
                    ldmatrixX2Trans(bv, vLane + sl * 16);
                }
#pragma unroll
                for (int h = 0; h < 2 && sl + h < SLICES; ++h) {
                    const uint32_t lo = bv[2 * h], hi = bv[2 * h + 1];
                    Mma<T>::run(o[2 * (sl + h)], a, fp8PairToMma<T, KT>(__byte_perm(lo, 0, 0x4420)),
                                fp8PairToMma<T, KT>(__byte_perm(hi, 0, 0x4420)));
                    Mma<T>::run(o[2 * (sl + h) + 1], a, fp8PairToMma<T, KT>(__byte_perm(lo, 0, 0x4431)),
                                fp8PairToMma<T, KT>(__byte_perm(hi, 0, 0x4431)));
                }
            }
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
            const int h = h0 + 8 * (e >> 1), n = (lane & 3) * 2 + (e & 1);
            const int d = FP8 ? (nb >> 1) * 16 + 2 * n + (nb & 1) : nb * 8 + n;
            if (h < g) oS[(warp * H + h) * D + d] = o[nb][e];
        }
    }
    __syncthreads();
    storeMergedWarpStates<T, MMA_DEC_WARPS, H, D, NT>(p, mS, lS, oS, qRow, kvh, partialBase);
}

}  // namespace attn4j
