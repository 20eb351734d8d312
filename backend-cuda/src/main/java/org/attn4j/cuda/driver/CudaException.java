package org.attn4j.cuda.driver;

import org.attn4j.error.BackendException;

/**
 * A failed driver call: {@code CUDA_ERROR_OUT_OF_MEMORY in cuMemAlloc(1073741824 bytes)}.
 * Immutable and thread-safe once thrown.
 */
public final class CudaException extends BackendException {
    /**
     * The {@code CUresult} value.
     */
    private final int code;

    /**
     * A failed call.
     *
     * @param errorName the {@code CUresult}'s name
     * @param code      the {@code CUresult} value
     * @param call      the call and its arguments
     */
    public CudaException(String errorName, int code, String call) {
        super("cuda", errorName + " in " + call);
        this.code = code;
    }

    /**
     * The {@code CUresult} value.
     *
     * @return the code
     */
    public int code() {
        return code;
    }
}
