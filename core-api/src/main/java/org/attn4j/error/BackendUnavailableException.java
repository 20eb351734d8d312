package org.attn4j.error;

/**
 * A backend was asked for by id or selection but cannot run here; the message lists the reasons.
 *
 * <p>Immutable and thread-safe once thrown.
 */
public class BackendUnavailableException extends RuntimeException {
    /**
     * A backend that cannot run here.
     *
     * @param message which backend, and every reason it is unavailable
     */
    public BackendUnavailableException(String message) {
        super(message);
    }
}
