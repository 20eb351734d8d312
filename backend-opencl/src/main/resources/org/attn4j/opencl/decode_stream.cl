// Streaming decode for GPU devices: one work-group per unit (request, tile of TM query heads of
// one KV head, chunk of keys), the same units and arguments as attention.cl, for problems whose
// requests have at most one query row, head dims a multiple of 8 and no RoPE.
//
// The work-group is WG / LANES "row groups" of LANES = DMAX / 8 work-items; a row group reads
// one key row per load, 8 elements (16 bytes of bf16) per work-item, and streams its own
// contiguous share of the unit's keys U keys per step, with every K and V load of the step
// issued before any arithmetic. Each work-item keeps the TM query heads' 8 dims and their
// accumulators in private memory; the 8-element partial dot products meet in local memory, where
// each work-item of the row group sums the partials of some (key, head) pairs: two barriers per
// step, no local tiles of K or V. Each row group keeps its own online softmax (base 2); row
// groups merge once at the end. Split chunks go to the float workspace and merge_splits_dims.
//
// Compile-time: QT, KVT (type codes of common.cl), DMAX (head dim bucket, power of two), TM
// (query heads per unit), U (keys per row-group step), WG (work-items per group), ALIGNED8 (1:
// every K/V row starts on a multiple of 8 elements, so vectors load aligned), PREFETCH (1: each
// step's K/V loads are issued during the step before), RING (1: instead, each work-item copies
// its own K/V vectors into a ring of STAGES steps in local memory and reads back exactly those,
// so STAGES - 1 steps are in flight without holding registers; 16-bit K/V on ALIGNED8 only) and
// ASYNC_COPY_PTX (1: the ring's copies are NVIDIA's asynchronous cp.async, for compute capability
// 8.0 and newer; 0: plain loads and stores, the same arithmetic on any device; common.cl).
//
// Why the ring: a step's loads in registers keep one step in flight, U x 32 bytes a work-item.
// Memory that delivers more bytes per latency (an H200's 4.8 TB/s) needs more of them in flight
// than the registers left beside q and the accumulators can hold.

#if ALIGNED8
#define LOADV(T, p, i) LOAD8A(T, p, i)
#else
#define LOADV(T, p, i) LOAD8(T, p, i)
#endif

// The raw bits of 8 K or V elements (RAW8), loaded by RAW_LOAD and turned into floats by
// RAW_FLOAT when used: with PREFETCH, a step's loads are issued a step ahead, so they are in
// flight through the previous step's barriers instead of starting after them.
#if KVT == 0
#define RAW8 float8
#define RAW_LOAD(p, i) LOADV(0, p, i)
#define RAW_FLOAT(r) (r)
#elif KVT == 3 || KVT == 4
#define RAW8 uchar8
#if ALIGNED8
#define RAW_LOAD(p, i) as_uchar8(*(__global const uint2*) ((p) + (i)))
#else
#define RAW_LOAD(p, i) vload8(0, (p) + (i))
#endif
#if KVT == 3
#define RAW_FLOAT(r) e4m3x8_to_float8(r)
#else
#define RAW_FLOAT(r) e5m2x8_to_float8(r)
#endif
#else
#define RAW8 ushort8
#if ALIGNED8
#define RAW_LOAD(p, i) as_ushort8(*(__global const uint4*) ((__global const ushort*) (p) + (i)))
#else
#define RAW_LOAD(p, i) vload8(0, (__global const ushort*) (p) + (i))
#endif
#if KVT == 2
#define RAW_FLOAT(r) bf16_bits8_to_float8(r)
// A bf16 is the high half of a float: each 32-bit pair gives its low element by a shift and its
// high one by a mask, one operation per element.
inline float8 bf16_bits8_to_float8(ushort8 r) {
    uint4 w = as_uint4(r);
    float4 lo = as_float4(w << 16);
    float4 hi = as_float4(w & (uint4) (0xffff0000u));
    return (float8) (lo.x, hi.x, lo.y, hi.y, lo.z, hi.z, lo.w, hi.w);
}
#else
#define RAW_FLOAT(r) half_bits8_to_float8(r)
inline float8 half_bits8_to_float8(ushort8 r) {
    ushort t[8];
    vstore8(r, 0, t);
    return vload_half8(0, (const half*) t);
}
#endif
#endif

