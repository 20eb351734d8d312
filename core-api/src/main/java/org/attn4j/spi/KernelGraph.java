package org.attn4j.spi;

/**
 * Recorded device work, launched again as a whole on the session's stream. Implementations must
 * take concurrent launches; {@link #close()} is called once, after the launches in flight.
 */
public interface KernelGraph extends AutoCloseable {
    /** Queues one replay; returns without waiting. */
    void launch();

    /** Frees the graph, after the replays queued from it. */
    @Override
    void close();
}
