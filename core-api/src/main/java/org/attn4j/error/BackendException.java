package org.attn4j.error;

/**
 * A failure inside a backend after validation passed: a device error, named with the backend
 * call and its error code ({@code CUDA_ERROR_OUT_OF_MEMORY in cuMemAlloc(1073741824 bytes)}).
 *
 * <p>Immutable and thread-safe once thrown.
 */
public class BackendException extends RuntimeException {
    /** The id of the backend that failed. */
    private final String backendId;

    /**
     * A failure of backend {@code backendId}.
     *
     * @param backendId the backend's id, which prefixes the message
     * @param message   what failed, naming the call and its error
     */
    public BackendException(String backendId, String message) {
        super(backendId + ": " + message);
        this.backendId = backendId;
    }

    /**
     * A failure of backend {@code backendId} caused by {@code cause}.
     *
     * @param backendId the backend's id, which prefixes the message
     * @param message   what failed, naming the call and its error
     * @param cause     the driver's or the JVM's exception
     */
    public BackendException(String backendId, String message, Throwable cause) {
        super(backendId + ": " + message, cause);
        this.backendId = backendId;
    }

    /**
     * The backend that failed.
     *
     * @return its id
     */
    public String backendId() {
        return backendId;
    }
}
