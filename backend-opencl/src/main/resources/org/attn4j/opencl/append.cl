// KV append (spec §5): token t of k [n, Hkv, Dqk] and v [n, Hkv, Dvo] goes to request batchIndices[t] at
// positions[t], located through the page table; one work-item per (token, head). Same type: a
// bit copy (BITS is the storage word); otherwise divide by the cache's scale and round once to
// the cache's type. ST, CT: type codes of the source and the cache; SAME_TYPE: 0/1. The scale is
// the scalar kScale/vScale, the KV head's (scaleMode 1), or per token (scaleMode 2) computed
// from the row and written to the scale pools, at the token's page, slot and head by the scale
// strides (spec §2, §5).
//
// k and v are views: element (t, h, d) at off + t * tok + h * head + d. K pages hold rows of
// headDim (Dqk) elements, V pages rows of headDimV (Dvo), each with its strides. With CHECKED = 1 the
// indices, positions and page table come from device memory and are checked here: a token whose
// request, position, page range or page id is out of range is skipped and recorded in fault.

#define SCALES_PER_HEAD 1
#define SCALES_PER_TOKEN 2

#if SAME_TYPE
#define SRC_T BITS
#define DST_T BITS
#else
#define SRC_T STORAGE(ST)
#define DST_T STORAGE(CT)
#endif

#if !SAME_TYPE && (CT == 3 || CT == 4)
#if CT == 3
#define FP8_MAX 448.0f
#else
#define FP8_MAX 57344.0f
#endif
// spec §5's per-token scale of one row of n source elements: fl32(amax / FP8_MAX) over the finite
// elements, 1 below the smallest normal float. A device's division may be a few ulp off; the
// neighbour with the smaller exact residual (fma) is the correctly rounded quotient, and there is
// no tie to settle: FP8_MAX = 7 * 2^k, so amax / FP8_MAX is never halfway between two floats.
inline float row_scale(__global const SRC_T* src, long at, int n) {
    float amax = 0.0f;
    for (int d = 0; d < n; d++) {
        float x = fabs(LOAD_EXACT(ST, src, at + d));
        if (isfinite(x)) {
            amax = fmax(amax, x);
        }
    }
    float q = amax / FP8_MAX;
    float r = fabs(fma(-q, FP8_MAX, amax));
    float up = nextafter(q, INFINITY);
    float down = nextafter(q, 0.0f);
    if (fabs(fma(-up, FP8_MAX, amax)) < r) {
        q = up;
    } else if (fabs(fma(-down, FP8_MAX, amax)) < r) {
        q = down;
    }
    return q < FLT_MIN ? 1.0f : q;
}
#endif

// n elements of src from `from` into the cache row at `at`: bits as they are for one type, else
// the exact quotient by scale rounded once into the cache's type (saturating FP8).
inline void store_row(__global DST_T* c, long at, __global const SRC_T* src, long from, int n, float scale) {
    for (int d = 0; d < n; d++) {
#if SAME_TYPE
        c[at + d] = src[from + d];
#else
        float x = LOAD_EXACT(ST, src, from + d);
#if CT == 3
        c[at + d] = quotient_to_e4m3(x, scale);
#elif CT == 4
        c[at + d] = quotient_to_e5m2(x, scale);
#elif CT == 2
        c[at + d] = quotient_to_bf16(x, scale);
#elif CT == 1
        ((__global ushort*) c)[at + d] = quotient_to_f16(x, scale);
#else
        c[at + d] = quotient(x, scale);
#endif
#endif
    }
}

__kernel void append_kv(__global const SRC_T* k, long kOff, long kTok, long kHead,
                        __global const SRC_T* v, long vOff, long vTok, long vHead,
                        __global DST_T* kc, __global DST_T* vc,
                        long kOffset, long vOffset, long pageStride, long slotStride, long headStride,
                        long vPageStride, long vSlotStride, long vHeadStride,
                        __global const int* batchIndices, __global const int* positions,
                        __global const int* kvIndptr, __global const int* kvIndices,
                        __global const int* lastPageLen, int batch, int capacity, int numPages,
                        __global int* fault,
                        int pageSize, int hkv, int headDim, int headDimV, float kScale, float vScale,
                        __global float* kScales, __global float* vScales, long kScaleOff, long vScaleOff,
                        long scalePageStride, long scaleSlotStride, long scaleHeadStride, int scaleMode,
                        int count) {
    const int g = get_global_id(0);
    if (g >= count) {
        return;
    }
    const int h = g % hkv;
    const int t = g / hkv;
    const int b = batchIndices[t];
    const int pos = positions[t];
#if CHECKED
    if (b < 0 || b >= batch) {
        report_fault(fault, FAULT_BATCH_INDEX, t, b);
        return;
    }
    const int start = kvIndptr[b];
    const int end = kvIndptr[b + 1];
    if (start < 0 || end < start || end > capacity || (end > start && (lastPageLen[b] < 1 || lastPageLen[b] > pageSize))) {
        report_fault(fault, FAULT_PAGE_RANGE, b, start);
        return;
    }
    const long kvLen = end == start ? 0 : (long) (end - start - 1) * pageSize + lastPageLen[b];
    if (pos < 0 || pos >= kvLen) {
        report_fault(fault, FAULT_POSITION, t, pos);
        return;
    }
    const int page = kvIndices[start + pos / pageSize];
    if (page < 0 || page >= numPages) {
        report_fault(fault, FAULT_PAGE_ID, start + pos / pageSize, page);
        return;
    }
#else
    const int page = kvIndices[kvIndptr[b] + pos / pageSize];
#endif
    const long dst = (long) page * pageStride + (long) (pos % pageSize) * slotStride + (long) h * headStride;
    const long vDst = (long) page * vPageStride + (long) (pos % pageSize) * vSlotStride + (long) h * vHeadStride;
    const long ks = kOff + (long) t * kTok + (long) h * kHead;
    const long vs = vOff + (long) t * vTok + (long) h * vHead;
#if !SAME_TYPE
    const long scaleAt = (long) page * scalePageStride + (long) (pos % pageSize) * scaleSlotStride
            + (long) h * scaleHeadStride;
    if (scaleMode == SCALES_PER_HEAD) {
        kScale = kScales[kScaleOff + scaleAt];
        vScale = vScales[vScaleOff + scaleAt];
    } else if (scaleMode == SCALES_PER_TOKEN) {
#if CT == 3 || CT == 4
        kScale = row_scale(k, ks, headDim);
        vScale = row_scale(v, vs, headDimV);
        kScales[kScaleOff + scaleAt] = kScale;
        vScales[vScaleOff + scaleAt] = vScale;
#endif
    }
#endif
    store_row(kc, kOffset + dst, k, ks, headDim, kScale);
    store_row(vc, vOffset + vDst, v, vs, headDimV, vScale);
}
