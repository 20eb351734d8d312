// Batch attention over the generic paged view (decode and prefill alike).
//
// A "unit" is a tile of TM query items of one request and one KV head over one chunk of its
// keys. A query item is (row, head within the KV head's group), so the g query heads of a KV
// head share every K/V load. Keys are visited with an online softmax in base 2; a unit either
// writes o/lse directly or, when its request's keys were split into chunks, a float partial
// state that merge_splits combines. Two flavours compute the same units:
// - tiled (SERIAL=0, GPUs): one work-group per unit, each work-item a register tile of logits
//   and of the output accumulators, q, K and V staged through local memory in chunks;
// - serial (SERIAL=1, CPUs): one work-item per unit, no local memory and no barriers.
//
// q and K rows have headDim (Dqk) elements, V and o rows headDimV (Dvo), each with its own
// strides; DMAX is the bucket of the larger, and every tile pads both with zeros up to it.
//
// Compile-time: QT, KVT (type codes of common.cl), DMAX (head dim bucket), TM; tiled also TN,
// TY x TX work-items (WG), DC (head-dim chunk of the logits), VC (keys per V chunk) and ALIGNED4
// (1: every q, K and V row starts on a multiple of 4 elements, so vectors load aligned).

// RoPE pairing within the first 2 * rotaryHalf dims (the rotary dim): the pair index of element
// d < 2 * rotaryHalf, its partner and the sign of the partner's term.
inline int rope_pair(int d, int rotaryHalf, int interleaved, int* partner, float* sign) {
    if (interleaved) {
        *partner = d ^ 1;
        *sign = (d & 1) ? 1.0f : -1.0f;
        return d >> 1;
    }
    if (d < rotaryHalf) {
        *partner = d + rotaryHalf;
        *sign = -1.0f;
        return d;
    }
    *partner = d - rotaryHalf;
    *sign = 1.0f;
    return d - rotaryHalf;
}

// Query element d of the row at base, rotated for RoPE position ropeRow, times qScale. rotaryHalf
// is half the rotary dim: elements from 2 * rotaryHalf on are not rotated (partial rotary).
inline float load_query(__global const STORAGE(QT)* q, long base, int d, int rotaryHalf, int flags,
                        __global const float2* rope, long ropeRow, float qScale) {
    float x = LOAD(QT, q, base + d);
    if ((flags & F_ROPE) && d < 2 * rotaryHalf) {
        int partner;
        float sign;
        int pi = rope_pair(d, rotaryHalf, flags & F_INTERLEAVED, &partner, &sign);
        float2 cs = rope[ropeRow * rotaryHalf + pi];
        x = x * cs.x + sign * LOAD(QT, q, base + partner) * cs.y;
    }
    return x * qScale;
}

// The two dims that RoPE pair pi rotates together.
inline void rope_dims(int pi, int rotaryHalf, int interleaved, int* d1, int* d2) {
    *d1 = interleaved ? 2 * pi : pi;
    *d2 = interleaved ? 2 * pi + 1 : pi + rotaryHalf;
}

#if SERIAL
// The same units computed by one work-item each, for CPU devices: no local memory and no
// barriers, the query items and their accumulators in private arrays, keys in blocks of KB
// whose loads all TM items share. Loops over DMAX have constant bounds so they vectorize.
#define KB 16

// The headDim elements of a K or V row at element offset off into private floats, with the
// widest loads the head dim allows.
inline void load_row(__global const STORAGE(KVT)* src, long off, int headDim, float* dst) {
    if ((headDim & 15) == 0) {
        __global const STORAGE(KVT)* row = src + off;
        for (int c = 0; c < headDim / 16; c++) {
            vstore16(LOAD16(KVT, row, 16 * c), c, dst);
        }
    } else if ((headDim & 3) == 0) {
        for (int c = 0; c < headDim / 4; c++) {
            vstore4(LOAD4(KVT, src, off + 4 * c), c, dst);
        }
    } else {
        for (int d = 0; d < headDim; d++) {
            dst[d] = LOAD(KVT, src, off + d);
        }
    }
}

