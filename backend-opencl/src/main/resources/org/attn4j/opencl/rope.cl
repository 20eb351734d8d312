// Standalone RoPE (spec §3), in place on x [n, heads, D]: row t rotated by the angles of its
// position, given as (cos, sin) per (row, pair) computed on the host in double. One work-item
// per (row, head, pair), count of them.
__kernel void rope_inplace(__global STORAGE(T)* x, __global const float2* cs,
                           int heads, int headDim, int interleaved, int count) {
    const int g = get_global_id(0);
    const int halfDim = headDim >> 1;
    if (g >= count) {
        return;
    }
    const int p = g % halfDim;
    const int h = (g / halfDim) % heads;
    const int t = g / halfDim / heads;
    const long base = ((long) t * heads + h) * headDim;
    const int i1 = interleaved ? 2 * p : p;
    const int i2 = interleaved ? 2 * p + 1 : p + halfDim;
    const float2 a = cs[(long) t * halfDim + p];
    const float x1 = LOAD(T, x, base + i1);
    const float x2 = LOAD(T, x, base + i2);
    STORE(T, x, base + i1, x1 * a.x - x2 * a.y);
    STORE(T, x, base + i2, x2 * a.x + x1 * a.y);
}
