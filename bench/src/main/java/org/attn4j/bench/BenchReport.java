package org.attn4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes rows as a table, CSV ({@code bench.csv}), JSON ({@code bench.json}) and an SVG chart ({@code bench.svg}).
 *
 * <p>Stateless and thread-safe.
 */
public final class BenchReport {
    /** The CSV file's name: a header of {@link BenchRow#COLUMNS}, then one line per row. */
    public static final String CSV = "bench.csv";
    /** The JSON file's name: the run's metadata, the columns and the rows. */
    public static final String JSON = "bench.json";
    /** The chart's file name ({@link BenchChart}). */
    public static final String SVG = "bench.svg";
    /** How the files write a value that does not exist, for bench.json's readers. */
    public static final String NO_VALUE = "null in bench.json, an empty field in bench.csv";

    private static final String ROW = "%-44s %-10s %-8s %-34s %11s %21s %14s %7s  %s%n";

    private BenchReport() {}

    /**
     * Prints the table's header line.
     *
     * @param out where to print
     */
    public static void printHeader(PrintStream out) {
        out.printf(Locale.ROOT, ROW, "workload[q/kv dtype/layout] scale", "backend", "op", "lengths", "median us",
                "p10..p90 us", "rate", "% ceil", "check vs reference");
    }

    /**
     * Prints one row as a table line under {@link #printHeader}.
     *
     * @param out where to print
     * @param r   the row
     */
    public static void printRow(PrintStream out, BenchRow r) {
        out.printf(Locale.ROOT, ROW, r.workload(), r.backend(), r.op(), r.lengths(),
                String.format(Locale.ROOT, "%.1f", r.medianUs()),
                String.format(Locale.ROOT, "%.1f..%.1f", r.p10Us(), r.p90Us()), rate(r),
                Double.isNaN(r.pctCeiling()) ? "-" : String.format(Locale.ROOT, "%.1f%%", r.pctCeiling()), r.check());
    }

    /** The rate in the row's unit, or in G units when it is tiny (CPU backends). */
    static String rate(BenchRow r) {
        if (r.rate() < 0.1) {
            return String.format(Locale.ROOT, "%.3f %s", r.rate() * 1000, r.metric().replace("T", "G"));
        }
        return String.format(Locale.ROOT, "%.3f %s", r.rate(), r.metric());
    }

    /**
     * Writes bench.csv (replacing it), bench.json and bench.svg into {@code dir}.
     *
     * @param dir  the directory, made if missing
     * @param rows the rows
     * @param meta what bench.json says before the rows (settings, backends, ...), in order
     * @throws IOException if a file cannot be written
     */
    public static void write(Path dir, List<BenchRow> rows, Map<String, Object> meta) throws IOException {
        Files.createDirectories(dir);
        List<String> lines = new ArrayList<>();
        lines.add(String.join(",", BenchRow.COLUMNS));
        for (BenchRow r : rows) {
            lines.add(BenchRow.csvLine(r.values()));
        }
        Files.write(dir.resolve(CSV), lines);
        Map<String, Object> doc = new LinkedHashMap<>(meta);
        doc.put("no_value", NO_VALUE);
        doc.put("columns", BenchRow.COLUMNS);
        List<Object> list = new ArrayList<>();
        for (BenchRow r : rows) {
            list.add(r.asMap());
        }
        doc.put("rows", list);
        Files.writeString(dir.resolve(JSON), BenchJson.write(doc));
        BenchChart.write(rows, dir.resolve(SVG));
    }

    /**
     * Rows of a CSV written by attn4j bench or the peers script; blank lines and repeated header
     * lines (files appended to each other) are passed over.
     *
     * @param csv the file
     * @return its rows, in file order
     * @throws IOException if the file cannot be read, or a line is not a row (the message names it)
     */
    public static List<BenchRow> readCsv(Path csv) throws IOException {
        List<BenchRow> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(csv);
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank() || lines.get(i).startsWith("workload,")) {
                continue;
            }
            try {
                rows.add(BenchRow.fromValues(BenchRow.parseCsvLine(lines.get(i))));
            } catch (RuntimeException e) {
                throw new IOException(csv + " line " + (i + 1) + ": " + e.getMessage(), e);
            }
        }
        return rows;
    }
}