// Element offsets of the K and V rows of keys j0 .. j0 + n - 1 of one request, whose page ids
// start at pages, with the head's offset added, and each key's page and slot: the keys are
// consecutive, so one division finds the first one's page and slot and the rest walk on.
inline void block_rows(__global const int* pages, int j0, int n, int pageSize, long pageStride, long slotStride,
                       long vPageStride, long vSlotStride, long headOff, long vHeadOff, long* off, long* vOff,
                       int* page, int* slot) {
    int pageIdx = j0 / pageSize;
    int s = j0 - pageIdx * pageSize;
    for (int i = 0; i < n; i++) {
        const int p = pages[pageIdx];
        off[i] = (long) p * pageStride + (long) s * slotStride + headOff;
        vOff[i] = (long) p * vPageStride + (long) s * vSlotStride + vHeadOff;
        page[i] = p;
        slot[i] = s;
        if (++s == pageSize) {
            s = 0;
            ++pageIdx;
        }
    }
}

// One byte of every 64-byte line of n rows of rowBytes bytes (at element offsets off of the pool),
// read before any row is used so that all the lines are in flight at once; the bytes ORed, which
// the caller keeps live.
inline uint touch_rows(__global const uchar* pool, const long* off, int n, int rowBytes) {
    uint t = 0;
    for (int i = 0; i < n; i++) {
        __global const uchar* row = pool + off[i] * (long) sizeof(STORAGE(KVT));
        for (int b = 0; b < rowBytes; b += 64) {
            t |= row[b];
        }
    }
    return t;
}

