// Standalone RoPE (spec §3), in place on x [n, heads, D], a view: element (t, h, d) at
// off + t * tok + h * head + d. Row t is rotated to positions[t]; one work-item per
// (row, head, pair) of the first rotaryDim dims, count of them; dims from rotaryDim on are
// never touched. A negative position is skipped and recorded in fault.
//
// Angles without double precision: the position is split into an exact high part (low 12 bits
// cleared) and a low part, each product with the frequency's float hi + lo pair is carried as an
// exact rounded value plus its fma-recovered error, the rounded values are reduced by 2 pi held
// as a float pair, and only the reduced angle, within a few pi, goes to sin and cos. The angle
// stays within a few 1e-6 rad at any int position, where one float product would lose up to 1e2.
#define TWO_PI_HI 6.28318548202514648f
#define TWO_PI_LO (-1.7484555e-7f)

// x reduced by the multiple of 2 pi nearest to it (x exact, at most 2^31 in magnitude).
inline float reduce_two_pi(float x) {
    float k = rint(x / TWO_PI_HI);
    float r = fma(-k, TWO_PI_HI, x);
    return fma(-k, TWO_PI_LO, r);
}

inline float reduced_angle(int pos, float2 freq) {
    float ph = (float) (pos & ~0xFFF);  // at most 19 significant bits: exact
    float pl = (float) (pos & 0xFFF);
    float h1 = ph * freq.x;
    float e1 = fma(ph, freq.x, -h1);    // exact rounding error of ph * hi
    float h2 = pl * freq.x;
    float e2 = fma(pl, freq.x, -h2);
    float lo = e1 + e2 + (ph + pl) * freq.y;
    return reduce_two_pi(h1) + reduce_two_pi(h2) + lo;
}

__kernel void rope_inplace(__global STORAGE(T)* x, long off, long tok, long head,
                           __global const int* positions, __global const float2* freq,
                           __global int* fault, int heads, int rotaryDim, int interleaved, int count) {
    const int g = get_global_id(0);
    const int halfDim = rotaryDim >> 1;
    if (g >= count) {
        return;
    }
    const int p = g % halfDim;
    const int h = (g / halfDim) % heads;
    const int t = g / halfDim / heads;
    const int pos = positions[t];
    if (pos < 0) {
        if (p == 0 && h == 0) {
            report_fault(fault, FAULT_POSITION, t, pos);
        }
        return;
    }
    const long base = off + (long) t * tok + (long) h * head;
    const int i1 = interleaved ? 2 * p : p;
    const int i2 = interleaved ? 2 * p + 1 : p + halfDim;
    const float a = reduced_angle(pos, freq[p]);
    const float c = cos(a);
    const float s = sin(a);
    const float x1 = LOAD(T, x, base + i1);
    const float x2 = LOAD(T, x, base + i2);
    STORE(T, x, base + i1, x1 * c - x2 * s);
    STORE(T, x, base + i2, x2 * c + x1 * s);
}
