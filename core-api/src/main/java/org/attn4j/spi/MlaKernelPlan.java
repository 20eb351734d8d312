package org.attn4j.spi;

import org.attn4j.kv.PagedMlaCache;
import org.attn4j.tensor.Tensor;

/**
 * A backend's schedule for one {@link MlaProblem}, made on the host once and run many times.
 * Arguments of {@link #run} are validated by the front door.
 *
 * <p>Implementations must take concurrent runs; {@link #close()} is called once, after the runs
 * in flight.
 */
public interface MlaKernelPlan extends AutoCloseable {
    /**
     * Queues the latent attention of every query row; only launches.
     *
     * @param qNope {@code [totalQ, H, dCkv]}, a view with token and head strides allowed
     * @param qPe   {@code [totalQ, H, dKpe]}, qNope's dtype, a view likewise
     * @param cache the latent cache the problem's page table points into
     * @param o     {@code [totalQ, H, dCkv]}, qNope's dtype, a view likewise
     * @param lse   {@code [totalQ, H]} F32 contiguous, or null
     */
    void run(Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o, Tensor lse);

    /**
     * Human-readable schedule summary, for logs and benchmarks.
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
