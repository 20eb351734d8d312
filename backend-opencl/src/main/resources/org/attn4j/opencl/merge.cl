// Attention-state merges (spec §4) in natural-log LSE. One work-item per (row, head) walks the
// head dim, so merging in place never races. OT is the output's type code. Launches are 1-D
// with a fixed work-group size (padded, hence count), so a runtime that specialises kernels
// per work-group size builds each once.
#pragma OPENCL FP_CONTRACT OFF

__kernel void merge_pair(__global const STORAGE(OT)* oA, __global const float* sA,
                         __global const STORAGE(OT)* oB, __global const float* sB,
                         __global STORAGE(OT)* o, __global float* s,
                         __global const uchar* rowMask, int useMask, int hq, int headDim, int count) {
    const int g = get_global_id(0);
    if (g >= count) {
        return;
    }
    const int h = g % hq;
    const int r = g / hq;
    if (useMask && rowMask[r] == 0) {
        return;
    }
    const long st = (long) r * hq + h;
    const long base = st * headDim;
    const float a = sA[st];
    const float b = sB[st];
    const float m = fmax(a, b);
    if (m == -INFINITY) {
        for (int d = 0; d < headDim; d++) {
            STORE(OT, o, base + d, 0.0f);
        }
        s[st] = -INFINITY;
        return;
    }
    const float wa = exp(a - m);
    const float wb = exp(b - m);
    const float w = wa + wb;
    for (int d = 0; d < headDim; d++) {
        float x = wa * LOAD(OT, oA, base + d) + wb * LOAD(OT, oB, base + d);
        STORE(OT, o, base + d, x / w);
    }
    s[st] = m + log(w);
}

// v [rows, n, Hq, D], s [rows, n, Hq] -> o [rows, Hq, D], sOut [rows, Hq].
__kernel void merge_many(__global const STORAGE(OT)* v, __global const float* s,
                         __global STORAGE(OT)* o, __global float* sOut,
                         int n, int hq, int headDim, int count) {
    const int g = get_global_id(0);
    if (g >= count) {
        return;
    }
    const int h = g % hq;
    const int r = g / hq;
    const long out = (long) r * hq + h;
    float m = -INFINITY;
    for (int c = 0; c < n; c++) {
        m = fmax(m, s[((long) r * n + c) * hq + h]);
    }
    if (m == -INFINITY) {
        for (int d = 0; d < headDim; d++) {
            STORE(OT, o, out * headDim + d, 0.0f);
        }
        sOut[out] = -INFINITY;
        return;
    }
    float w = 0.0f;
    for (int c = 0; c < n; c++) {
        w += exp(s[((long) r * n + c) * hq + h] - m);
    }
    for (int d = 0; d < headDim; d++) {
        float x = 0.0f;
        for (int c = 0; c < n; c++) {
            long st = ((long) r * n + c) * hq + h;
            x += exp(s[st] - m) * LOAD(OT, v, st * headDim + d);
        }
        STORE(OT, o, out * headDim + d, x / w);
    }
    sOut[out] = m + log(w);
}
