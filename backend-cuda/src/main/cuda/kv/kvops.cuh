// KV append (spec §5), the standalone RoPE op, and the check that copies a device-resident page
// table into a plan's own arrays.
#pragma once
#include "../primitives/common.cuh"

namespace attn4j {

// Faults found in device-resident values (page tables, positions, indices): the first is kept in
// fault[0..2] = (code, index, value) until the host reads and clears it (CudaSession).
enum FaultCode : int { FAULT_BATCH_INDEX = 1, FAULT_POSITION = 2, FAULT_PAGE_RANGE = 3, FAULT_PAGE_ID = 4,
                       FAULT_LENGTH = 5 };

__device__ __forceinline__ void reportFault(int* fault, int code, int index, int value) {
    if (atomicCAS(fault, 0, code) == 0) {
        fault[1] = index;
        fault[2] = value;
    }
}

struct AppendParams {
    const uint8_t* k;
    const uint8_t* v;
    const int* batchIndices;
    const int* positions;
    const int* kvIndptr;
    const int* kvIndices;
    const int* kvLastPageLen;  // checked appends only
    int* fault;
    uint8_t* kCache;
    uint8_t* vCache;
    long long kOffset, vOffset, pageStride, slotStride, headStride;  // K rows' strides
    long long vPageStride, vSlotStride, vHeadStride;                  // V rows' (head dim dv)
    long long kTok, kHead, vTok, vHead;  // the new tokens are [n, hkv, d] and [n, hkv, dv] views
    // KV scales per head or per token (spec §5), or null: then kScale and vScale are the scalar
    // scales. The scale of (page, slot, head) is at page * scalePageStride + slot *
    // scaleSlotStride + head * scaleHeadStride: per head (page and slot strides 0) it is read, per
    // token it is computed from the row and written there.
    float* kScales;
    float* vScales;
    long long scalePageStride, scaleSlotStride, scaleHeadStride;
    int hkv, d, pageSize, checked;
    int batch, capacity, numPages, dv;
    float kScale, vScale;
};

// x / scale in double, narrowed to float by rounding to odd: the later rounding to the cache's
// type then equals one rounding of the exact quotient (what the reference computes). A NaN skips
// the division, which would return the GPU's canonical positive NaN: the cache keeps its sign.
__device__ __forceinline__ float quotientRoundedToOdd(float x, float scale) {
    if (isnan(x)) return x;
    double q = (double) x / (double) scale;
    float f = __double2float_rz(q);
    if ((double) f != q && !isnan(q) && !isinf(f)) f = __uint_as_float(__float_as_uint(f) | 1u);
    return f;
}

// x / scale rounded once to F32, straight from the double; a NaN keeps its sign as above.
__device__ __forceinline__ float quotientToF32(float x, float scale) {
    return isnan(x) ? x : __double2float_rn((double) x / (double) scale);
}

// spec §5's per-token scale of the n elements of one source row at element `at`, into FP8 format
// DST: fl32(amax / max finite) over the row's finite elements, 1 below the smallest normal float.
// Every thread of the block calls it and gets the scale (at most 256 threads, a multiple of 32).
template <int SRC, int DST>
__device__ __forceinline__ float tokenScale(const uint8_t* src, long long at, int n) {
    __shared__ float warpAmax[8];
    float amax = 0.f;
    for (int d = threadIdx.x; d < n; d += blockDim.x) {
        const float x = fabsf(loadElemExact<SRC>(src, at + d));
        if (isfinite(x)) amax = fmaxf(amax, x);
    }
    amax = warpMax(amax);
    if ((threadIdx.x & 31) == 0) warpAmax[threadIdx.x >> 5] = amax;
    __syncthreads();
    amax = 0.f;
    for (int w = 0; w < (int) (blockDim.x >> 5); ++w) amax = fmaxf(amax, warpAmax[w]);
    __syncthreads();  // read by all before the next call writes warpAmax again
    const float q = amax / (DST == E4M3 ? 448.f : 57344.f);  // IEEE division, rounded to nearest even
    return q < 0x1p-126f ? 1.f : q;
}

// One block per (token, head). Same dtype: the bits move unchanged. Otherwise the value over
// the scale is rounded to nearest even, saturating (FP8); into F32, straight from the double.
// Checked appends read their indices and page table from device memory the host never saw: a
// token whose request, position, page range or page id is out of range is skipped and recorded.
template <int SRC, int DST>
__device__ __forceinline__ void appendBody(const AppendParams& p) {
    const int t = blockIdx.x / p.hkv, head = blockIdx.x % p.hkv;
    const int b = p.batchIndices[t], pos = p.positions[t];
    int page;
    if (p.checked) {
        if (b < 0 || b >= p.batch) {
            if (threadIdx.x == 0 && head == 0) reportFault(p.fault, FAULT_BATCH_INDEX, t, b);
            return;
        }
        const int start = p.kvIndptr[b], end = p.kvIndptr[b + 1];
        const int last = end > start ? p.kvLastPageLen[b] : 0;
        if (start < 0 || end < start || end > p.capacity || (end > start && (last < 1 || last > p.pageSize))) {
            if (threadIdx.x == 0 && head == 0) reportFault(p.fault, FAULT_PAGE_RANGE, b, start);
            return;
        }
        const long long kvLen = end == start ? 0 : (long long) (end - start - 1) * p.pageSize + last;
        if (pos < 0 || pos >= kvLen) {
            if (threadIdx.x == 0 && head == 0) reportFault(p.fault, FAULT_POSITION, t, pos);
            return;
        }
        page = p.kvIndices[start + pos / p.pageSize];
        if (page < 0 || page >= p.numPages) {
            if (threadIdx.x == 0 && head == 0) reportFault(p.fault, FAULT_PAGE_ID, start + pos / p.pageSize, page);
            return;
        }
    } else {
        page = p.kvIndices[p.kvIndptr[b] + pos / p.pageSize];
    }
    const int slot = pos % p.pageSize;
    const long long rel = page * p.pageStride + slot * p.slotStride + head * p.headStride;
    const long long relV = page * p.vPageStride + slot * p.vSlotStride + head * p.vHeadStride;
    const long long ks = (long long) t * p.kTok + (long long) head * p.kHead;
    const long long vs = (long long) t * p.vTok + (long long) head * p.vHead;
    float kScale = p.kScale, vScale = p.vScale;
    if (SRC != DST && p.kScales != nullptr) {
        const long long at = page * p.scalePageStride + slot * p.scaleSlotStride + head * p.scaleHeadStride;
        if ((p.scalePageStride | p.scaleSlotStride) == 0) {
            kScale = p.kScales[at];
            vScale = p.vScales[at];
        } else if (DST == E4M3 || DST == E5M2) {  // per token: FP8 caches only (core-api checks)
            kScale = tokenScale<SRC, DST>(p.k, ks, p.d);
            vScale = tokenScale<SRC, DST>(p.v, vs, p.dv);
            if (threadIdx.x == 0) {
                p.kScales[at] = kScale;
                p.vScales[at] = vScale;
            }
        }
    }
    for (int d = threadIdx.x; d < max(p.d, p.dv); d += blockDim.x) {
        const bool isK = d < p.d, isV = d < p.dv;
        if (SRC == DST) {
            constexpr int B = Elem<DST>::bytes;
            for (int x = 0; x < B; ++x) {
                if (isK) p.kCache[(p.kOffset + rel + d) * B + x] = p.k[(ks + d) * B + x];
                if (isV) p.vCache[(p.vOffset + relV + d) * B + x] = p.v[(vs + d) * B + x];
            }
        } else if (DST == F32) {  // one rounding, straight from the double quotient
            if (isK) storeElem<DST>(p.kCache, p.kOffset + rel + d, quotientToF32(loadElemExact<SRC>(p.k, ks + d), kScale));
            if (isV) storeElem<DST>(p.vCache, p.vOffset + relV + d, quotientToF32(loadElemExact<SRC>(p.v, vs + d), vScale));
        } else {
            if (isK) {
                storeElem<DST>(p.kCache, p.kOffset + rel + d, quotientRoundedToOdd(loadElemExact<SRC>(p.k, ks + d), kScale));
            }
            if (isV) {
                storeElem<DST>(p.vCache, p.vOffset + relV + d,
                               quotientRoundedToOdd(loadElemExact<SRC>(p.v, vs + d), vScale));
            }
        }
    }
}

// x [n, heads, D] (a view: row t, head h at t * tok + h * head) rotated in place, row t at
// positions[t]; one block per (row, head), a thread per pair of the first R dims (the rotary dim),
// so dims from R on are never touched. A negative position (possible only when the positions are
// device-resident) is skipped and recorded.
template <int QT>
__device__ __forceinline__ void ropeBody(void* x, long long tok, long long headStride, const int* positions,
                                         const double* freq, int* fault, int heads, int R, int interleaved) {
    const long long rh = blockIdx.x;
    const int t = (int) (rh / heads), h = (int) (rh % heads), half = R / 2;
    const int pos = positions[t];
    if (pos < 0) {
        if (threadIdx.x == 0 && h == 0) reportFault(fault, FAULT_POSITION, t, pos);
        return;
    }
    const long long base = (long long) t * tok + (long long) h * headStride;
    for (int pi = threadIdx.x; pi < half; pi += blockDim.x) {
        int a = interleaved ? 2 * pi : pi, b = interleaved ? 2 * pi + 1 : pi + half;
        float xa = loadElem<QT>(x, base + a), xb = loadElem<QT>(x, base + b), c, s;
        ropeCosSin(freq, pi, pos, c, s);
        storeElem<QT>(x, base + a, xa * c - xb * s);
        storeElem<QT>(x, base + b, xb * c + xa * s);
    }
}

// check_page_table: copies a device page table into a plan's arrays, checking every value on the
// way. A request whose page range, last page length, length bound or any page id is out of range
// is recorded in fault (its first bad page id, as a serial check would find) and becomes empty.
// One block: a warp per request checks its page ids with coalesced loads (a serial loop over a
// 4096-token request's 256 ids cost more than the decode it guards), one block-wide scan packs
// the valid requests' counts into indptrOut, and a warp per request copies its ids.
constexpr int TABLE_THREADS = 1024;
constexpr int TABLE_WARPS = TABLE_THREADS / 32;

__device__ __forceinline__ void checkPageTableBody(const int* indptr, const int* indices, const int* lastPageLen,
                                                   int* indptrOut, int* indicesOut, int* lastOut, int* fault,
                                                   int batch, int capacity, int pageSize, int maxKvLen,
                                                   int numPages) {
    __shared__ int sums[TABLE_THREADS];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    // 1. Each request's count of pages if it is valid, else 0, into indptrOut[b + 1].
    for (int b = warp; b < batch; b += TABLE_WARPS) {
        const int start = indptr[b], end = indptr[b + 1];
        const int n = end - start;
        bool ok = start >= 0 && n >= 0 && end <= capacity;
        if (!ok) {
            if (lane == 0) reportFault(fault, FAULT_PAGE_RANGE, b, start);
        } else if (n > 0) {
            const int last = lastPageLen[b];
            const long long len = (long long) (n - 1) * pageSize + last;
            if (last < 1 || last > pageSize || len > maxKvLen) {
                if (lane == 0) {
                    reportFault(fault, FAULT_LENGTH, b, last < 1 || last > pageSize ? last : (int) min(len, 2147483647LL));
                }
                ok = false;
            } else {
                int firstBad = 2147483647;
                for (int i = start + lane; i < end; i += 32) {
                    const int page = indices[i];
                    if (page < 0 || page >= numPages) {
                        firstBad = i;
                        break;
                    }
                }
                firstBad = __reduce_min_sync(0xFFFFFFFFu, firstBad);
                if (firstBad != 2147483647) {
                    if (lane == 0) reportFault(fault, FAULT_PAGE_ID, firstBad, indices[firstBad]);
                    ok = false;
                }
            }
        }
        if (lane == 0) {
            indptrOut[b + 1] = ok ? n : 0;
            lastOut[b] = ok && n > 0 ? lastPageLen[b] : 0;
        }
    }
    __syncthreads();
    // 2. Counts to offsets: an inclusive scan in chunks of TABLE_THREADS requests.
    int carry = 0;
    if (tid == 0) indptrOut[0] = 0;
    for (int b0 = 0; b0 < batch; b0 += TABLE_THREADS) {
        const int b = b0 + tid;
        const int n = b < batch ? indptrOut[b + 1] : 0;
        sums[tid] = n;
        __syncthreads();
        for (int o = 1; o < TABLE_THREADS; o <<= 1) {
            const int add = tid >= o ? sums[tid - o] : 0;
            __syncthreads();
            sums[tid] += add;
            __syncthreads();
        }
        if (b < batch) indptrOut[b + 1] = carry + sums[tid];
        carry += sums[TABLE_THREADS - 1];
        __syncthreads();
    }
    // 3. The valid requests' page ids, packed.
    for (int b = warp; b < batch; b += TABLE_WARPS) {
        const int to = indptrOut[b], n = indptrOut[b + 1] - to, from = indptr[b];
        for (int i = lane; i < n; i += 32) indicesOut[to + i] = indices[from + i];
    }
}

}  // namespace attn4j
