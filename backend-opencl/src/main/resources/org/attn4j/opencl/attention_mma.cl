// Batch attention on NVIDIA Tensor Cores, for NVIDIA's OpenCL on compute capability 8.0 and
// newer: the tiled kernel's units and arguments (attention.cl), with both products on
// `mma.sync.m16n8k16` through inline PTX, which NVIDIA's OpenCL compiler passes to its PTX
// assembler. Built with MMA_EMULATED those three instructions are emulated in plain OpenCL, so
// the rest can be tested on any device (the option kernel=tensor-emulated). The plan routes here
// only what this kernel takes: q, K and V of one 16-bit type (QT 1 F16 or 2 BF16), head dims
// that are multiples of 8 up to DMAX, rows on 8-element boundaries, no RoPE on the fly and no
// per-key scales. Masks, ALiBi, the soft cap, sinks and split rows are those of variants.cl.
//
// Why: on CUDA cores the tiled kernel is bound by FMA issue and local-memory loads (about a third
// of the GPU's FP32 rate); a Tensor Core product does 2048 multiply-adds a warp instruction.
//
// Layout: a work-group is TM / 16 warps; warp w owns query items [16 w, 16 w + 16) of the unit,
// and in the m16n8k16 fragment layout lane (g = lane / 4, t = lane % 4) holds items g and g + 8.
// Per tile of TN keys, K and V rows are copied into local memory as they are stored (16-bit,
// row stride KSTR), S = q K^T (q's fragments stay in registers for the whole unit), the online
// softmax runs on S's fragments (a row's 4 lanes meet through shuffles), and P goes straight from
// S's accumulators into the A fragments of P V.
//
// Copies overlap the products: K and V tiles sit in a ring of two stages, and the asynchronous
// copies (cp.async) of tile t + 1 are issued as tile t's products start, so a work-group waits on
// memory only where a whole tile's products are shorter than a copy. Each key's page is looked
// up once for its K and V rows. Two stages of K and V at 32 keys fit in the 48 KB of local memory
// NVIDIA's OpenCL gives a work-group. Fragments come out of local memory through ldmatrix
// (.trans for V, whose B fragments run down the key axis): one instruction gives a lane four
// 32-bit fragment registers.
//
// Compile-time: QT (= KVT), DMAX (a multiple of 16, at most 128), TM (16, 32 or 64), TN (16, 32 or 64),
// WG (= 2 TM), MMA_EMULATED (1: the products and shuffles in plain OpenCL, for tests elsewhere;
// 0 takes ASYNC_COPY_PTX = 1, the copies' PTX in common.cl).
#if !MMA_EMULATED && !ASYNC_COPY_PTX
#error "the Tensor Core instructions come with cp.async copies: build with ASYNC_COPY_PTX=1"
#endif

#define WARPS (TM / 16)
// Row stride of the staged K and V tiles in 16-bit elements: 16 bytes past a multiple of 128, so
// the 8 rows a fragment load touches fall in different banks.
#define KSTR (DMAX + 8)

#if MMA_EMULATED
// Loops stay loops: a barrier in every unrolled product would make the CPU compiler's work-item
// loops grow with each one (minutes per build).
#define UNROLL _Pragma("unroll 1")
// The same three operations with local memory and barriers, on any device: the kernel's fragment
// bookkeeping, masks and softmax can then be checked where no NVIDIA GPU is (slowly: two barriers
// a product). Every work-item of the group reaches each call, as the real instructions need.
#define EMULATION_SCRATCH __local uint lanes[WG * 6];
#if QT == 1
#define HALF_TO_FLOAT(h) half_bits_to_float(h)
#define FLOAT_TO_HALF(x) float_to_f16_dir(x, 0.0f)
#else
#define HALF_TO_FLOAT(h) bf16_to_float((ushort) (h))
#define FLOAT_TO_HALF(x) float_to_bf16(x)
#endif

// Element (row, k) of the 16 x 16 A operand and (k, col) of the 16 x 8 B operand of the warp
// whose lanes start at w in lanes[]: where the fragment layout keeps them.
inline float mma_a(__local const uint* lanes, int w, int row, int k) {
    const int lane = (row & 7) * 4 + ((k & 7) >> 1);
    const uint reg = lanes[(w + lane) * 6 + (row >> 3) + 2 * (k >> 3)];
    return HALF_TO_FLOAT((k & 1) ? reg >> 16 : reg & 0xFFFFu);
}

