// What every attention flavour (attention.cl: serial and tiled; decode_stream.cl) shares, written
// once: the flag bits and argument lists, the masks, the logit transform and the online softmax's
// update and finish. The flavours differ in how they tile keys and rows over work-items; which
// keys a row sees, what a logit is and how weights become o and lse is decided here. A new variant
// of spec §3 is a flag below, its value among the kernel arguments, and its place in key_allowed
// (a mask), logit_log2 (a term of the logit) or softmax_finish (a term of the softmax that is not a
// key). Built after common.cl and before the kernel's own source (OpenClPrograms).
//
// Units: logits are kept in base 2. The host folds log2 e into qScale unless a soft cap is on; then
// the cap converts (soft_cap_log2), so a logit leaves logit_log2 in base 2 either way. An ALiBi
// slope is scaled as qScale is (head_slope), so the bias adds in the same units before the cap.
// Sinks stay natural logs until softmax_finish.
//
// Per-head values (sink, slope) are read from global memory once per row or unit, never per key.

#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#define F_CAUSAL 1
#define F_WINDOW 2
#define F_SOFTCAP 4
#define F_MASK 8
#define F_LSE 16
#define F_INTERLEAVED 32
#define F_ROPE 64
#define F_SINKS 128
#define F_ALIBI 256
#define F_KV_SCALES 512

// The one argument list every attention flavour takes, so the host sets arguments the same way
// for each. q is a [rows, hq, Dqk] view and o a [rows, hq, Dvo] one: element (row, h, d) at
// off + row * tok + h * head + d. K rows hold headDim (Dqk) elements and are addressed with
// pageStride, slotStride, headStride; V rows hold headDimV (Dvo) and have strides of their own
// (spec §2). The streaming decode takes only Dqk == Dvo (the plan routes the rest to the tiled or
// serial kernel), so it reads V with K's strides.
// sinks and slopes hold one float per query head (read only under F_SINKS, F_ALIBI). kScales and
// vScales are per-head or per-token dequantisation scales (read only under F_KV_SCALES; scalar
// scales are folded into qScale and vScale by the host), addressed with the scale strides, which
// follow the cache's page and slot geometry but not its head dims.
#define ATTENTION_KERNEL_PARAMS                                              \
    __global const STORAGE(QT)* q,                                           \
    long qOff, long qTok, long qHead,                                        \
    __global STORAGE(QT)* o,                                                 \
    long oOff, long oTok, long oHead,                                        \
    __global float* lse,                                                     \
    long lseOff,                                                             \
    __global const STORAGE(KVT)* kc,                                         \
    __global const STORAGE(KVT)* vc,                                         \
    long kOffset, long vOffset, long pageStride, long slotStride, long headStride, \
    long vPageStride, long vSlotStride, long vHeadStride,                    \
    __global const int* kvIndptr,                                            \
    __global const int* kvIndices,                                           \
    __global const int* kvLens,                                              \
    __global const int* qoIndptr,                                            \
    __global const int4* units,                                              \
    __global const int* unitTmpRow,                                          \
    __global float* tmpO,                                                    \
    __global float* tmpLse,                                                  \
    __global const uchar* mask,                                              \
    __global const long* maskOffsets,                                        \
    __global const float2* rope,                                             \
    int ropeBase, int rotaryDim,                                             \
    __global const float* sinks,                                             \
    __global const float* slopes,                                            \
    __global const float* kScales,                                           \
    __global const float* vScales,                                           \
    long kScaleOff, long vScaleOff,                                          \
    long scalePageStride, long scaleSlotStride, long scaleHeadStride,        \
    int pageSize, int hq, int group, int headDim, int headDimV,              \
    float qScale, float softCap, float vScale,                               \
    int flags, int windowLeft

// The split-merge kernels' arguments: info = (output row, first workspace row, chunks,
// workspace rows between chunks) per merged row; flags as the attention kernel's (F_LSE,
// F_SINKS: a split row's sink joins here, once, spec §4).
#define MERGE_SPLITS_PARAMS                                                  \
    __global const float* tmpO,                                              \
    __global const float* tmpLse,                                            \
    __global const int4* info,                                               \
    __global const float* sinks,                                             \
    __global STORAGE(QT)* o,                                                 \
    long oOff, long oTok, long oHead,                                        \
    __global float* lse,                                                     \
    long lseOff,                                                             \
    int hq, int headDim, int flags, int count

// ------------------------------------------------------------------------- per-head values

// Query head h's sink logit (natural log), or -inf without sinks.
inline float head_sink(__global const float* sinks, int h, int flags) {
    return (flags & F_SINKS) ? sinks[h] : -INFINITY;
}

// The sink a unit's row finishes with: its head's, except in a split row's chunks, whose merge
// adds it once (spec §4: a sink on every chunk would count it once per chunk).
inline float row_sink(__global const float* sinks, int h, int flags, int tmpBase) {
    return tmpBase < 0 ? head_sink(sinks, h, flags) : -INFINITY;
}