#define LANES (DMAX / 8)
#define ROWS (WG / LANES)
#define UG (U * TM)
#define PS (UG + 1) // odd stride of a work-item's partials: the lanes' stores hit distinct banks
// Element offset of key j (0 past the row group's end) at the running page position, which
// then moves one key on. *page is the current page's id and *pageOff its offset (page and
// head), so the page table is read once per page rather than once per key.
inline long next_offset(int j, int end, __global const int* pages, int* pageIdx, int* slot, int* page,
                        long* pageOff, int pageSize, long pageStride, long slotStride, long headOff) {
    long off = j < end ? *pageOff + (long) *slot * slotStride : 0;
    if (++*slot == pageSize) {
        *slot = 0;
        ++*pageIdx;
        if (j + 1 < end) {
            *page = pages[*pageIdx];
            *pageOff = (long) *page * pageStride + headOff;
        }
    }
    return off;
}

// Key k of a step is key j: its scales (kv_scales at the running page position, read before
// next_offset moves it on) and offset into scl[k] and off[k] (past the row group's end: 1 and
// 0), the page position moved on one key.
#define NEXT_KEY(k, j)                                                                          \
    scl[k] = (j) < myEnd ? kv_scales(kScales, vScales, kScaleOff, vScaleOff, page, slot, hk,     \
                                     scalePageStride, scaleSlotStride, scaleHeadStride, flags)  \
                         : (float2) (1.0f);                                                     \
    off[k] = next_offset((j), myEnd, kvIndices + pageBase, &pageIdx, &slot, &page, &pageOff,     \
                         pageSize, pageStride, slotStride, headOff)

// The raw K and V bits of key j (offset off[k]) into kDst[k] and vDst[k]; zero past the end.
#define LOAD_RAW_KEY(k, j, kDst, vDst)                                                          \
    kDst[k] = (RAW8) (0);                                                                       \
    vDst[k] = (RAW8) (0);                                                                       \
    if ((j) < myEnd && active) {                                                                \
        kDst[k] = RAW_LOAD(kc, kOffset + off[k] + d0);                                          \
        vDst[k] = RAW_LOAD(vc, vOffset + off[k] + d0);                                          \
    }

#if RING
#if !ALIGNED8 || !(KVT == 1 || KVT == 2)
#error "the ring takes 16-bit K/V whose rows start on 8 elements"
#endif

