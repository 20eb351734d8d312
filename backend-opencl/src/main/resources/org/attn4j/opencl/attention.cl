// Batch attention over the generic paged view (decode and prefill alike).
//
// One work-group computes one "unit": a tile of TM query items of one request and one KV head
// over one chunk of its keys. A query item is (row, head within the KV head's group), so the g
// query heads of a KV head share every K/V tile loaded into local memory. Keys are visited in
// tiles of TN with an online softmax in base 2; a unit either writes o/lse directly or, when
// its request's keys were split into chunks, a float partial state that merge_splits combines.
//
// Compile-time: QT, KVT (type codes of common.cl), DMAX (head dim bucket), TM, TN, WG,
// TMY x TD threads for the output accumulators.

#define KS (DMAX + 1)
#define MI (TM / TMY)
#define DK ((DMAX + TD - 1) / TD)
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#define F_CAUSAL 1
#define F_WINDOW 2
#define F_SOFTCAP 4
#define F_MASK 8
#define F_LSE 16
#define F_INTERLEAVED 32
#define F_ROPE 64

// RoPE pairing: the pair index of element d, its partner and the sign of the partner's term.
inline int rope_pair(int d, int halfDim, int interleaved, int* partner, float* sign) {
    if (interleaved) {
        *partner = d ^ 1;
        *sign = (d & 1) ? 1.0f : -1.0f;
        return d >> 1;
    }
    if (d < halfDim) {
        *partner = d + halfDim;
        *sign = -1.0f;
        return d;
    }
    *partner = d - halfDim;
    *sign = 1.0f;
    return d - halfDim;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention(__global const STORAGE(QT)* q,
               __global STORAGE(QT)* o,
               __global float* lse,
               __global const STORAGE(KVT)* kc,
               __global const STORAGE(KVT)* vc,
               long kOffset, long vOffset, long pageStride, long slotStride, long headStride,
               __global const int* kvIndptr,
               __global const int* kvIndices,
               __global const int* kvLens,
               __global const int* qoIndptr,
               __global const int4* units,
               __global const int* unitTmpRow,
               __global float* tmpO,
               __global float* tmpLse,
               __global const uchar* mask,
               __global const long* maskOffsets,
               __global const float2* rope,
               int ropeBase,
               int pageSize, int hq, int group, int headDim,
               float qScale, float softCap, float vScale,
               int flags, int windowLeft) {
    __local float qs[TM * KS];
    __local float kst[DMAX * TN];   // K transposed: kst[d * TN + n]
    __local float vs[TN * DMAX];
    __local float ss[TM * TN];
    __local float rowMax[TM];
    __local float rowSum[TM];
    __local float rowAlpha[TM];
    __local long keyOff[TN];

    const int lid = get_local_id(0);
    const int unit = get_group_id(0);
    const int hk = get_group_id(1);
    const int4 u = units[unit];
    const int b = u.x;
    const int itemStart = u.y;
    const int qoStart = qoIndptr[b];
    const int qoLen = qoIndptr[b + 1] - qoStart;
    const int kvLen = kvLens[b];
    const int itemEnd = min(itemStart + TM, qoLen * group);
    const int shift = kvLen - qoLen; // pq = row + shift
    const int pqFirst = itemStart / group + shift;
    const int pqLast = (itemEnd - 1) / group + shift;
    int kvStart = u.z;
    int kvEnd = u.w;
    if (flags & F_CAUSAL) {
        kvEnd = min(kvEnd, pqLast + 1);
    }
    if (flags & F_WINDOW) {
        kvStart = max(kvStart, pqFirst - windowLeft);
    }
    const int pageBase = kvIndptr[b];
    const long maskBase = (flags & F_MASK) ? maskOffsets[b] : 0;
    const int halfDim = headDim >> 1;

    // Query tile, rotated and pre-scaled so a logit is one dot product.
    for (int e = lid; e < TM * headDim; e += WG) {
        int m = e / headDim;
        int d = e - m * headDim;
        int item = itemStart + m;
        float x = 0.0f;
        if (item < itemEnd) {
            int row = item / group;
            int h = hk * group + (item - row * group);
            long base = ((long) (qoStart + row) * hq + h) * headDim;
            x = LOAD(QT, q, base + d);
            if (flags & F_ROPE) {
                int partner;
                float sign;
                int p = rope_pair(d, halfDim, flags & F_INTERLEAVED, &partner, &sign);
                float2 cs = rope[(long) (row + shift - ropeBase) * halfDim + p];
                x = x * cs.x + sign * LOAD(QT, q, base + partner) * cs.y;
            }
            x *= qScale;
        }
        qs[m * KS + d] = x;
    }
    for (int m = lid; m < TM; m += WG) {
        rowMax[m] = -INFINITY;
        rowSum[m] = 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    const int ty = lid / TD;
    const int tx = lid - ty * TD;
    float acc[MI][DK];
    for (int i = 0; i < MI; i++) {
        for (int k = 0; k < DK; k++) {
            acc[i][k] = 0.0f;
        }
    }

    for (int t0 = kvStart; t0 < kvEnd; t0 += TN) {
        const int nKeys = min(TN, kvEnd - t0);
        // Page-table lookups once per key of the tile.
        for (int n = lid; n < TN; n += WG) {
            long off = 0;
            if (n < nKeys) {
                int j = t0 + n;
                int page = kvIndices[pageBase + j / pageSize];
                off = (long) page * pageStride + (long) (j % pageSize) * slotStride + (long) hk * headStride;
            }
            keyOff[n] = off;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        if ((headDim & 3) == 0) {
            const int d4n = headDim >> 2;
            for (int e = lid; e < TN * d4n; e += WG) {
                int n = e / d4n;
                int d = (e - n * d4n) << 2;
                float4 kx = (float4) (0.0f);
                float4 vx = (float4) (0.0f);
                if (n < nKeys) {
                    kx = LOAD4(KVT, kc, kOffset + keyOff[n] + d);
                    vx = LOAD4(KVT, vc, vOffset + keyOff[n] + d);
                }
                kst[d * TN + n] = kx.x;
                kst[(d + 1) * TN + n] = kx.y;
                kst[(d + 2) * TN + n] = kx.z;
                kst[(d + 3) * TN + n] = kx.w;
                vstore4(vx, 0, vs + n * DMAX + d);
            }
        } else {
            for (int e = lid; e < TN * headDim; e += WG) {
                int n = e / headDim;
                int d = e - n * headDim;
                float kx = 0.0f;
                float vx = 0.0f;
                if (n < nKeys) {
                    kx = LOAD(KVT, kc, kOffset + keyOff[n] + d);
                    vx = LOAD(KVT, vc, vOffset + keyOff[n] + d);
                }
                kst[d * TN + n] = kx;
                vs[n * DMAX + d] = vx;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        // RoPE on K in local memory; the barrier stays outside the branch.
        for (int e = lid; (flags & F_ROPE) && e < TN * halfDim; e += WG) {
            int n = e / halfDim;
            int p = e - n * halfDim;
            if (n < nKeys) {
                int d1 = (flags & F_INTERLEAVED) ? 2 * p : p;
                int d2 = (flags & F_INTERLEAVED) ? 2 * p + 1 : p + halfDim;
                float2 cs = rope[(long) (t0 + n - ropeBase) * halfDim + p];
                float x1 = kst[d1 * TN + n];
                float x2 = kst[d2 * TN + n];
                kst[d1 * TN + n] = x1 * cs.x - x2 * cs.y;
                kst[d2 * TN + n] = x2 * cs.x + x1 * cs.y;
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
                bool ok = true;
                if (flags & F_CAUSAL) {
                    ok = j <= pq;
                }
                if (flags & F_WINDOW) {
                    ok = ok && j >= pq - windowLeft;
                }
                if (ok && (flags & F_MASK)) {
                    long bit = maskBase + (long) row * kvLen + j;
                    ok = ((mask[bit >> 3] >> (int) (bit & 7)) & 1) != 0;
                }
                if (ok) {
                    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
                    int d = 0;
                    for (; d + 4 <= headDim; d += 4) {
                        d0 += qs[m * KS + d] * kst[d * TN + n];
                        d1 += qs[m * KS + d + 1] * kst[(d + 1) * TN + n];
                        d2 += qs[m * KS + d + 2] * kst[(d + 2) * TN + n];
                        d3 += qs[m * KS + d + 3] * kst[(d + 3) * TN + n];
                    }
                    for (; d < headDim; d++) {
                        d0 += qs[m * KS + d] * kst[d * TN + n];
                    }
                    float x = (d0 + d1) + (d2 + d3);
                    if (flags & F_SOFTCAP) {
                        x = softCap * tanh(x / softCap) * LOG2E;
                    }
                    s = x;
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
                mx = fmax(mx, ss[m * TN + n]);
            }
            float alpha = 1.0f;
            float sum = 0.0f;
            if (mx == -INFINITY) {
                for (int n = 0; n < TN; n++) {
                    ss[m * TN + n] = 0.0f;
                }
            } else {
                alpha = exp2(mOld - mx);
                for (int n = 0; n < TN; n++) {
                    float p = exp2(ss[m * TN + n] - mx);
                    ss[m * TN + n] = p;
                    sum += p;
                }
            }
            rowMax[m] = mx;
            rowSum[m] = rowSum[m] * alpha + sum;
            rowAlpha[m] = alpha;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int i = 0; i < MI; i++) {
            float a = rowAlpha[ty + i * TMY];
            for (int k = 0; k < DK; k++) {
                acc[i][k] *= a;
            }
        }
        for (int n = 0; n < nKeys; n++) {
            for (int i = 0; i < MI; i++) {
                float p = ss[(ty + i * TMY) * TN + n];
                for (int k = 0; k < DK; k++) {
                    int d = tx + k * TD;
                    if (d < DMAX) {
                        acc[i][k] += p * vs[n * DMAX + d];
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
        float l = rowSum[m];
        float inv = l > 0.0f ? vScale / l : 0.0f;
        float lse2 = l > 0.0f ? rowMax[m] + log2(l) : -INFINITY;
        if (tmpBase < 0) {
            long base = ((long) (qoStart + row) * hq + h) * headDim;
            for (int k = 0; k < DK; k++) {
                int d = tx + k * TD;
                if (d < headDim) {
                    STORE(QT, o, base + d, acc[i][k] * inv);
                }
            }
            if (tx == 0 && (flags & F_LSE)) {
                lse[(long) (qoStart + row) * hq + h] = lse2 * LN2;
            }
        } else {
            long trow = (long) tmpBase + row;
            long base = (trow * hq + h) * headDim;
            for (int k = 0; k < DK; k++) {
                int d = tx + k * TD;
                if (d < headDim) {
                    tmpO[base + d] = acc[i][k] * inv;
                }
            }
            if (tx == 0) {
                tmpLse[trow * hq + h] = lse2;
            }
        }
    }
}

// Combines the chunk states of split requests: info = (output row, first workspace row,
// chunks, workspace rows between chunks). Work-item (t, h, r) covers dims t, t + size0, ...
__kernel void merge_splits(__global const float* tmpO,
                           __global const float* tmpLse,
                           __global const int4* info,
                           __global STORAGE(QT)* o,
                           __global float* lse,
                           int hq, int headDim, int writeLse) {
    const int t = get_global_id(0);
    const int step = get_global_size(0);
    const int h = get_global_id(1);
    const int4 r = info[get_global_id(2)];
    float mx = -INFINITY;
    for (int c = 0; c < r.z; c++) {
        mx = fmax(mx, tmpLse[(long) (r.y + c * r.w) * hq + h]);
    }
    long out = ((long) r.x * hq + h) * headDim;
    if (mx == -INFINITY) {
        for (int d = t; d < headDim; d += step) {
            STORE(QT, o, out + d, 0.0f);
        }
        if (t == 0 && writeLse) {
            lse[(long) r.x * hq + h] = -INFINITY;
        }
        return;
    }
    float wsum = 0.0f;
    for (int c = 0; c < r.z; c++) {
        wsum += exp2(tmpLse[(long) (r.y + c * r.w) * hq + h] - mx);
    }
    for (int d = t; d < headDim; d += step) {
        float a = 0.0f;
        for (int c = 0; c < r.z; c++) {
            long row = (long) (r.y + c * r.w);
            float w = exp2(tmpLse[row * hq + h] - mx);
            a += w * tmpO[(row * hq + h) * headDim + d];
        }
        STORE(QT, o, out + d, a / wsum);
    }
    if (t == 0 && writeLse) {
        lse[(long) r.x * hq + h] = (mx + log2(wsum)) * LN2;
    }
}
