package org.attn4j.cuda.driver;

import java.util.List;

/**
 * The few CUDA driver API calls the backend makes, so that a binding other than JCuda (the JDK's
 * foreign function API, say) can replace it. Every failure is a {@link CudaException} naming
 * the call and its {@code CUresult}. Implementations are safe for concurrent use.
 */
public interface CudaDriver {
    /** Loads the binding's native library and initialises the driver; throws when either is missing. */
    void init();

    /**
     * The driver's CUDA version, e.g. 13000 for 13.0.
     *
     * @return the version
     */
    int driverVersion();

    /**
     * Every device the driver sees.
     *
     * @return the devices, by ordinal
     */
    List<DeviceInfo> devices();

    /**
     * Retains the device's primary context and makes it current on this thread; a new stream.
     *
     * @param ordinal the device
     * @return the context, closed by the caller
     */
    default DeviceContext open(int ordinal) {
        return open(ordinal, 0);
    }

    /**
     * As {@link #open(int)}, queuing on the caller's stream (a {@code CUstream} of the device's
     * primary context) when {@code streamHandle} is not 0; the caller keeps it alive.
     *
     * @param ordinal      the device
     * @param streamHandle the caller's stream, or 0 for a new one
     * @return the context, closed by the caller
     */
    DeviceContext open(int ordinal, long streamHandle);

    /**
     * The binding in use by default: JCuda.
     *
     * @return a new JCuda binding
     */
    static CudaDriver jcuda() {
        return new JCudaDriver();
    }
}