// Query head h's ALiBi slope in the units of qScale (times log2 e unless the soft cap converts),
// 0 without ALiBi.
inline float head_slope(__global const float* slopes, int h, int flags) {
    if (!(flags & F_ALIBI)) {
        return 0.0f;
    }
    return (flags & F_SOFTCAP) ? slopes[h] : slopes[h] * LOG2E;
}

// (K, V) dequantisation scales of the key in page `page`, slot `slot`, KV head hk (spec §1, §2):
// per head the strides are (0, 0, 1), per token the scale pool's. Under F_KV_SCALES the kernels
// multiply each loaded K and V row by them (the streaming decode folds them into its dot products
// and weights instead), so every later step reads real values; (1, 1) without.
inline float2 kv_scales(__global const float* kScales, __global const float* vScales, long kScaleOff,
                        long vScaleOff, int page, int slot, int hk, long scalePageStride, long scaleSlotStride,
                        long scaleHeadStride, int flags) {
    if (!(flags & F_KV_SCALES)) {
        return (float2) (1.0f);
    }
    long at = (long) page * scalePageStride + (long) slot * scaleSlotStride + (long) hk * scaleHeadStride;
    return (float2) (kScales[kScaleOff + at], vScales[vScaleOff + at]);
}

// kv_scales of the key at page and slot ps (key_page).
#define KEY_SCALES(ps, hk)                                                                      \
    kv_scales(kScales, vScales, kScaleOff, vScaleOff, (ps).x, (ps).y, hk, scalePageStride,        \
              scaleSlotStride, scaleHeadStride, flags)

// ------------------------------------------------------------------- units and keys

// The locals the tiled, serial and tensor kernels derive from unit `unit` (of TM items) of KV
// head hk: its request b, query items [itemStart, itemEnd), query position pq = row + shift,
// keys [kvStart, kvEnd).
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

// Page id (x) and slot (y) of key j of the request whose pages start at pageBase: the one
// page-table read that a key's K, V and scale offsets share.
inline int2 key_page(__global const int* kvIndices, int pageBase, int j, int pageSize) {
    return (int2) (kvIndices[pageBase + j / pageSize], j % pageSize);
}

// Element offset of the key at page and slot ps, KV head hk, in a pool of the given strides.
inline long page_offset(int2 ps, long pageStride, long slotStride, long headStride, int hk) {
    return (long) ps.x * pageStride + (long) ps.y * slotStride + (long) hk * headStride;
}

// ------------------------------------------------------------------------------------ masks

// Bit `bit` of the packed custom mask.
inline bool mask_allows(__global const uchar* mask, long bit) {
    return ((mask[bit >> 3] >> (int) (bit & 7)) & 1) != 0;
}

// The unit's key range u.zw narrowed to the request's keys (a plan over a device page table
// schedules for the longest request it allows) and to what causality and the window let rows at
// positions [pqFirst, pqLast] see. Keys inside it still go through key_allowed.
inline int2 unit_key_range(int4 u, int kvLen, int pqFirst, int pqLast, int flags, int windowLeft) {
    int kvStart = u.z;
    int kvEnd = min(u.w, kvLen);
    if (flags & F_CAUSAL) {
        kvEnd = min(kvEnd, pqLast + 1);
    }
    if (flags & F_WINDOW) {
        kvStart = max(kvStart, pqFirst - windowLeft);
    }
    return (int2) (kvStart, kvEnd);
}

// Whether query row `row` of its request (position pq) may attend key j (spec §3): causal, window,
// then the custom mask, whose bits for the request start at maskBase.
inline bool key_allowed(int row, int pq, int j, int kvLen, int flags, int windowLeft,
                        __global const uchar* mask, long maskBase) {
    bool ok = true;
    if (flags & F_CAUSAL) {
        ok = j <= pq;
    }
    if (flags & F_WINDOW) {
        ok = ok && j >= pq - windowLeft;
    }
    if (ok && (flags & F_MASK)) {
        ok = mask_allows(mask, maskBase + (long) row * kvLen + j);
    }
    return ok;
}

// Whether every row of positions [pqFirst, pqLast] sees each of the keys [t0, t0 + n) (all inside
// the unit's keys, which end at kvEnd) with a plain logit: no mask bits, ALiBi or soft cap to
// apply, and neither causality nor the window cuts the tile. Such a tile skips key_allowed and
// logit_log2.
inline bool tile_seen_whole(int t0, int n, int kvEnd, int pqFirst, int pqLast, int flags, int windowLeft) {
    return !(flags & (F_MASK | F_ALIBI | F_SOFTCAP)) && t0 + n <= kvEnd
            && (!(flags & F_CAUSAL) || t0 + n - 1 <= pqFirst)
            && (!(flags & F_WINDOW) || t0 >= pqLast - windowLeft);
}

// ------------------------------------------------------------------------------- the logit

// Logit x capped by softCap * tanh(x / softCap), then in base 2.
inline float soft_cap_log2(float x, float softCap) {
    return softCap * tanh(x / softCap) * LOG2E;
}

