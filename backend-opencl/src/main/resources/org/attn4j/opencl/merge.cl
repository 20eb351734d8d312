// Attention-state merges (spec §4) in natural-log LSE. One work-item per (row, head) walks the
// head dim, so merging in place never races. OT is the output's type code. Each buffer comes
// with the element offset of its tensor. A state of weight zero (lse -inf) adds nothing, whatever
// its o holds; a NaN lse makes its rows NaN. Launches are 1-D with a fixed work-group size
// (padded, hence count), so a runtime that specialises kernels per work-group size builds each once.
#pragma OPENCL FP_CONTRACT OFF

__kernel void merge_pair(__global const STORAGE(OT)* oA, long oAOff, __global const float* sA, long sAOff,
                         __global const STORAGE(OT)* oB, long oBOff, __global const float* sB, long sBOff,
                         __global STORAGE(OT)* o, long oOff, __global float* s, long sOff,
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
    const float a = sA[sAOff + st];
    const float b = sB[sBOff + st];
    const float m = max_nan(a, b);
    if (m == -INFINITY) {
        for (int d = 0; d < headDim; d++) {
            STORE(OT, o, oOff + base + d, 0.0f);
        }
        s[sOff + st] = -INFINITY;
        return;
    }
    const float wa = exp(a - m);
    const float wb = exp(b - m);
    const float w = wa + wb;
    for (int d = 0; d < headDim; d++) {
        float x = 0.0f;
        if (wa != 0.0f) {
            x = wa * LOAD(OT, oA, oAOff + base + d);
        }
        if (wb != 0.0f) {
            x += wb * LOAD(OT, oB, oBOff + base + d);
        }
        STORE(OT, o, oOff + base + d, x / w);
    }
    s[sOff + st] = m + log(w);
}

// v [rows, n, Hq, D], s [rows, n, Hq] -> o [rows, Hq, D], sOut [rows, Hq].
__kernel void merge_many(__global const STORAGE(OT)* v, long vOff, __global const float* s, long sOff,
                         __global STORAGE(OT)* o, long oOff, __global float* sOut, long sOutOff,
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
        m = max_nan(m, s[sOff + ((long) r * n + c) * hq + h]);
    }
    if (m == -INFINITY) {
        for (int d = 0; d < headDim; d++) {
            STORE(OT, o, oOff + out * headDim + d, 0.0f);
        }
        sOut[sOutOff + out] = -INFINITY;
        return;
    }
    float w = 0.0f;
    for (int c = 0; c < n; c++) {
        w += exp(s[sOff + ((long) r * n + c) * hq + h] - m);
    }
    for (int d = 0; d < headDim; d++) {
        float x = 0.0f;
        for (int c = 0; c < n; c++) {
            long st = ((long) r * n + c) * hq + h;
            float wc = exp(s[sOff + st] - m);
            if (wc != 0.0f) {
                x += wc * LOAD(OT, v, vOff + st * headDim + d);
            }
        }
        STORE(OT, o, oOff + out * headDim + d, x / w);
    }
    sOut[sOutOff + out] = m + log(w);
}
