// KV append (spec §5): token t of k, v [n, Hkv, D] goes to request batchIndices[t] at
// positions[t], located through the page table; one work-item per (token, head). Same type: a bit copy (BITS is the storage
// word); otherwise divide by the cache's scale and round once to the cache's type.
// ST, CT: type codes of the source and the cache; SAME_TYPE: 0/1.

#if SAME_TYPE
#define SRC_T BITS
#define DST_T BITS
#else
#define SRC_T STORAGE(ST)
#define DST_T STORAGE(CT)
#endif

__kernel void append_kv(__global const SRC_T* k, __global const SRC_T* v,
                        __global DST_T* kc, __global DST_T* vc,
                        long kOffset, long vOffset, long pageStride, long slotStride, long headStride,
                        __global const int* batchIndices, __global const int* positions,
                        __global const int* kvIndptr, __global const int* kvIndices,
                        int pageSize, int hkv, int headDim, float kScale, float vScale, int count) {
    const int g = get_global_id(0);
    if (g >= count) {
        return;
    }
    const int h = g % hkv;
    const int t = g / hkv;
    const int b = batchIndices[t];
    const int pos = positions[t];
    const int page = kvIndices[kvIndptr[b] + pos / pageSize];
    const long dst = (long) page * pageStride + (long) (pos % pageSize) * slotStride + (long) h * headStride;
    const long src = ((long) t * hkv + h) * headDim;
    for (int d = 0; d < headDim; d++) {
#if SAME_TYPE
        kc[kOffset + dst + d] = k[src + d];
        vc[vOffset + dst + d] = v[src + d];
#else
        float kx = LOAD(ST, k, src + d);
        float vx = LOAD(ST, v, src + d);
#if CT == 3
        kc[kOffset + dst + d] = quotient_to_e4m3(kx, kScale);
        vc[vOffset + dst + d] = quotient_to_e4m3(vx, vScale);
#elif CT == 4
        kc[kOffset + dst + d] = quotient_to_e5m2(kx, kScale);
        vc[vOffset + dst + d] = quotient_to_e5m2(vx, vScale);
#elif CT == 2
        kc[kOffset + dst + d] = quotient_to_bf16(kx, kScale);
        vc[vOffset + dst + d] = quotient_to_bf16(vx, vScale);
#elif CT == 1
        ((__global ushort*) kc)[kOffset + dst + d] = quotient_to_f16(kx, kScale);
        ((__global ushort*) vc)[vOffset + dst + d] = quotient_to_f16(vx, vScale);
#else
        kc[kOffset + dst + d] = kx / kScale;
        vc[vOffset + dst + d] = vx / vScale;
#endif
#endif
    }
}
