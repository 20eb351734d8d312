// Batch attention over the generic paged view (decode and prefill alike).
//
// A "unit" is a tile of TM query items of one request and one KV head over one chunk of its
// keys. A query item is (row, head within the KV head's group), so the g query heads of a KV
// head share every K/V load. Keys are visited with an online softmax in base 2; a unit either
// writes o/lse directly or, when its request's keys were split into chunks, a float partial
// state that merge_splits combines. Two flavours compute the same units:
// - tiled (SERIAL=0, GPUs): one work-group per unit, Q/K/V tiles in local memory as floats
//   padded with zeros to DMAX dims, float4 dot products and accumulators;
// - serial (SERIAL=1, CPUs): one work-item per unit, no local memory and no barriers.
//
// q and K rows have headDim (Dqk) elements, V and o rows headDimV (Dvo), each with its own
// strides; DMAX is the bucket of the larger, and every tile pads both with zeros up to it.
//
// Compile-time: QT, KVT (type codes of common.cl), DMAX (head dim bucket), TM; tiled also TN,
// WG and TMY x TD threads for the output accumulators.

#define KS (DMAX + 4)                  // row stride of q and K tiles: float4-aligned, spreads banks
#define MI (TM / TMY)                   // query items per thread
#define DK4 ((DMAX / 4 + TD - 1) / TD)  // float4 chunks of the head dim per thread
// The locals both flavours derive from unit `unit` of KV head hk: its request b, query items
// [itemStart, itemEnd), query position pq = row + shift, keys [kvStart, kvEnd).
#define UNIT_BOUNDS(unit)                                                                \
    const int4 u = units[unit];                                                          \
    const int b = u.x;                                                                   \
    const int itemStart = u.y;                                                           \
    const int qoStart = qoIndptr[b];                                                     \
    const int qoLen = qoIndptr[b + 1] - qoStart;                                         \
    const int kvLen = kvLens[b];                                                         \
    const int itemEnd = min(itemStart + TM, qoLen * group);                              \
    const int shift = kvLen - qoLen;                                                     \
    const int pqFirst = itemStart / group + shift;                                       \
    const int pqLast = (itemEnd - 1) / group + shift;                                    \
    const int2 keyRange = unit_key_range(u, kvLen, pqFirst, pqLast, flags, windowLeft);         \
    const int kvStart = keyRange.x;                                                      \
    const int kvEnd = keyRange.y

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

