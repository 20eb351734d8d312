// Multi-head latent attention (spec §13): one work-item per (query row, head), keys
// [ckv ; kpe] and values ckv read from the same cache bytes, an online softmax in float. QT and
// CT: type codes of q/o and of the cache; DC and DP: dCkv and dKpe (a program per pair).
//
// qNope, qPe and o are views: element (row, h, d) at off + row * tok + h * head + d. The pools are
// [numPages, pageSize, D] with a page stride; request b's key j lives in page
// kvIndices[kvIndptr[b] + j / pageSize], slot j % pageSize.

__kernel void mla_attend(__global const STORAGE(QT)* qn, long qnOff, long qnTok, long qnHead,
                         __global const STORAGE(QT)* qp, long qpOff, long qpTok, long qpHead,
                         __global const STORAGE(CT)* ckv, long ckvOff, long ckvPage,
                         __global const STORAGE(CT)* kpe, long kpeOff, long kpePage,
                         __global STORAGE(QT)* o, long oOff, long oTok, long oHead,
                         __global float* lse, long lseOff, int hasLse,
                         __global const int* rowRequest, __global const int* qoIndptr,
                         __global const int* kvIndptr, __global const int* kvIndices, __global const int* kvLens,
                         int heads, int pageSize, int causal, float smScale, float ckvScale, float kpeScale,
                         int total) {
    int gid = get_global_id(0);
    if (gid >= total) {
        return;
    }
    int row = gid / heads;
    int h = gid - row * heads;
    int b = rowRequest[row];
    int qoLen = qoIndptr[b + 1] - qoIndptr[b];
    int kvLen = kvLens[b];
    long pq = (long) (row - qoIndptr[b]) + kvLen - qoLen;
    int allowed = causal ? (int) clamp(pq + 1, 0L, (long) kvLen) : kvLen;
    float qv[DC];
    float qr[DP];
    float acc[DC];
    long qnAt = qnOff + row * qnTok + h * qnHead;
    long qpAt = qpOff + row * qpTok + h * qpHead;
    // The scales fold into the query: smScale * (q . (s * k)) = (smScale * s * q) . k.
    for (int d = 0; d < DC; d++) {
        qv[d] = LOAD(QT, qn, qnAt + d) * (smScale * ckvScale);
        acc[d] = 0.0f;
    }
    for (int d = 0; d < DP; d++) {
        qr[d] = LOAD(QT, qp, qpAt + d) * (smScale * kpeScale);
    }
    float m = -INFINITY;
    float l = 0.0f;
    int first = kvIndptr[b];
    for (int j = 0; j < allowed; j++) {
        int page = kvIndices[first + j / pageSize];
        int slot = j % pageSize;
        long c = ckvOff + page * ckvPage + (long) slot * DC;
        long p = kpeOff + page * kpePage + (long) slot * DP;
        float x = 0.0f;
        for (int d = 0; d < DC; d++) {
            x = fma(qv[d], LOAD(CT, ckv, c + d), x);
        }
        for (int d = 0; d < DP; d++) {
            x = fma(qr[d], LOAD(CT, kpe, p + d), x);
        }
        if (x == -INFINITY) {
            continue; // weighs nothing, like a masked key
        }
        if (x > m) {
            float corr = exp(m - x);
            l *= corr;
            for (int d = 0; d < DC; d++) {
                acc[d] *= corr;
            }
            m = x;
        }
        float w = exp(x - m);
        l += w;
        // The value is ckv: the same bytes the key's first DC elements came from.
        for (int d = 0; d < DC; d++) {
            acc[d] = fma(w, LOAD(CT, ckv, c + d), acc[d]);
        }
    }
    long oAt = oOff + row * oTok + h * oHead;
    bool empty = l == 0.0f && !isnan(m) && !isnan(l);
    float inv = empty ? 0.0f : ckvScale / l;
    for (int d = 0; d < DC; d++) {
        STORE(QT, o, oAt + d, empty ? 0.0f : acc[d] * inv);
    }
    if (hasLse) {
        lse[lseOff + (long) row * heads + h] = empty ? -INFINITY : m + log(l);
    }
}