// Prefetches every 64-byte line of n rows where the compiler can say so (clang for x86-64, as
// PoCL and other CPU runtimes compile; OpenCL's prefetch() compiles to nothing there).
inline void prefetch_rows(__global const uchar* pool, const long* off, int n, int rowBytes) {
#if defined(__clang__) && defined(__x86_64__)
    for (int i = 0; i < n; i++) {
        __global const uchar* row = pool + off[i] * (long) sizeof(STORAGE(KVT));
        for (int b = 0; b < rowBytes; b += 64) {
            __builtin_prefetch(row + b);
        }
    }
#endif
}

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void attention(ATTENTION_KERNEL_PARAMS) {
    // The grid is (KV heads, units): a unit's KV heads run one after another, so the rows they
    // read, which lie side by side in each page, are fetched close together in time.
    const int unit = get_global_id(1);
    const int hk = get_global_id(0);
    UNIT_BOUNDS(unit);
    const int items = itemEnd - itemStart;
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    const int rotaryHalf = rotaryDim >> 1; // RoPE pairs; dims from rotaryDim on pass through

    float qv[TM][DMAX];
    float acc[TM][DMAX];
    float rowMax[TM];
    float rowSum[TM];
    float blk[KB][DMAX];
    float p[TM][KB];
    float alpha[TM];
    float slope[TM]; // each item's ALiBi slope (head_slope)

    for (int m = 0; m < items; m++) {
        rowMax[m] = -INFINITY;
        rowSum[m] = 0.0f;
        for (int d = 0; d < DMAX; d++) {
            acc[m][d] = 0.0f;
            qv[m][d] = 0.0f;
        }
    }
    for (int m = 0; m < items; m++) {
        int item = itemStart + m;
        int row = item / group;
        int h = hk * group + (item - row * group);
        long base = qOff + (long) (qoStart + row) * qTok + (long) h * qHead;
        for (int d = 0; d < headDim; d++) {
            qv[m][d] = load_query(q, base, d, rotaryHalf, flags, rope, (long) (row + shift - ropeBase), qScale);
        }
        slope[m] = head_slope(slopes, h, flags);
    }
    for (int n = 0; n < KB; n++) {
        for (int d = 0; d < DMAX; d++) {
            blk[n][d] = 0.0f;
        }
    }

    uint touched = 0; // the bytes touch_rows read, kept live below so its loads stay
    for (int t0 = kvStart; t0 < kvEnd; t0 += KB) {
        const int nKeys = min(KB, kvEnd - t0);
        long off[KB];
        long vOff[KB];
        int page[KB];
        int slot[KB];
        float2 scl[KB];
        block_rows(kvIndices + pageBase, t0, nKeys, pageSize, pageStride, slotStride, vPageStride, vSlotStride,
                   (long) hk * headStride, (long) hk * vHeadStride, off, vOff, page, slot);
        for (int n = 0; n < nKeys; n++) {
            scl[n] = kv_scales(kScales, vScales, kScaleOff, vScaleOff, page[n], slot[n], hk, scalePageStride,
                               scaleSlotStride, scaleHeadStride, flags);
        }
        // A unit reads one head's rows, strided by the other heads', which the hardware
        // prefetchers do not follow and the conversion loops below do not keep enough loads in
        // flight for: this block's lines are all requested first, the next block's prefetched.
        const int kBytes = headDim * (int) sizeof(STORAGE(KVT));
        const int vBytes = headDimV * (int) sizeof(STORAGE(KVT));
        touched |= touch_rows((__global const uchar*) (kc + kOffset), off, nKeys, kBytes)
                   | touch_rows((__global const uchar*) (vc + vOffset), vOff, nKeys, vBytes);
        const int nNext = min(KB, kvEnd - (t0 + KB));
        if (nNext > 0) {
            long nextOff[KB];
            long nextVOff[KB];
            block_rows(kvIndices + pageBase, t0 + KB, nNext, pageSize, pageStride, slotStride, vPageStride,
                       vSlotStride, (long) hk * headStride, (long) hk * vHeadStride, nextOff, nextVOff, page, slot);
            prefetch_rows((__global const uchar*) (kc + kOffset), nextOff, nNext, kBytes);
            prefetch_rows((__global const uchar*) (vc + vOffset), nextVOff, nNext, vBytes);
        }
        for (int n = 0; n < nKeys; n++) {
            load_row(kc, kOffset + off[n], headDim, blk[n]);
            for (int d = 0; (flags & F_KV_SCALES) && d < headDim; d++) {
                blk[n][d] *= scl[n].x;
            }
            if (flags & F_ROPE) {
                for (int pi = 0; pi < rotaryHalf; pi++) {
                    int d1;
                    int d2;
                    rope_dims(pi, rotaryHalf, flags & F_INTERLEAVED, &d1, &d2);
                    float2 cs = rope[(long) (t0 + n - ropeBase) * rotaryHalf + pi];
                    float x1 = blk[n][d1];
                    float x2 = blk[n][d2];
                    blk[n][d1] = x1 * cs.x - x2 * cs.y;
                    blk[n][d2] = x2 * cs.x + x1 * cs.y;
                }
            }
        }
        for (int m = 0; m < items; m++) {
            int row = (itemStart + m) / group;
            int pq = row + shift;
            float s[KB];
            float mx = rowMax[m];
            // Four keys at a time: four independent sums, where one key's sum alone is a chain of
            // dependent multiply-adds whose latency, not the vector unit, set the pace.
            for (int n0 = 0; n0 < KB; n0 += 4) {
                // Explicit vectors: compilers may not reorder a float sum into SIMD lanes.
                float16 a0 = (float16) (0.0f), a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < DMAX / 16; c++) {
                    const float16 qc = vload16(c, qv[m]);
                    a0 += qc * vload16(c, blk[n0]);
                    a1 += qc * vload16(c, blk[n0 + 1]);
                    a2 += qc * vload16(c, blk[n0 + 2]);
                    a3 += qc * vload16(c, blk[n0 + 3]);
                }
                const float16 a[4] = {a0, a1, a2, a3};
                for (int k = 0; k < 4; k++) {
                    const int n = n0 + k;
                    const int j = t0 + n;
                    bool ok = n < nKeys && key_allowed(row, pq, j, kvLen, flags, windowLeft, mask, maskBase);
                    float x = -INFINITY;
                    if (ok) {
                        float8 a8 = a[k].lo + a[k].hi;
                        float4 a4 = a8.lo + a8.hi;
                        x = logit_log2((a4.x + a4.y) + (a4.z + a4.w), slope[m], j, pq, flags, softCap);
                    }
                    s[n] = x;
                    mx = max_nan(mx, x);
                }
            }
            // KB == 16: the block's weights (softmax_weight) as one vector operation.
            float al = softmax_weight(rowMax[m], mx);
            float16 e16 = exp2(vload16(0, s) - (float16) (softmax_ref(mx)));
            vstore16(e16, 0, p[m]);
            float8 e8 = e16.lo + e16.hi;
            float4 e4 = e8.lo + e8.hi;
            float sum = (e4.x + e4.y) + (e4.z + e4.w);
            alpha[m] = al;
            rowMax[m] = mx;
            rowSum[m] = rowSum[m] * al + sum;
        }
        // V rows are headDimV long: a K row's dims past them must not weigh into acc.
        for (int n = 0; n < nKeys; n++) {
            load_row(vc, vOffset + vOff[n], headDimV, blk[n]);
            for (int d = 0; (flags & F_KV_SCALES) && d < headDimV; d++) {
                blk[n][d] *= scl[n].y;
            }
            for (int d = headDimV; d < headDim; d++) {
                blk[n][d] = 0.0f;
            }
        }
        for (int n = nKeys; n < KB; n++) {
            for (int d = 0; d < DMAX; d++) {
                blk[n][d] = 0.0f;
            }
        }
        // Keys outer, the head dim's vectors inner: DMAX / 16 independent sums per key, where
        // keys inner made one chain of KB dependent multiply-adds per vector.
        for (int m = 0; m < items; m++) {
            float al = alpha[m];
            float16 a[DMAX / 16];
#pragma unroll
            for (int c = 0; c < DMAX / 16; c++) {
                a[c] = vload16(c, acc[m]) * al;
            }
            for (int n = 0; n < KB; n++) {
                const float pn = p[m][n];
#pragma unroll
                for (int c = 0; c < DMAX / 16; c++) {
                    a[c] += pn * vload16(c, blk[n]);
                }
            }
#pragma unroll
            for (int c = 0; c < DMAX / 16; c++) {
                vstore16(a[c], c, acc[m]);
            }
        }
        // Padding dims meet zeros in q, but must not hold V's non-finite values (V rows longer
        // than K rows reach past headDim).
        for (int n = 0; headDim < DMAX && n < KB; n++) {
            for (int d = headDim; d < DMAX; d++) {
                blk[n][d] = 0.0f;
            }
        }
    }
    if (kvLen < 0) {
        rowSum[0] = as_float(touched); // never (lengths are >= 0); keeps touch_rows' loads from being dropped
    }

    const int tmpBase = unitTmpRow[unit];
    for (int m = 0; m < items; m++) {
        int item = itemStart + m;
        int row = item / group;
        int h = hk * group + (item - row * group);
        float lse2;
        float lseNatural;
        float inv = softmax_finish(rowMax[m], rowSum[m], row_sink(sinks, h, flags, tmpBase), vScale, &lse2,
                                   &lseNatural);
        long orow = tmpBase < 0 ? (long) qoStart + row : (long) tmpBase + row;
        long base = tmpBase < 0 ? oOff + orow * oTok + (long) h * oHead : (orow * hq + h) * headDimV;
        for (int d = 0; d < headDimV; d++) {
            if (tmpBase < 0) {
                STORE(QT, o, base + d, acc[m][d] * inv);
            } else {
                tmpO[base + d] = acc[m][d] * inv;
            }
        }
        store_lse(lse + lseOff, tmpLse, tmpBase, orow * hq + h, lse2, lseNatural, flags);
    }
}