// Element offset of key j of the request whose pages start at pageBase, KV head hk.
inline long key_offset(__global const int* kvIndices, int pageBase, int j, int pageSize, long pageStride,
                       long slotStride, long headStride, int hk) {
    int page = kvIndices[pageBase + j / pageSize];
    return (long) page * pageStride + (long) (j % pageSize) * slotStride + (long) hk * headStride;
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
            for (int n = 0; n < KB; n++) {
                int j = t0 + n;
                bool ok = n < nKeys && key_allowed(row, pq, j, kvLen, flags, windowLeft, mask, maskBase);
                float x = -INFINITY;
                if (ok) {
                    // Explicit vectors: compilers may not reorder a float sum into SIMD lanes.
                    float16 a = (float16) (0.0f);
                    for (int c = 0; c < DMAX / 16; c++) {
                        a += vload16(c, qv[m]) * vload16(c, blk[n]);
                    }
                    float8 a8 = a.lo + a.hi;
                    float4 a4 = a8.lo + a8.hi;
                    x = logit_log2((a4.x + a4.y) + (a4.z + a4.w), slope[m], j, pq, flags, softCap);
                }
                s[n] = x;
                mx = max_nan(mx, x);
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
        for (int m = 0; m < items; m++) {
            float al = alpha[m];
            for (int c = 0; c < DMAX / 16; c++) {
                float16 a = vload16(c, acc[m]) * al;
                for (int n = 0; n < KB; n++) {
                    a += p[m][n] * vload16(c, blk[n]);
                }
                vstore16(a, c, acc[m]);
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

// Rows of the tile's keys from src (row n at base + rowOff[n]) into the local tile dst of row
// stride STRIDE: dims [0, dim) loaded, 16 or 4 at a time when dim allows, and multiplied by
// SCALE (an expression of the key n); keys past nKeys zero.
#define LOAD_TILE(src, base, rowOff, dim, dst, STRIDE, SCALE)                                 \
    if (((dim) & 15) == 0) {                                                             \
        for (int e = lid; e < TN * (DMAX / 16); e += WG) {                               \
            int n = e / (DMAX / 16);                                                     \
            int c = e % (DMAX / 16);                                                     \
            if (16 * c < (dim)) {                                                        \
                float16 x = (float16) (0.0f);                                            \
                if (n < nKeys) {                                                         \
                    x = LOAD16(KVT, src, (base) + rowOff[n] + 16 * c) * (SCALE);       \
                }                                                                        \
                vstore16(x, c, (dst) + n * (STRIDE));                                    \
            }                                                                            \
        }                                                                                \
    } else if (((dim) & 3) == 0) {                                                       \
        for (int e = lid; e < TN * (DMAX / 4); e += WG) {                                \
            int n = e / (DMAX / 4);                                                      \
            int c = e % (DMAX / 4);                                                      \
            if (4 * c < (dim)) {                                                         \
                float4 x = (float4) (0.0f);                                              \
                if (n < nKeys) {                                                         \
                    x = LOAD4(KVT, src, (base) + rowOff[n] + 4 * c) * (SCALE);         \
                }                                                                        \
                vstore4(x, c, (dst) + n * (STRIDE));                                     \
            }                                                                            \
        }                                                                                \
    } else {                                                                             \
        for (int e = lid; e < TN * DMAX; e += WG) {                                      \
            int n = e / DMAX;                                                            \
            int d = e % DMAX;                                                            \
            if (d < (dim)) {                                                             \
                (dst)[n * (STRIDE) + d] = n < nKeys ? LOAD(KVT, src, (base) + rowOff[n] + d) * (SCALE) : 0.0f; \
            }                                                                            \
        }                                                                                \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention(ATTENTION_KERNEL_PARAMS) {
    __local float qs[TM * KS];
    __local float ks[TN * KS];
    __local float vs[TN * DMAX];
    __local float ss[TM * TN];
    __local float rowMax[TM];
    __local float rowSum[TM];
    __local float rowAlpha[TM];
    __local float rowSlope[TM]; // each item's ALiBi slope (head_slope)
    __local long keyOff[TN];
    __local long valueOff[TN];
    __local float2 keyScale[TN]; // each key's (K, V) dequantisation scales under F_KV_SCALES

    const int lid = get_local_id(0);
    const int unit = get_group_id(0);
    const int hk = get_group_id(1);
    UNIT_BOUNDS(unit);
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    const int rotaryHalf = rotaryDim >> 1; // RoPE pairs; dims from rotaryDim on pass through
    const int d4v = (headDimV + 3) >> 2; // float4 chunks holding a V or o row

    // Query tile, rotated and pre-scaled so a logit is one dot product; zero past headDim,
    // as are the K tile's padding dims, so dot products run over all DMAX dims unguarded.
    for (int e = lid; e < TM * DMAX; e += WG) {
        int m = e / DMAX;
        int d = e - m * DMAX;
        int item = itemStart + m;
        float x = 0.0f;
        if (item < itemEnd && d < headDim) {
            int row = item / group;
            int h = hk * group + (item - row * group);
            long base = qOff + (long) (qoStart + row) * qTok + (long) h * qHead;
            x = load_query(q, base, d, rotaryHalf, flags, rope, (long) (row + shift - ropeBase), qScale);
        }
        qs[m * KS + d] = x;
    }
    for (int e = lid; e < TN * DMAX; e += WG) {
        ks[e / DMAX * KS + e % DMAX] = 0.0f;
        vs[e] = 0.0f;
    }
    for (int m = lid; m < TM; m += WG) {
        rowMax[m] = -INFINITY;
        rowSum[m] = 0.0f;
        int item = itemStart + m;
        int row = item / group;
        rowSlope[m] = item < itemEnd ? head_slope(slopes, hk * group + (item - row * group), flags) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    const int ty = lid / TD;
    const int tx = lid - ty * TD;
    float4 acc[MI][DK4];
    for (int i = 0; i < MI; i++) {
        for (int k = 0; k < DK4; k++) {
            acc[i][k] = (float4) (0.0f);
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
                off = key_offset(kvIndices, pageBase, t0 + n, pageSize, pageStride, slotStride, headStride, hk);
                vOff = key_offset(kvIndices, pageBase, t0 + n, pageSize, vPageStride, vSlotStride, vHeadStride, hk);
                scl = KEY_SCALES(pageBase, t0 + n, hk);
            }
            keyOff[n] = off;
            valueOff[n] = vOff;
            keyScale[n] = scl;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // K and V rows each loaded with the widest pieces their own head dim allows and times
        // each key's K or V scale (1 unless F_KV_SCALES); dims past a row stay zero (set once
        // above), so dot products and accumulators run over DMAX unguarded.
        LOAD_TILE(kc, kOffset, keyOff, headDim, ks, KS, keyScale[n].x);
        LOAD_TILE(vc, vOffset, valueOff, headDimV, vs, DMAX, keyScale[n].y);
        barrier(CLK_LOCAL_MEM_FENCE);

        // RoPE on K in local memory; the barrier stays outside the branch.
        for (int e = lid; (flags & F_ROPE) && e < TN * rotaryHalf; e += WG) {
            int n = e / rotaryHalf;
            int p = e - n * rotaryHalf;
            if (n < nKeys) {
                int d1;
                int d2;
                rope_dims(p, rotaryHalf, flags & F_INTERLEAVED, &d1, &d2);
                float2 cs = rope[(long) (t0 + n - ropeBase) * rotaryHalf + p];
                float x1 = ks[n * KS + d1];
                float x2 = ks[n * KS + d2];
                ks[n * KS + d1] = x1 * cs.x - x2 * cs.y;
                ks[n * KS + d2] = x2 * cs.x + x1 * cs.y;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // Logits in base 2, -inf where a key is not allowed.
        for (int e = lid; e < TM * TN; e += WG) {
            int m = e / TN;
            int n = e - m * TN;
            int item = itemStart + m;
            int j = t0 + n;
            float s = -INFINITY;
            if (item < itemEnd && n < nKeys) {
                int row = item / group;
                int pq = row + shift;
                if (key_allowed(row, pq, j, kvLen, flags, windowLeft, mask, maskBase)) {
                    __local const float* qr = qs + m * KS;
                    __local const float* kr = ks + n * KS;
                    float4 a = (float4) (0.0f);
                    for (int c = 0; c < DMAX / 4; c++) {
                        a += vload4(c, qr) * vload4(c, kr);
                    }
                    s = logit_log2((a.x + a.y) + (a.z + a.w), rowSlope[m], j, pq, flags, softCap);
                }
            }
            ss[m * TN + n] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // Online softmax statistics per query item.
        for (int m = lid; m < TM; m += WG) {
            float mOld = rowMax[m];
            float mx = mOld;
            for (int n = 0; n < TN; n++) {
                mx = max_nan(mx, ss[m * TN + n]);
            }
            float alpha = softmax_weight(mOld, mx);
            float sum = 0.0f;
            for (int n = 0; n < TN; n++) {
                float p = softmax_weight(ss[m * TN + n], mx);
                ss[m * TN + n] = p;
                sum += p;
            }
            rowMax[m] = mx;
            rowSum[m] = rowSum[m] * alpha + sum;
            rowAlpha[m] = alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int i = 0; i < MI; i++) {
            float a = rowAlpha[ty + i * TMY];
            for (int k = 0; k < DK4; k++) {
                acc[i][k] *= a;
            }
        }
        for (int n = 0; n < nKeys; n++) {
            for (int i = 0; i < MI; i++) {
                float p = ss[(ty + i * TMY) * TN + n];
                for (int k = 0; k < DK4; k++) {
                    int c = tx + k * TD;
                    if (c < DMAX / 4) {
                        acc[i][k] += p * vload4(c, vs + n * DMAX);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int tmpBase = unitTmpRow[unit];
    for (int i = 0; i < MI; i++) {
        int m = ty + i * TMY;
        int item = itemStart + m;
        if (item >= itemEnd) {
            continue;
        }
        int row = item / group;
        int h = hk * group + (item - row * group);
        float lse2;
        float lseNatural;
        float inv = softmax_finish(rowMax[m], rowSum[m], row_sink(sinks, h, flags, tmpBase), vScale, &lse2,
                                   &lseNatural);
        long orow = tmpBase < 0 ? (long) qoStart + row : (long) tmpBase + row;
        long base = tmpBase < 0 ? oOff + orow * oTok + (long) h * oHead : (orow * hq + h) * headDimV;
        for (int k = 0; k < DK4; k++) {
            int c = tx + k * TD;
            if (c >= d4v) {
                continue;
            }
            float r[4];
            vstore4(acc[i][k] * inv, 0, r);
            for (int z = 0; z < 4 && 4 * c + z < headDimV; z++) {
                if (tmpBase < 0) {
                    STORE(QT, o, base + 4 * c + z, r[z]);
                } else {
                    tmpO[base + 4 * c + z] = r[z];
                }
            }
        }
        if (tx == 0) {
            store_lse(lse + lseOff, tmpLse, tmpBase, orow * hq + h, lse2, lseNatural, flags);
        }
    }
}

#endif

// Combines the chunk states of split requests: info = (output row, first workspace row,
// chunks, workspace rows between chunks). One work-item per (merged row, head), count of them.
__kernel void merge_splits(MERGE_SPLITS_PARAMS) {
    const int g = get_global_id(0);
    if (g >= count) {
        return;
    }
    const int h = g % hq;
    const int4 r = info[g / hq];
    const float mx = split_lse_max(tmpLse, r, hq, h);
    float wsum = 0.0f;
    for (int c = 0; c < r.z; c++) {
        wsum += softmax_weight(tmpLse[(long) (r.y + c * r.w) * hq + h], mx);
    }
    float lse2;
    float lseNatural;
    const float f = softmax_finish(mx, wsum, head_sink(sinks, h, flags), 1.0f, &lse2, &lseNatural);
    const long out = oOff + (long) r.x * oTok + (long) h * oHead;
    for (int d = 0; d < headDim; d++) {
        float a = 0.0f;
        for (int c = 0; mx != -INFINITY && c < r.z; c++) {
            long row = (long) (r.y + c * r.w);
            a += softmax_weight(tmpLse[row * hq + h], mx) * tmpO[(row * hq + h) * headDim + d];
        }
        STORE(QT, o, out + d, a * f);
    }
    if (flags & F_LSE) {
        lse[lseOff + (long) r.x * hq + h] = lseNatural;
    }
}