// Issues the copies of the step whose first key is j0 into ring stage st (offsets and scales of
// its keys are in off[] and scl[]; each key's scales go to the row group's slot, written by its
// first work-item), then moves off[] and scl[] on to the next step's keys.
#define RING_ISSUE(st, j0)                                                                      \
    for (int k = 0; k < U; k++) {                                                               \
        const bool valid = (j0) + k < myEnd && active;                                          \
        const int slotIdx = ((st) * U + k) * WG + lid;                                           \
        copy16(kRing + slotIdx,                                                              \
                  (__global const uint4*) ((__global const ushort*) kc + kOffset + off[k] + d0), valid); \
        copy16(vRing + slotIdx,                                                              \
                  (__global const uint4*) ((__global const ushort*) vc + vOffset + off[k] + d0), valid); \
        if (lane == 0) {                                                                        \
            sclRing[((st) * U + k) * ROWS + rg] = scl[k];                                       \
        }                                                                                       \
    }                                                                                           \
    for (int k = 0; k < U; k++) {                                                               \
        NEXT_KEY(k, (j0) + U + k);                                                              \
    }                                                                                           \
    copies_commit()
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void decode_stream(ATTENTION_KERNEL_PARAMS) {
    __local float partial[ROWS * LANES * PS]; // [row group][lane][key x head]
    __local float scores[ROWS * UG];          // [row group][key x head], base-2 logits
    __local float groupMax[ROWS * TM];
    __local float groupSum[ROWS * TM];
    __local float finalMax[TM];
    __local float finalFactor[TM];
    __local float headSlope[TM]; // each query head's ALiBi slope (head_slope)
    __local float merged[TM * DMAX];
#if RING
    __local uint4 kRing[STAGES * U * WG];     // [stage][key][work-item]: each work-item's own vectors
    __local uint4 vRing[STAGES * U * WG];
    __local float2 sclRing[STAGES * U * ROWS]; // [stage][key][row group]
#endif

    const int lid = get_local_id(0);
    const int rg = lid / LANES;
    const int lane = lid - rg * LANES;
    const int unit = get_group_id(0);
    const int hk = get_group_id(1);
    const int4 u = units[unit];
    const int b = u.x;
    const int itemStart = u.y;
    const int qoStart = qoIndptr[b];
    const int kvLen = kvLens[b];
    const int items = min(TM, group - itemStart);
    const int pq = kvLen - 1; // the one query row; causal allows every key of the request
    const int2 keyRange = unit_key_range(u, kvLen, pq, pq, flags, windowLeft);
    const int kvStart = keyRange.x;
    const int kvEnd = keyRange.y;
    const int n = max(0, kvEnd - kvStart);
    // Keys per row group, a multiple of U so every row group runs the same steps (barriers).
    const int share = ((n + ROWS - 1) / ROWS + U - 1) / U * U;
    const int myStart = kvStart + rg * share;
    const int myEnd = min(kvEnd, myStart + share);
    const int steps = share / U;
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    const int d0 = lane * 8;
    const bool active = d0 < headDim; // lanes past the head dim hold zeros
    const long headOff = (long) hk * headStride;
    if (lid < TM) {
        headSlope[lid] = lid < items ? head_slope(slopes, hk * group + itemStart + lid, flags) : 0.0f;
    } // read after the first step's barrier

    float8 qv[TM];
    float8 acc[TM];
    float rowMax[TM];
    float rowSum[TM];
#pragma unroll
    for (int m = 0; m < TM; m++) {
        qv[m] = (float8) (0.0f);
        acc[m] = (float8) (0.0f);
        rowMax[m] = -INFINITY;
        rowSum[m] = 0.0f;
        if (m < items && active) {
            long base = qOff + (long) qoStart * qTok + (long) (hk * group + itemStart + m) * qHead + d0;
            qv[m] = LOADV(QT, q, base) * qScale;
        }
    }

    // Page position of the row group's next key, advanced without divisions. Offsets run one
    // step ahead, so a step's page-table loads are in flight with the previous step's K/V loads
    // rather than in front of its own.
    int pageIdx = myStart / pageSize;
    int slot = myStart - pageIdx * pageSize;
    int page = myStart < myEnd ? kvIndices[pageBase + pageIdx] : 0;
    long pageOff = (long) page * pageStride + headOff;
    long off[U];
    float2 scl[U]; // each key's (K, V) dequantisation scales under F_KV_SCALES, taken with its offset
#pragma unroll
    for (int k = 0; k < U; k++) {
        NEXT_KEY(k, myStart + k);
    }
#if RING
    for (int st = 0; st < STAGES - 1; st++) {
        RING_ISSUE(st, myStart + st * U);
    }
    barrier(CLK_LOCAL_MEM_FENCE); // the first steps' scales
#elif PREFETCH
    // This step's raw rows and scales; the loop loads the next step's before its own barriers.
    RAW8 kr[U];
    RAW8 vr[U];
    float2 sclCur[U];
#pragma unroll
    for (int k = 0; k < U; k++) {
        LOAD_RAW_KEY(k, myStart + k, kr, vr);
        sclCur[k] = scl[k];
    }
#pragma unroll
    for (int k = 0; k < U; k++) {
        NEXT_KEY(k, myStart + U + k);
    }
#endif
    for (int s = 0; s < steps; s++) {
        const int j0 = myStart + s * U;
        float8 kx[U];
        float8 vx[U];
        // Each key's dequantisation scales, applied to its dot products and weights rather than
        // to its 8 elements: a quarter of the multiplies at TM 4.
        float2 ks[U];
#if RING
        // The stage this step frees was read by the step before, whose barriers every work-item
        // of the row group has passed; past the last step the copies are empty and commit nothing.
        {
            const int ahead = s + STAGES - 1;
            const int st = ahead % STAGES;
            RING_ISSUE(st, myStart + ahead * U);
        }
        copies_wait_newest(STAGES - 1);  // the copies of all but the newest STAGES - 1 steps
        {
            const int st = s % STAGES;
#pragma unroll
            for (int k = 0; k < U; k++) {
                const int slotIdx = (st * U + k) * WG + lid;
                kx[k] = RAW_FLOAT(as_ushort8(kRing[slotIdx]));
                vx[k] = RAW_FLOAT(as_ushort8(vRing[slotIdx]));
                ks[k] = sclRing[(st * U + k) * ROWS + rg];
            }
        }
#elif PREFETCH
        RAW8 kn[U];
        RAW8 vn[U];
        float2 sclNext[U];
#pragma unroll
        for (int k = 0; k < U; k++) {
            LOAD_RAW_KEY(k, j0 + U + k, kn, vn);
            sclNext[k] = scl[k];
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            NEXT_KEY(k, j0 + 2 * U + k);
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            kx[k] = RAW_FLOAT(kr[k]);
            vx[k] = RAW_FLOAT(vr[k]);
            ks[k] = sclCur[k];
            kr[k] = kn[k];
            vr[k] = vn[k];
            sclCur[k] = sclNext[k];
        }
#else
#pragma unroll
        for (int k = 0; k < U; k++) {
            kx[k] = (float8) (0.0f);
            vx[k] = (float8) (0.0f);
            ks[k] = scl[k];
            if (j0 + k < myEnd && active) {
                kx[k] = LOADV(KVT, kc, kOffset + off[k] + d0);
                vx[k] = LOADV(KVT, vc, vOffset + off[k] + d0);
            }
        }
#pragma unroll
        for (int k = 0; k < U; k++) {
            NEXT_KEY(k, j0 + U + k);
        }
#endif
        __local float* mine = partial + (rg * LANES + lane) * PS;
#pragma unroll
        for (int k = 0; k < U; k++) {
#pragma unroll
            for (int m = 0; m < TM; m++) {
                mine[k * TM + m] = (dot(qv[m].lo, kx[k].lo) + dot(qv[m].hi, kx[k].hi)) * ks[k].x;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = lane; t < UG; t += LANES) {
            __local const float* col = partial + rg * LANES * PS + t;
            float x = 0.0f;
#pragma unroll
            for (int w = 0; w < LANES; w++) {
                x += col[w * PS];
            }
            int k = t / TM;
            int m = t - k * TM;
            int j = j0 + k;
            bool ok = j < myEnd && m < items && key_allowed(0, pq, j, kvLen, flags, windowLeft, mask, maskBase);
            scores[rg * UG + t] = ok ? logit_log2(x, headSlope[m], j, pq, flags, softCap) : -INFINITY;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        __local const float* sc = scores + rg * UG;
#pragma unroll
        for (int m = 0; m < TM; m++) {
            float mx = rowMax[m];
#pragma unroll
            for (int k = 0; k < U; k++) {
                mx = max_nan(mx, sc[k * TM + m]);
            }
            float alpha = softmax_weight(rowMax[m], mx);
            float8 a = acc[m] * alpha;
            float l = rowSum[m] * alpha;
#pragma unroll
            for (int k = 0; k < U; k++) {
                float p = softmax_weight(sc[k * TM + m], mx);
                l += p;
                a += (p * ks[k].y) * vx[k];
            }
            acc[m] = a;
            rowSum[m] = l;
            rowMax[m] = mx;
        }
    }

    // Merge the row groups' states: common maximum, then their rescaled accumulators one after
    // another; finish each head's row once.
    if (lane == 0) {
        for (int m = 0; m < TM; m++) {
            groupMax[rg * TM + m] = rowMax[m];
            groupSum[rg * TM + m] = rowSum[m];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int tmpBase = unitTmpRow[unit];
    if (lid < TM) {
        float mx = -INFINITY;
        for (int r = 0; r < ROWS; r++) {
            mx = max_nan(mx, groupMax[r * TM + lid]);
        }
        float l = 0.0f;
        for (int r = 0; r < ROWS; r++) {
            l += groupSum[r * TM + lid] * softmax_weight(groupMax[r * TM + lid], mx);
        }
        float lse2;
        float lseNatural;
        finalMax[lid] = mx;
        float sink = lid < items ? row_sink(sinks, hk * group + itemStart + lid, flags, tmpBase) : -INFINITY;
        finalFactor[lid] = softmax_finish(mx, l, sink, vScale, &lse2, &lseNatural);
        if (lid < items) {
            long row = tmpBase < 0 ? qoStart : tmpBase;
            store_lse(lse + lseOff, tmpLse, tmpBase, row * hq + hk * group + itemStart + lid, lse2, lseNatural,
                      flags);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int r = 0; r < ROWS; r++) {
        if (rg == r && active) {
            for (int m = 0; m < TM; m++) {
                float8 a = acc[m] * softmax_weight(rowMax[m], finalMax[m]);
                __local float* dst = merged + m * DMAX + d0;
                vstore8(r == 0 ? a : vload8(0, dst) + a, 0, dst);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int e = lid; e < items * headDim; e += WG) {
        int m = e / headDim;
        int d = e - m * headDim;
        // A row without weight is 0 exactly, whatever masked keys' V left in the accumulators.
        float x = finalMax[m] == -INFINITY ? 0.0f : merged[m * DMAX + d] * finalFactor[m];
        long h = hk * group + itemStart + m;
        if (tmpBase < 0) {
            STORE(QT, o, oOff + (long) qoStart * oTok + h * oHead + d, x);
        } else {
            tmpO[((long) tmpBase * hq + h) * headDim + d] = x;
        }
    }
}