#else

// Register tiles for GPUs. A work-group of TY x TX work-items owns TM query items; work-item
// (ty, tx) keeps in registers the logits of items ty + TY * i (i < RM) and keys tx + TX * j
// (j < RN) and the output float4 columns tx + TX * c of the same items. Each logit tile is summed over
// head-dim chunks of DC staged in local memory (q and K rows side by side in `stage`), so a
// step loads RM + RN float4s for 4 RM RN multiply-adds and the tiles need not fit whole; the weights then
// go through local memory to the work-items of their row, and V comes in chunks of VC keys
// through the same `stage`. Row maxima are reduced through `red` once per key tile; each
// work-item sums the weights of its own keys and the sums meet once, at the end.
#define RN 4                                // keys of a work-item's logit tile (RM items, compile-time)
#define QS (DC + 4)                         // row stride of staged q and K chunks (float4 aligned)
#define PS (TN + 4)                         // row stride of the weights
#define DV4 (DMAX / 4)                      // float4 columns of an output row
#define CPT ((DV4 + TX - 1) / TX)           // output float4 columns per work-item
#define STAGE_FLOATS ((TM + TN) * QS)       // VC * DMAX fits too (TileConfig)
#if ALIGNED4
#define LOADT4(T, p, i) LOAD4A(T, p, i)     // every q, K and V row starts on 4 elements
#else
#define LOADT4(T, p, i) LOAD4(T, p, i)
#endif

