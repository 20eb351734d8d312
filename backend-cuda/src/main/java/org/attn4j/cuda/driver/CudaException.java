package org.attn4j.cuda.driver;

import org.attn4j.error.BackendException;

/** A failed driver call: {@code CUDA_ERROR_OUT_OF_MEMORY in cuMemAlloc(1073741824 bytes)}. */
public final class CudaException extends BackendException {
    private final int code;

    public CudaException(String errorName, int code, String call) {
        super("cuda", errorName + " in " + call);
        this.code = code;
    }

    /** The {@code CUresult} value. */
    public int code() {
        return code;
    }
}
