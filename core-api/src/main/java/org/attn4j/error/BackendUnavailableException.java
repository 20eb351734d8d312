package org.attn4j.error;

/** A backend was asked for by id or selection but cannot run here; the message lists the reasons. */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) {
        super(message);
    }
}