inline float mma_b(__local const uint* lanes, int w, int k, int col) {
    const int lane = col * 4 + ((k & 7) >> 1);
    const uint reg = lanes[(w + lane) * 6 + 4 + (k >> 3)];
    return HALF_TO_FLOAT((k & 1) ? reg >> 16 : reg & 0xFFFFu);
}

inline void mma16816_in(__local uint* lanes, float* c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1) {
    const int lid = get_local_id(0);
    const int w = lid & ~31;
    const int g = (lid & 31) >> 2;
    const int t = lid & 3;
    lanes[lid * 6 + 0] = a0;
    lanes[lid * 6 + 1] = a1;
    lanes[lid * 6 + 2] = a2;
    lanes[lid * 6 + 3] = a3;
    lanes[lid * 6 + 4] = b0;
    lanes[lid * 6 + 5] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int e = 0; e < 4; e++) {
        const int row = g + 8 * (e >> 1);
        const int col = 2 * t + (e & 1);
        float x = c[e];
        for (int k = 0; k < 16; k++) {
            x = fma(mma_a(lanes, w, row, k), mma_b(lanes, w, k, col), x);
        }
        c[e] = x;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}
#define mma16816(c, a0, a1, a2, a3, b0, b1) mma16816_in(lanes, c, a0, a1, a2, a3, b0, b1)

inline uint pack_pair(float lo, float hi) {
    return (uint) FLOAT_TO_HALF(lo) | ((uint) FLOAT_TO_HALF(hi) << 16);
}

