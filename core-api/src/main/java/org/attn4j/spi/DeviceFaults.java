package org.attn4j.spi;

/**
 * The faults a backend's kernels record when a device-resident value (a page table, positions,
 * batch indices the host never saw) is out of range: the kernel skips what the value would have
 * touched and keeps the first fault as {@code (code, index, value)} until the host reads it at
 * the next synchronize or download. The codes are shared by every backend's kernels. Stateless and
 * thread-safe.
 */
public final class DeviceFaults {
    /** A token's batch index names no request; index: the token. */
    public static final int BATCH_INDEX = 1;
    /** A token's position is outside its request's keys; index: the token. */
    public static final int POSITION = 2;
    /** A request's page range is not inside the indices; index: the request. */
    public static final int PAGE_RANGE = 3;
    /** A page id is not a page of the cache; index: its place in the indices. */
    public static final int PAGE_ID = 4;
    /** A request's last page length or length is out of range; index: the request. */
    public static final int LENGTH = 5;

    private DeviceFaults() {}

    /**
     * The fault in words, for the exception that reports it.
     *
     * @param code  one of the codes above
     * @param index the token or request it concerns
     * @param value the value that was out of range
     * @return the description
     */
    public static String describe(int code, int index, int value) {
        String what = switch (code) {
            case BATCH_INDEX -> "batchIndices[" + index + "] = " + value + " names no request of the page table";
            case POSITION -> "positions[" + index + "] = " + value + " is outside its request's keys";
            case PAGE_RANGE -> "the page range of request " + index + " (pageTable.indptr = " + value
                    + ") is not inside pageTable.indices";
            case PAGE_ID -> "pageTable.indices[" + index + "] = " + value + " is not a page of the cache";
            case LENGTH -> "request " + index + " has a last page length or a length (" + value
                    + ") outside the page size or the table's maxKvLen";
            default -> "fault code " + code + " at " + index + " (value " + value + ")";
        };
        return "a device-resident value was out of range (the work that read it skipped it): " + what;
    }
}
