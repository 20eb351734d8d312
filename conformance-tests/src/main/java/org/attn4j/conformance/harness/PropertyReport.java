package org.attn4j.conformance.harness;

import java.util.Map;
import java.util.TreeMap;

/**
 * How one property fared on one backend: cases passed, skipped (by reason) and the failure, if any.
 *
 * <p>Not thread-safe: the thread that runs the property writes it, and readers use that thread
 * too (the suite runs its properties one at a time).
 */
public final class PropertyReport {
    /** Outcome of the whole property. */
    public enum Status {
        /** Every case that ran passed, and at least one ran. */
        PASSED,
        /** A case failed; {@link #failure()} says which and how. */
        FAILED,
        /** Every case was skipped. */
        SKIPPED,
        /** Not finished: still running, or cut short. */
        RUNNING
    }

    private final String key;
    private final String description;
    private final Map<String, Integer> skips = new TreeMap<>();
    private final java.util.List<String> caseLines = new java.util.ArrayList<>();
    private int passed;
    private Status status = Status.RUNNING;
    private String failure;
    private long millis;

    PropertyReport(String key, String description) {
        this.key = key;
        this.description = description;
    }

    void pass() {
        passed++;
    }

    void skip(String reason) {
        skips.merge(reason, 1, Integer::sum);
    }

    /** One line per case: id, outcome, description. */
    synchronized void caseLine(int index, String outcome, Object kase) {
        caseLines.add(String.format("%-40s #%-4d %-8s %s", key, index, outcome, kase));
    }

    synchronized java.util.List<String> caseLines() {
        return java.util.List.copyOf(caseLines);
    }

    void finish(Status s, String failureSummary, long elapsedMillis) {
        status = s;
        failure = failureSummary;
        millis = elapsedMillis;
    }

    /**
     * The property's key.
     *
     * @return {@link Property#key()}
     */
    public String key() {
        return key;
    }

    /**
     * What the property says.
     *
     * @return {@link Property#description()}
     */
    public String description() {
        return description;
    }

    /**
     * Cases that passed so far.
     *
     * @return the count
     */
    public int passed() {
        return passed;
    }

    /**
     * Cases skipped so far, for any reason.
     *
     * @return the count
     */
    public int skipped() {
        return skips.values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Cases skipped so far, by reason.
     *
     * @return a copy: count per reason
     */
    public Map<String, Integer> skipReasons() {
        return Map.copyOf(skips);
    }

    /**
     * The outcome.
     *
     * @return {@link Status#RUNNING} until the property finishes
     */
    public Status status() {
        return status;
    }

    /**
     * The failure: the case, its error, the shrunk case and a reproduction, over several lines.
     *
     * @return the text, or null unless {@link Status#FAILED}
     */
    public String failure() {
        return failure;
    }

    /**
     * Time the property took.
     *
     * @return milliseconds, 0 until it finishes
     */
    public long millis() {
        return millis;
    }

    String skipText() {
        StringBuilder sb = new StringBuilder();
        skips.forEach((r, n) -> sb.append(sb.isEmpty() ? "" : "; ").append(n).append(" x ").append(r));
        return sb.toString();
    }
}
