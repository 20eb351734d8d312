package org.attn4j.spi;

import org.attn4j.kv.PageTable;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.tensor.DType;

/**
 * A validated batch of multi-head latent attention over a paged latent cache (spec §13), what a
 * backend with {@link Feature#MLA} plans and runs. Decode and prefill reduce to this; everything
 * a backend needs to choose its kernels is here, so {@link MlaKernelPlan#run} only launches.
 *
 * <p>Immutable (arrays are copied in and out) and thread-safe.
 *
 * @param heads         query heads and the latent and rotary dims
 * @param qoIndptr      request {@code b} owns query rows {@code qoIndptr[b] .. qoIndptr[b+1])}
 * @param pageTable     request {@code b}'s keys
 * @param causal        whether row {@code i} sees only keys {@code j <= pq} (spec §3's positions)
 * @param smScale       the logit scale, finite and {@code > 0}; given by the caller (spec §13)
 * @param decode        every request has exactly one query row
 * @param deterministic results bitwise independent of the rest of the batch
 * @param qDtype        dtype of qNope, qPe and o in every run
 * @param kvDtype       dtype of the latent cache in every run
 */
public record MlaProblem(MlaHeadConfig heads, int[] qoIndptr, PageTable pageTable, boolean causal, float smScale,
                         boolean decode, boolean deterministic, DType qDtype, DType kvDtype) {
    /** Copies the indptr. */
    public MlaProblem {
        qoIndptr = qoIndptr.clone();
    }

    /**
     * Each request's first query row, and one past the last.
     *
     * @return a copy
     */
    @Override
    public int[] qoIndptr() {
        return qoIndptr.clone();
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return qoIndptr.length - 1;
    }

    /**
     * First query row of request {@code b}.
     *
     * @param b a request
     * @return the row
     */
    public int qoStart(int b) {
        return qoIndptr[b];
    }

    /**
     * Query rows of request {@code b}.
     *
     * @param b a request
     * @return its rows
     */
    public int qoLen(int b) {
        return qoIndptr[b + 1] - qoIndptr[b];
    }

    /**
     * Query rows of all requests.
     *
     * @return the rows of qNope, qPe and o
     */
    public int totalQ() {
        return qoIndptr[qoIndptr.length - 1];
    }

    /**
     * This problem for other run dtypes (plans made at first run).
     *
     * @param q  the dtype of qNope, qPe and o
     * @param kv the cache's dtype
     * @return the problem
     */
    public MlaProblem withRunTypes(DType q, DType kv) {
        return new MlaProblem(heads, qoIndptr, pageTable, causal, smScale, decode, deterministic, q, kv);
    }
}
