package org.attn4j.spi;

/** A capture in progress ({@link BackendSession#beginCapture}). */
public interface GraphRecorder {
    /** Ends the capture and instantiates what was recorded. */
    KernelGraph end();

    /** Ends the capture and discards it (after a failure inside the captured code). */
    void abort();
}
