package org.attn4j.conformance.harness;

import java.util.Map;
import java.util.TreeMap;

/** How one property fared on one backend: cases passed, skipped (by reason) and the failure, if any. */
public final class PropertyReport {
    /** Outcome of the whole property. */
    public enum Status { PASSED, FAILED, SKIPPED, RUNNING }

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

    public String key() {
        return key;
    }

    public String description() {
        return description;
    }

    public int passed() {
        return passed;
    }

    public int skipped() {
        return skips.values().stream().mapToInt(Integer::intValue).sum();
    }

    public Map<String, Integer> skipReasons() {
        return Map.copyOf(skips);
    }

    public Status status() {
        return status;
    }

    public String failure() {
        return failure;
    }

    public long millis() {
        return millis;
    }

    String skipText() {
        StringBuilder sb = new StringBuilder();
        skips.forEach((r, n) -> sb.append(sb.isEmpty() ? "" : "; ").append(n).append(" x ").append(r));
        return sb.toString();
    }
}