inline float lane_xor_in(__local uint* lanes, float x, int mask) {
    const int lid = get_local_id(0);
    lanes[lid] = as_uint(x);
    barrier(CLK_LOCAL_MEM_FENCE);
    const float r = as_float(lanes[lid ^ mask]);
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
#define lane_xor(x, mask) lane_xor_in(lanes, x, mask)

// What ldmatrix gives lane (g, t): register i holds elements (g, 2t) and (g, 2t + 1) of the 8 x 8
// matrix i, whose row r starts at rows[i][r] (non-transposed), or elements (2t, g) and (2t + 1, g)
// (transposed). The real instruction takes row r of matrix i from lane 8 i + r; the emulation
// reads the same elements straight from the tile.
inline void k_fragments(__local const ushort* tile, int n0, int d0, int count, uint* b) {
    const int lane = get_local_id(0) & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    for (int i = 0; i < count; i++) {
        b[i] = *(__local const uint*) (tile + (n0 + g) * KSTR + d0 + 8 * i + 2 * t);
    }
}

inline void v_fragments(__local const ushort* tile, int k0, int n0, uint* b) {
    const int lane = get_local_id(0) & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    for (int i = 0; i < 4; i++) {
        __local const ushort* v = tile + (k0 + 8 * (i & 1) + 2 * t) * KSTR + n0 + 8 * (i >> 1) + g;
        b[i] = (uint) v[0] | ((uint) v[KSTR] << 16);
    }
}

#else
#define EMULATION_SCRATCH
#define UNROLL _Pragma("unroll")

#if QT == 1
#define MMA_AB "f16"
#define CVT_PAIR "cvt.rn.f16x2.f32"
#else
#define MMA_AB "bf16"
#define CVT_PAIR "cvt.rn.bf16x2.f32"
#endif

// c += a b for one m16n8k16 tile: a row-major 16 x 16, b column-major 16 x 8, c 16 x 8 in float.
inline void mma16816(float* c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32." MMA_AB "." MMA_AB ".f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Two floats rounded to the 16-bit type, lo in the low half.
inline uint pack_pair(float lo, float hi) {
    uint r;
    asm(CVT_PAIR " %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// x of the lane whose id differs from this one's in the bits of mask (all 32 lanes take part).
inline float lane_xor(float x, int mask) {
    float r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(x), "r"(mask));
    return r;
}

// Lane l gives the address of row l % 8 of matrix l / 8; see the emulation for what comes back.
// Volatile: the tiles change under the same addresses from one key tile to the next.
inline void k_fragments(__local const ushort* tile, int n0, int d0, int count, uint* b) {
    const int lane = get_local_id(0) & 31;
    const uint a = shared_address(tile + (n0 + (lane & 7)) * KSTR + d0 + 8 * ((lane >> 3) & 3));
    if (count == 4) {
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
    } else {
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
                     : "=r"(b[0]), "=r"(b[1]) : "r"(a));
    }
}

inline void v_fragments(__local const ushort* tile, int k0, int n0, uint* b) {
    const int lane = get_local_id(0) & 31;
    const int i = lane >> 3;
    const uint a = shared_address(tile + (k0 + 8 * (i & 1) + (lane & 7)) * KSTR + n0 + 8 * (i >> 1));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
}
#endif

// A 32-bit pair of 16-bit elements at element offset i of a global 16-bit array.
#define PAIR(p, i) (*(__global const uint*) ((__global const ushort*) (p) + (i)))

// Starts copying the K and V rows of keys [t0, t0 + TN) into one stage's kTile and vTile, in
// 16-byte chunks, each key's page looked up once for both; chunks past kvEnd or past a row's dims
// are zeros.
inline void stage_tiles(__local uint4* kTile, __local uint4* vTile, __global const ushort* kBase,
                        __global const ushort* vBase, int t0, int kvEnd, int headDim, int headDimV,
                        __global const int* kvIndices, int pageBase, int pageSize, long pageStride, long slotStride,
                        long headStride, long vPageStride, long vSlotStride, long vHeadStride, int hk) {
    const int nKeys = min(TN, kvEnd - t0);
    UNROLL
    for (int i = 0; i < (TN * (DMAX / 8) + WG - 1) / WG; i++) {
        const int c = get_local_id(0) + i * WG;
        if (c >= TN * (DMAX / 8)) {
            break;
        }
        const int n = c / (DMAX / 8);
        const int d = 8 * (c - n * (DMAX / 8));
        const bool key = n < nKeys;
        long kOff = 0;
        long vOff = 0;
        if (key) {
            const int2 ps = key_page(kvIndices, pageBase, t0 + n, pageSize);
            kOff = page_offset(ps, pageStride, slotStride, headStride, hk) + d;
            vOff = page_offset(ps, vPageStride, vSlotStride, vHeadStride, hk) + d;
        }
        copy16(kTile + (n * KSTR + d) / 8, (__global const uint4*) (kBase + kOff), key && d < headDim);
        copy16(vTile + (n * KSTR + d) / 8, (__global const uint4*) (vBase + vOff), key && d < headDimV);
    }
    copies_commit();
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention(ATTENTION_KERNEL_PARAMS) {
    // Stage i of the ring is [i * TN * KSTR / 8, (i + 1) * TN * KSTR / 8).
    __local uint4 kRing[2 * TN * KSTR / 8];
    __local uint4 vRing[2 * TN * KSTR / 8];
    EMULATION_SCRATCH

    const int lid = get_local_id(0);
    const int warp = lid >> 5;
    const int lane = lid & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int unit = get_group_id(0);
    const int hk = get_group_id(1);
    UNIT_BOUNDS(unit);
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    __global const ushort* kBase = (__global const ushort*) kc + kOffset;
    __global const ushort* vBase = (__global const ushort*) vc + vOffset;

    // This lane's two items (r = 0: g, r = 1: g + 8 of the warp's 16).
    bool live[2];
    int rowOf[2];
    int headOf[2];
    float slope[2];
    float rowMax[2];
    float rowSum[2]; // this lane's keys only until the end
    UNROLL
    for (int r = 0; r < 2; r++) {
        const int item = itemStart + warp * 16 + g + 8 * r;
        live[r] = item < itemEnd;
        rowOf[r] = item / group;
        headOf[r] = hk * group + (item - rowOf[r] * group);
        slope[r] = live[r] ? head_slope(slopes, headOf[r], flags) : 0.0f;
        rowMax[r] = -INFINITY;
        rowSum[r] = 0.0f;
    }

    if (kvStart < kvEnd) {
        stage_tiles(kRing, vRing, kBase, vBase, kvStart, kvEnd, headDim, headDimV, kvIndices, pageBase, pageSize,
                    pageStride, slotStride, headStride, vPageStride, vSlotStride, vHeadStride, hk);
    }

    // q's A fragments for every 16 dims: (item g, dims 2t, 2t+1), (g + 8, same), (g, +8), (g + 8, +8).
    uint qa[DMAX / 16][4];
    UNROLL
    for (int ks = 0; ks < DMAX / 16; ks++) {
        UNROLL
        for (int z = 0; z < 4; z++) {
            const int r = z & 1;
            const int d = ks * 16 + 2 * t + 8 * (z >> 1);
            qa[ks][z] = live[r] && d < headDim
                    ? PAIR(q, qOff + (long) (qoStart + rowOf[r]) * qTok + (long) headOf[r] * qHead + d) : 0u;
        }
    }

    // o's accumulators for every 8 dims: (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
    float acc[DMAX / 8][4];
    UNROLL
    for (int nt = 0; nt < DMAX / 8; nt++) {
        UNROLL
        for (int e = 0; e < 4; e++) {
            acc[nt][e] = 0.0f;
        }
    }

    for (int t0 = kvStart, stage = 0; t0 < kvEnd; t0 += TN, stage ^= 1) {
        const int nKeys = min(TN, kvEnd - t0);
        // This tile has landed, and every warp is done with the last one, whose stage now takes
        // the next tile.
        copies_wait_all();
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t0 + TN < kvEnd) {
            const int next = (stage ^ 1) * (TN * KSTR / 8);
            stage_tiles(kRing + next, vRing + next, kBase, vBase, t0 + TN, kvEnd, headDim, headDimV, kvIndices,
                        pageBase, pageSize, pageStride, slotStride, headStride, vPageStride, vSlotStride,
                        vHeadStride, hk);
        }
        __local const ushort* kTile = (__local const ushort*) (kRing + stage * (TN * KSTR / 8));
        __local const ushort* vTile = (__local const ushort*) (vRing + stage * (TN * KSTR / 8));

        // S = q K^T: K's B fragments are (key g, dims 2t, 2t + 1) and (key g, dims 2t + 8, 2t + 9),
        // two k-steps of 16 dims per ldmatrix.
        float s[TN / 8][4];
        UNROLL
        for (int nt = 0; nt < TN / 8; nt++) {
            UNROLL
            for (int e = 0; e < 4; e++) {
                s[nt][e] = 0.0f;
            }
        }
        UNROLL
        for (int ks = 0; ks < DMAX / 16; ks += 2) {
            if (ks * 16 < headDim) {
                const int count = ks + 1 < DMAX / 16 ? 4 : 2;
                UNROLL
                for (int nt = 0; nt < TN / 8; nt++) {
                    uint kb[4];
                    k_fragments(kTile, nt * 8, ks * 16, count, kb);
                    mma16816(s[nt], qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3], kb[0], kb[1]);
                    if (count == 4) {
                        mma16816(s[nt], qa[ks + 1][0], qa[ks + 1][1], qa[ks + 1][2], qa[ks + 1][3], kb[2], kb[3]);
                    }
                }
            }
        }

        // Scale, masks and logit terms (skipped for a tile every live item sees whole), row maxima.
        const bool whole = tile_seen_whole(t0, TN, kvEnd, pqFirst, pqLast, flags, windowLeft);
        float mx[2] = {-INFINITY, -INFINITY};
        UNROLL
        for (int nt = 0; nt < TN / 8; nt++) {
            UNROLL
            for (int e = 0; e < 4; e++) {
                const int r = e >> 1;
                float x = s[nt][e] * qScale;
                if (!whole) {
                    const int n = nt * 8 + 2 * t + (e & 1);
                    const int key = t0 + n;
                    const int pq = rowOf[r] + shift;
                    const bool ok = live[r] && n < nKeys
                            && key_allowed(rowOf[r], pq, key, kvLen, flags, windowLeft, mask, maskBase);
                    x = ok ? logit_log2(x, slope[r], key, pq, flags, softCap) : -INFINITY;
                }
                s[nt][e] = x;
                mx[r] = max_nan(mx[r], x);
            }
        }
        // A row's 4 lanes agree on its maximum, then weigh their own keys against it.
        float alpha[2];
        float ref[2];
        UNROLL
        for (int r = 0; r < 2; r++) {
            mx[r] = max_nan(mx[r], lane_xor(mx[r], 1));
            mx[r] = max_nan(mx[r], lane_xor(mx[r], 2));
            const float m = max_nan(rowMax[r], mx[r]);
            alpha[r] = softmax_weight(rowMax[r], m);
            ref[r] = softmax_ref(m);
            rowMax[r] = m;
        }
        float sum[2] = {0.0f, 0.0f};
        UNROLL
        for (int nt = 0; nt < TN / 8; nt++) {
            UNROLL
            for (int e = 0; e < 4; e++) {
                const float p = exp2(s[nt][e] - ref[e >> 1]);
                s[nt][e] = p;
                sum[e >> 1] += p;
            }
        }
        UNROLL
        for (int r = 0; r < 2; r++) {
            rowSum[r] = rowSum[r] * alpha[r] + sum[r];
        }
        UNROLL
        for (int nt = 0; nt < DMAX / 8; nt++) {
            UNROLL
            for (int e = 0; e < 4; e++) {
                acc[nt][e] *= alpha[e >> 1];
            }
        }

        // o += P V: P's A fragment for keys [16 kk, 16 kk + 16) is S's n-tiles 2 kk and 2 kk + 1 as
        // they are; V's B fragments are (keys 2t, 2t + 1, dim g) and (keys 2t + 8, 2t + 9, dim g),
        // two n-tiles of 8 dims per ldmatrix.
        UNROLL
        for (int kk = 0; kk < TN / 16; kk++) {
            if (kk * 16 < nKeys) {
                const uint a0 = pack_pair(s[2 * kk][0], s[2 * kk][1]);
                const uint a1 = pack_pair(s[2 * kk][2], s[2 * kk][3]);
                const uint a2 = pack_pair(s[2 * kk + 1][0], s[2 * kk + 1][1]);
                const uint a3 = pack_pair(s[2 * kk + 1][2], s[2 * kk + 1][3]);
                UNROLL
                for (int nt = 0; nt < DMAX / 8; nt += 2) {
                    if (nt * 8 < headDimV) {
                        uint vb[4];
                        v_fragments(vTile, kk * 16, nt * 8, vb);
                        mma16816(acc[nt], a0, a1, a2, a3, vb[0], vb[1]);
                        mma16816(acc[nt + 1], a0, a1, a2, a3, vb[2], vb[3]);
                    }
                }
            }
        }
    }

    // Each row's sum over all its keys (its 4 lanes' in a fixed order), then o and lse.
    const int tmpBase = unitTmpRow[unit];
    UNROLL
    for (int r = 0; r < 2; r++) {
        rowSum[r] += lane_xor(rowSum[r], 1);
        rowSum[r] += lane_xor(rowSum[r], 2);
    }
    UNROLL
    for (int r = 0; r < 2; r++) {
        if (!live[r]) {
            continue;
        }
        const int row = rowOf[r];
        const int h = headOf[r];
        float lse2;
        float lseNatural;
        const float inv = softmax_finish(rowMax[r], rowSum[r], row_sink(sinks, h, flags, tmpBase), vScale, &lse2,
                                         &lseNatural);
        const long orow = tmpBase < 0 ? (long) qoStart + row : (long) tmpBase + row;
        const long base = tmpBase < 0 ? oOff + orow * oTok + (long) h * oHead : (orow * hq + h) * headDimV;
        UNROLL
        for (int nt = 0; nt < DMAX / 8; nt++) {
            const int d = nt * 8 + 2 * t;
            if (d < headDimV) {
                if (tmpBase < 0) {
                    STORE(QT, o, base + d, acc[nt][2 * r] * inv);
                    STORE(QT, o, base + d + 1, acc[nt][2 * r + 1] * inv);
                } else {
                    tmpO[base + d] = acc[nt][2 * r] * inv;
                    tmpO[base + d + 1] = acc[nt][2 * r + 1] * inv;
                }
            }
        }
        if (t == 0) {
            store_lse(lse + lseOff, tmpLse, tmpBase, orow * hq + h, lse2, lseNatural, flags);
        }
    }
}
