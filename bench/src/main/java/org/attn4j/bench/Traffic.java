package org.attn4j.bench;

/**
 * What a workload must move and compute, counted from its page tables and masks: bytes of the
 * K and V tokens read (slots past a request's length are not counted; a cascade's shared prefix
 * once), q read and o written; FLOPs as {@code 4 * Hq * D * allowed (row, key) pairs}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param bytes        bytes one run reads and writes: K, V, q and o
 * @param flops        floating-point operations of one run
 * @param allowedPairs (query row, key) pairs the mask allows, over all requests
 */
public record Traffic(long bytes, double flops, long allowedPairs) {

    /**
     * Counts what one run of a workload moves and computes.
     *
     * @param w the workload, with the lengths it runs at
     * @return its traffic
     */
    public static Traffic of(Workload w) {
        int hq = w.heads().numQoHeads();
        int hkv = w.heads().numKvHeads();
        int dqk = w.heads().headDimQk();
        int dvo = w.heads().headDimVo();
        long kvTokenBytes = (long) hkv * (dqk + dvo) * w.kvDtype().byteSize(); // K and V of one token
        long qoBytes = (long) w.totalQ() * hq
                * ((long) dqk * w.qDtype().byteSize() + (long) dvo * w.outputDtype().byteSize());
        long kvBytes = w.storedKvTokens() * kvTokenBytes;
        long pairs = 0;
        for (int b = 0; b < w.batch(); b++) {
            pairs += allowedPairs(w.qoLens()[b], w.kvLen(b), w.causal());
        }
        return new Traffic(kvBytes + qoBytes, 2.0 * hq * (dqk + dvo) * pairs, pairs); // q.k and p.v
    }

    /** Pairs (i, j) with j allowed for row i: all, or with causal {@code j <= i + kvLen - qoLen}. */
    static long allowedPairs(int qoLen, int kvLen, boolean causal) {
        if (!causal) {
            return (long) qoLen * kvLen;
        }
        long sum = 0;
        for (int i = 0; i < qoLen; i++) {
            long pq = (long) i + kvLen - qoLen;
            sum += Math.max(0, Math.min(kvLen, pq + 1));
        }
        return sum;
    }
}