// Elements d .. d+3 of q row `base`, rotated and scaled as load_query; zero past headDim.
inline float4 query4(__global const STORAGE(QT)* q, long base, int d, int headDim, int rotaryHalf, int flags,
                     __global const float2* rope, long ropeRow, float qScale) {
    if (d + 4 <= headDim && !(flags & F_ROPE)) {
        return LOADT4(QT, q, base + d) * qScale;
    }
    float x[4];
    for (int z = 0; z < 4; z++) {
        x[z] = d + z < headDim ? load_query(q, base, d + z, rotaryHalf, flags, rope, ropeRow, qScale) : 0.0f;
    }
    return vload4(0, x);
}

// Elements d .. d+3 of the K or V row at element offset off, rotated for RoPE position ropeRow
// (K rows under F_ROPE; rotaryHalf 0 for V) and times scale; zero past dim.
inline float4 row4(__global const STORAGE(KVT)* src, long off, int d, int dim, int rotaryHalf, int flags,
                   __global const float2* rope, long ropeRow, float scale) {
    if (d + 4 <= dim && (rotaryHalf == 0 || d >= 2 * rotaryHalf)) {
        return LOADT4(KVT, src, off + d) * scale;
    }
    float x[4];
    for (int z = 0; z < 4; z++) {
        int e = d + z;
        float v = 0.0f;
        if (e < dim) {
            v = LOAD(KVT, src, off + e);
            if (e < 2 * rotaryHalf) {
                int partner;
                float sign;
                int pi = rope_pair(e, rotaryHalf, flags & F_INTERLEAVED, &partner, &sign);
                float2 cs = rope[ropeRow * rotaryHalf + pi];
                v = v * cs.x + sign * LOAD(KVT, src, off + partner) * cs.y;
            }
        }
        x[z] = v * scale;
    }
    return vload4(0, x);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention(ATTENTION_KERNEL_PARAMS) {
    __local float4 stage4[STAGE_FLOATS / 4];
    __local float ps[TM * PS];
    __local float red[TX * TM];
    __local long keyOff[TN];
    __local long valueOff[TN];
    __local float2 keyScale[TN]; // each key's (K, V) dequantisation scales under F_KV_SCALES
    __local float* stage = (__local float*) stage4;

    const int lid = get_local_id(0);
    const int ty = lid / TX;
    const int tx = lid - ty * TX;
    const int unit = get_group_id(0);
    const int hk = get_group_id(1);
    UNIT_BOUNDS(unit);
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    const int rotaryHalf = (flags & F_ROPE) ? rotaryDim >> 1 : 0; // dims from rotaryDim on pass through
    const int d4v = (headDimV + 3) >> 2; // float4 columns holding a V or o row

    // This work-item's items: live, their row, position and ALiBi slope.
    bool live[RM];
    int rowOf[RM];
    float slope[RM];
    float rowMax[RM];
    float rowSum[RM]; // over this work-item's keys only until the end
    float4 acc[RM][CPT];
    #pragma unroll
    for (int i = 0; i < RM; i++) {
        int item = itemStart + ty + TY * i;
        live[i] = item < itemEnd;
        rowOf[i] = item / group;
        slope[i] = live[i] ? head_slope(slopes, hk * group + (item - rowOf[i] * group), flags) : 0.0f;
        rowMax[i] = -INFINITY;
        rowSum[i] = 0.0f;
        #pragma unroll
        for (int c = 0; c < CPT; c++) {
            acc[i][c] = (float4) (0.0f);
        }
    }

    for (int t0 = kvStart; t0 < kvEnd; t0 += TN) {
        const int nKeys = min(TN, kvEnd - t0);
        // Page-table lookups once per key of the tile.
        for (int n = lid; n < TN; n += WG) {
            long off = 0;
            long vOff = 0;
            float2 scl = (float2) (1.0f);
            if (n < nKeys) {
                const int2 ps = key_page(kvIndices, pageBase, t0 + n, pageSize);
                off = page_offset(ps, pageStride, slotStride, headStride, hk);
                vOff = page_offset(ps, vPageStride, vSlotStride, vHeadStride, hk);
                scl = KEY_SCALES(ps, hk);
            }
            keyOff[n] = off;
            valueOff[n] = vOff;
            keyScale[n] = scl;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // Logits: q . k over head-dim chunks; rows and keys past the tile's stay zero.
        float s[RM][RN];
        #pragma unroll
        for (int i = 0; i < RM; i++) {
            #pragma unroll
            for (int j = 0; j < RN; j++) {
                s[i][j] = 0.0f;
            }
        }
        for (int d0 = 0; d0 < headDim; d0 += DC) {
            for (int e = lid; e < (TM + TN) * (DC / 4); e += WG) {
                int r = e / (DC / 4);
                int d = d0 + 4 * (e - r * (DC / 4));
                float4 x = (float4) (0.0f);
                if (r < TM) {
                    int item = itemStart + r;
                    if (item < itemEnd) {
                        int row = item / group;
                        int h = hk * group + (item - row * group);
                        x = query4(q, qOff + (long) (qoStart + row) * qTok + (long) h * qHead, d, headDim, rotaryHalf,
                                   flags, rope, (long) (row + shift - ropeBase), qScale);
                    }
                } else if (r - TM < nKeys) {
                    int n = r - TM;
                    x = row4(kc, kOffset + keyOff[n], d, headDim, rotaryHalf, flags, rope, (long) (t0 + n - ropeBase),
                             keyScale[n].x);
                }
                stage4[r * (QS / 4) + (d - d0) / 4] = x;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            #pragma unroll
            for (int c = 0; c < DC / 4; c++) {
                float4 qv[RM];
                float4 kv[RN];
                #pragma unroll
                for (int i = 0; i < RM; i++) {
                    qv[i] = stage4[(ty + TY * i) * (QS / 4) + c];
                }
                #pragma unroll
                for (int j = 0; j < RN; j++) {
                    kv[j] = stage4[(TM + tx + TX * j) * (QS / 4) + c];
                }
                #pragma unroll
                for (int i = 0; i < RM; i++) {
                    #pragma unroll
                    for (int j = 0; j < RN; j++) {
                        float a = s[i][j];
                        a = fma(qv[i].x, kv[j].x, a);
                        a = fma(qv[i].y, kv[j].y, a);
                        a = fma(qv[i].z, kv[j].z, a);
                        a = fma(qv[i].w, kv[j].w, a);
                        s[i][j] = a;
                    }
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }

        // Masks and logit terms, skipped for a tile that every live item sees whole.
        const bool whole = tile_seen_whole(t0, TN, kvEnd, pqFirst, pqLast, flags, windowLeft);
        #pragma unroll
        for (int i = 0; i < RM; i++) {
            const int pq = rowOf[i] + shift;
            float mx = -INFINITY;
            #pragma unroll
            for (int j = 0; j < RN; j++) {
                const int n = tx + TX * j;
                float x = s[i][j];
                if (!whole) {
                    const int key = t0 + n;
                    bool ok = live[i] && n < nKeys
                              && key_allowed(rowOf[i], pq, key, kvLen, flags, windowLeft, mask, maskBase);
                    x = ok ? logit_log2(x, slope[i], key, pq, flags, softCap) : -INFINITY;
                }
                s[i][j] = x;
                mx = max_nan(mx, x);
            }
            red[tx * TM + ty + TY * i] = mx;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // Online softmax: every work-item of a row reads the same maxima, so all agree on it.
        #pragma unroll
        for (int i = 0; i < RM; i++) {
            const int m = ty + TY * i;
            float mx = rowMax[i];
            for (int t = 0; t < TX; t++) {
                mx = max_nan(mx, red[t * TM + m]);
            }
            const float alpha = softmax_weight(rowMax[i], mx);
            const float ref = softmax_ref(mx);
            float sum = 0.0f;
            #pragma unroll
            for (int j = 0; j < RN; j++) {
                float p = exp2(s[i][j] - ref);
                ps[m * PS + tx + TX * j] = p;
                sum += p;
            }
            rowMax[i] = mx;
            rowSum[i] = rowSum[i] * alpha + sum;
            #pragma unroll
            for (int c = 0; c < CPT; c++) {
                acc[i][c] *= alpha;
            }
        }

        // o += p . V, V in chunks of VC keys (zero past the tile's keys and past headDimV).
        for (int v0 = 0; v0 < nKeys; v0 += VC) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int e = lid; e < VC * DV4; e += WG) {
                int n = e / DV4;
                int c = e - n * DV4;
                float4 x = (float4) (0.0f);
                if (v0 + n < nKeys && c < d4v) {
                    x = row4(vc, vOffset + valueOff[v0 + n], 4 * c, headDimV, 0, flags, rope, 0,
                             keyScale[v0 + n].y);
                }
                stage4[e] = x;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int n = 0; n < VC; n += 4) {
                float4 p[RM];
                #pragma unroll
                for (int i = 0; i < RM; i++) {
                    p[i] = vload4(0, ps + (ty + TY * i) * PS + v0 + n);
                }
                #pragma unroll
                for (int c = 0; c < CPT; c++) {
                    const int col = tx + TX * c;
                    if (col < DV4) {
                        float4 v0v = stage4[n * DV4 + col];
                        float4 v1v = stage4[(n + 1) * DV4 + col];
                        float4 v2v = stage4[(n + 2) * DV4 + col];
                        float4 v3v = stage4[(n + 3) * DV4 + col];
                        #pragma unroll
                        for (int i = 0; i < RM; i++) {
                            acc[i][c] += p[i].x * v0v + p[i].y * v1v + p[i].z * v2v + p[i].w * v3v;
                        }
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // Each row's sum over all its keys, in a fixed order.
    #pragma unroll
    for (int i = 0; i < RM; i++) {
        red[tx * TM + ty + TY * i] = rowSum[i];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int tmpBase = unitTmpRow[unit];
    #pragma unroll
    for (int i = 0; i < RM; i++) {
        if (!live[i]) {
            continue;
        }
        const int m = ty + TY * i;
        float total = 0.0f;
        for (int t = 0; t < TX; t++) {
            total += red[t * TM + m];
        }
        const int item = itemStart + m;
        const int row = rowOf[i];
        const int h = hk * group + (item - row * group);
        float lse2;
        float lseNatural;
        float inv = softmax_finish(rowMax[i], total, row_sink(sinks, h, flags, tmpBase), vScale, &lse2, &lseNatural);
        long orow = tmpBase < 0 ? (long) qoStart + row : (long) tmpBase + row;
        long base = tmpBase < 0 ? oOff + orow * oTok + (long) h * oHead : (orow * hq + h) * headDimV;
        #pragma unroll
        for (int c = 0; c < CPT; c++) {
            const int col = tx + TX * c;
            if (col >= d4v) {
                continue;
            }
            float r[4];
            vstore4(acc[i][c] * inv, 0, r);
            for (int z = 0; z < 4 && 4 * col + z < headDimV; z++) {
                if (tmpBase < 0) {
                    STORE(QT, o, base + 4 * col + z, r[z]);
                } else {
                    tmpO[base + 4 * col + z] = r[z];
                }
            }
        }
        if (tx == 0) {
            store_lse(lse + lseOff, tmpLse, tmpBase, orow * hq + h, lse2, lseNatural, flags);
        }
    }
}

#endif
