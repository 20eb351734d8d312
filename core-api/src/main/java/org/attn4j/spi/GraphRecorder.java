package org.attn4j.spi;

/**
 * A capture in progress ({@link BackendSession#beginCapture}). Not thread-safe: the capturing
 * thread ends or aborts it.
 */
public interface GraphRecorder {
    /**
     * Ends the capture and instantiates what was recorded.
     *
     * @return the graph, to launch and close
     */
    KernelGraph end();

    /** Ends the capture and discards it (after a failure inside the captured code). */
    void abort();
}
