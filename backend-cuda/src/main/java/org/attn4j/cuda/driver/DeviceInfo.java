package org.attn4j.cuda.driver;

/**
 * What the backend needs to know of a device. Immutable and thread-safe.
 *
 * @param ordinal               device index
 * @param name                  marketing name
 * @param major                 compute capability major
 * @param minor                 compute capability minor
 * @param multiprocessors       SM count, for sizing split-KV grids
 * @param totalMemory           bytes
 * @param maxSharedPerBlockOptin largest dynamic shared memory a block may opt into
 */
public record DeviceInfo(int ordinal, String name, int major, int minor, int multiprocessors, long totalMemory,
                         int maxSharedPerBlockOptin) {
    /**
     * The compute capability as one number.
     *
     * @return {@code major * 10 + minor}, e.g. 90
     */
    public int computeCapability() {
        return major * 10 + minor;
    }

    /**
     * The device in words.
     *
     * @return name, architecture, multiprocessors and memory
     */
    public String describe() {
        return name + " (sm_" + major + minor + ", " + multiprocessors + " SMs, " + (totalMemory >> 20) + " MiB)";
    }
}
