package org.attn4j.conformance.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Every property's report for one backend, printed at the end of its run and written under
 * {@code target/} (or {@code -Dattn4j.reportDir}).
 *
 * <p>Set {@link #device} or {@link #unavailable} on one thread before any property runs; the
 * rest may be called from any thread.
 */
public final class Summary {
    private final String backendId;
    private final Settings settings;
    private final List<PropertyReport> reports = new ArrayList<>();
    private String device = "?";
    private String unavailable;

    /**
     * An empty summary.
     *
     * @param backendId names the backend in the text and the file names
     * @param settings  the seed and number of cases the text reports
     */
    public Summary(String backendId, Settings settings) {
        this.backendId = backendId;
        this.settings = settings;
    }

    private List<String> order = List.of();

    /**
     * The order reports are listed in (declaration order of the properties); others come last.
     *
     * @param keys property keys (copied)
     */
    public synchronized void order(List<String> keys) {
        order = List.copyOf(keys);
    }

    /**
     * The device the backend runs on, for the first line.
     *
     * @param d the backend's device description
     */
    public void device(String d) {
        device = d;
    }

    /**
     * Marks the backend unavailable: the text then says why, and lists no properties.
     *
     * @param reasons why every property was skipped
     */
    public void unavailable(String reasons) {
        unavailable = reasons;
    }

    synchronized PropertyReport start(String key, String description) {
        PropertyReport r = new PropertyReport(key, description);
        reports.add(r);
        return r;
    }

    /**
     * The reports so far, in the order their properties started.
     *
     * @return a copy of the list; the reports themselves are live
     */
    public synchronized List<PropertyReport> reports() {
        return List.copyOf(reports);
    }

    private synchronized List<PropertyReport> inOrder() {
        List<PropertyReport> sorted = new ArrayList<>(reports);
        sorted.sort(java.util.Comparator.comparingInt(r -> order.indexOf(r.key()) < 0 ? Integer.MAX_VALUE
                : order.indexOf(r.key())));
        return sorted;
    }

    /**
     * The summary as text: the backend and device, the seed and how to rerun it, then one line
     * per property (status, cases passed and skipped, time) with its skip reasons and failure,
     * and the totals.
     *
     * @return lines ending in a line separator
     */
    public synchronized String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("attn4j conformance: backend '").append(backendId).append('\'');
        // An unavailable backend has no device: its first line says why it was skipped instead.
        sb.append(unavailable != null ? " skipped, every property: " + unavailable : " on " + device).append('\n');
        sb.append("seed ").append(settings.seedText()).append(settings.seedGiven() ? " (given)" : " (fresh)")
                .append(", ").append(settings.cases()).append(" random cases per property after the edge cases")
                .append("; rerun with -Dattn4j.seed=").append(settings.seedText()).append('\n');
        if (unavailable != null) {
            return sb.toString();
        }
        int passedCases = 0;
        int skippedCases = 0;
        int failed = 0;
        int skippedProps = 0;
        int passedProps = 0;
        for (PropertyReport r : inOrder()) {
            passedCases += r.passed();
            skippedCases += r.skipped();
            failed += r.status() == PropertyReport.Status.FAILED ? 1 : 0;
            skippedProps += r.status() == PropertyReport.Status.SKIPPED ? 1 : 0;
            passedProps += r.status() == PropertyReport.Status.PASSED ? 1 : 0;
            sb.append(String.format("%-7s %-44s %5d passed %5d skipped %7.1f s%n", r.status(), r.key(), r.passed(),
                    r.skipped(), r.millis() / 1000.0));
            if (r.skipped() > 0) {
                sb.append("        skips: ").append(r.skipText()).append('\n');
            }
            if (r.failure() != null) {
                sb.append("        ").append(r.failure().replace("\n", "\n        ")).append('\n');
            }
        }
        int running = reports.size() - passedProps - failed - skippedProps;
        sb.append(String.format("%d properties: %d passed, %d failed, %d skipped%s; %d cases checked, %d skipped%n",
                reports.size(), passedProps, failed, skippedProps, running > 0 ? ", " + running + " unfinished" : "",
                passedCases, skippedCases));
        return sb.toString();
    }

    /**
     * Prints the summary and writes it to {@code target/conformance-<backend>.txt}, and every case
     * checked (property, case id, outcome, the case) to {@code target/conformance-<backend>-cases.txt}.
     *
     * @return the summary's file
     */
    public Path publish() {
        System.out.println(render());
        return write();
    }

    /**
     * Writes the summary so far (after every property, so a run cut short still leaves one). A
     * file that cannot be written is logged as a warning, not thrown.
     *
     * @return the summary's file
     */
    public Path write() {
        String text = render();
        Path dir = Path.of(System.getProperty("attn4j.reportDir", "target"));
        Path file = dir.resolve("conformance-" + backendId + ".txt");
        List<String> cases = new ArrayList<>();
        for (PropertyReport r : inOrder()) {
            cases.addAll(r.caseLines());
        }
        try {
            Files.createDirectories(dir);
            Files.writeString(file, text);
            Files.write(dir.resolve("conformance-" + backendId + "-cases.txt"), cases);
        } catch (IOException e) {
            System.getLogger(Summary.class.getName()).log(System.Logger.Level.WARNING,
                    "could not write " + file + ": " + e);
        }
        return file;
    }
}
