package org.attn4j.error;

/**
 * A failure inside a backend after validation passed: a device error, named with the backend
 * call and its error code ({@code CUDA_ERROR_OUT_OF_MEMORY in cuMemAlloc(1073741824 bytes)}).
 */
public class BackendException extends RuntimeException {
    private final String backendId;

    public BackendException(String backendId, String message) {
        super(backendId + ": " + message);
        this.backendId = backendId;
    }

    public BackendException(String backendId, String message, Throwable cause) {
        super(backendId + ": " + message, cause);
        this.backendId = backendId;
    }

    public String backendId() {
        return backendId;
    }
}