// The base-2 logit of allowed key j for a query at position pq (spec §3's order) from
// dot = (qScale q) . k, RoPE already applied to both: ALiBi's slope * (j - pq), slope from
// head_slope, then the soft cap.
inline float logit_log2(float dot, float slope, int j, int pq, int flags, float softCap) {
    float x = dot;
    if (flags & F_ALIBI) {
        x += slope * (float) (j - pq);
    }
    if (flags & F_SOFTCAP) {
        x = soft_cap_log2(x, softCap);
    }
    return x;
}

// ------------------------------------------------------------------------ online softmax
//
// A row's state over the keys seen so far: m, the largest base-2 logit (-inf while no key has
// weight; NaN once a NaN logit is seen), l = sum of 2^(x - m), and an accumulator sum of
// 2^(x - m) v. A block of logits with largest value bm moves it on as every flavour writes it:
//   mNew = max_nan(m, bm); alpha = softmax_weight(m, mNew);
//   l = l * alpha + sum softmax_weight(x, mNew); acc = acc * alpha + sum softmax_weight(x, mNew) v.
// Chunk states (split rows, the streaming decode's row groups) combine the same way, each
// chunk's (m, l) standing for a logit m with weight l.

// The reference against which a row whose largest logit is m weighs: m, or 0 while nothing has
// weight, so that masked logits (-inf) get weight exp2(-inf) = 0 rather than exp2(-inf + inf) = NaN.
inline float softmax_ref(float m) {
    return m == -INFINITY ? 0.0f : m;
}

// The weight of base-2 logit x in a row whose largest logit is m.
inline float softmax_weight(float x, float m) {
    return exp2(x - softmax_ref(m));
}

// Finishes a row's state (m, l) with its sink (natural log, -inf for none): returns the factor
// that turns its accumulator into o (vScale, the V dequantisation scale, folded in), sets *lse2
// to the base-2 LSE (the split workspace's units) and *lse to the natural one. The sink is one
// more weight in the denominator and none in the numerator (spec §3). A row without weight
// (nothing allowed, or every allowed logit -inf) gets factor 0 and lse = the sink exactly, -inf
// without one; a NaN passes through. Without a sink the factor is vScale / l, as it was before sinks.
inline float softmax_finish(float m, float l, float sink, float vScale, float* lse2, float* lse) {
    if (m == -INFINITY) {
        *lse2 = sink * LOG2E;
        *lse = sink;
        return 0.0f;
    }
    float s2 = sink * LOG2E;
    float top = max_nan(m, s2);
    float keys = exp2(m - top); // 1 unless the sink is the largest logit
    float total = l * keys + exp2(s2 - top);
    *lse2 = top + log2(total);
    *lse = *lse2 * LN2;
    return vScale * keys / total;
}

// Writes a unit row's lse: base 2 to the split workspace (tmpBase >= 0), else the natural log
// when the caller asked for it.
inline void store_lse(__global float* lse, __global float* tmpLse, int tmpBase, long index, float lse2,
                      float lseNatural, int flags) {
    if (tmpBase >= 0) {
        tmpLse[index] = lse2;
    } else if (flags & F_LSE) {
        lse[index] = lseNatural;
    }
}

// The largest base-2 lse of a split row's chunk states, the m of their combined state:
// r = (output row, first workspace row, chunks, workspace rows between chunks).
inline float split_lse_max(__global const float* tmpLse, int4 r, int hq, int h) {
    float mx = -INFINITY;
    for (int c = 0; c < r.z; c++) {
        mx = max_nan(mx, tmpLse[(long) (r.y + c * r.w) * hq + h]);
    }
    return mx;
}

// ------------------------------------------------------------------ split rows' merge

// Combines the chunk states of split requests: info = (output row, first workspace row, chunks,
// workspace rows between chunks). One work-item per (merged row, head), count of them, for CPU
// devices, where a work-item walks its row's floats in order; GPUs take merge_splits_dims.
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

// Combines the chunk states of split requests, one work-item per output element so that
// neighbouring work-items read neighbouring floats (on a GPU a work-item per row would read
// floats headDim apart, one row at a time): info = (output row, first workspace row,
// chunks, workspace rows between chunks) per merged row; count = merged rows x hq x headDim.
__kernel void merge_splits_dims(MERGE_SPLITS_PARAMS) {
    const int e = get_global_id(0);
    if (e >= count) {
        return;
    }
    const int rowHead = e / headDim;
    const int d = e - rowHead * headDim;
    const int h = rowHead % hq;
    const int4 r = info[rowHead / hq];
    const float mx = split_lse_max(tmpLse, r, hq, h);
    float wsum = 0.0f;
    float a = 0.0f;
    for (int c = 0; mx != -INFINITY && c < r.z; c++) {
        long row = (long) (r.y + c * r.w) * hq + h;
        float w = softmax_weight(tmpLse[row], mx);
        wsum += w;
        a += w * tmpO[row * headDim + d];
    }
    float lse2;
    float lseNatural;
    const float f = softmax_finish(mx, wsum, head_sink(sinks, h, flags), 1.0f, &lse2, &lseNatural);
    STORE(QT, o, oOff + (long) r.x * oTok + (long) h * oHead + d, a * f);
    if ((flags & F_LSE) && d == 0) {
        lse[lseOff + (long) r.x * hq + h] = lseNatural;
    }
}
