package org.attn4j.spi;

import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.Tensor;

/**
 * A backend's schedule for one {@link AttentionProblem}, made on the host once and run many times
 * (every layer, every step of the same structure). Arguments of {@link #run} are validated.
 *
 * <p>Implementations must take concurrent runs (the front door forwards them from any thread);
 * {@link #close()} is called once, after the runs in flight.
 */
public interface KernelPlan extends AutoCloseable {
    /**
     * Queues the attention of every query row; only launches.
     *
     * @param q   {@code [totalQ, Hq, D]}
     * @param kv  the pages the problem's page table points into
     * @param o   {@code [totalQ, Hq, D]}, q's dtype
     * @param lse {@code [totalQ, Hq]} F32, or null
     */
    void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse);

    /**
     * Device scratch memory the plan holds, in bytes.
     *
     * @return the bytes
     */
    default long workspaceBytes() {
        return 0;
    }

    /**
     * Human-readable schedule summary (splits, tiles), for logs and benchmarks.
     *
     * @return the summary
     */
    default String describe() {
        return getClass().getSimpleName();
    }

    /** Frees the plan's device memory, after the work queued on it. */
    @Override
    default void close() {}
}
