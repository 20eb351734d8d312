package org.attn4j.spi;

/** Recorded device work, launched again as a whole on the session's stream. */
public interface KernelGraph extends AutoCloseable {
    /** Queues one replay; returns without waiting. */
    void launch();

    @Override
    void close();
}
