package org.attn4j.cli.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.attn4j.cli.json.Json;

/** Writes rows as a table, CSV ({@code bench.csv}), JSON ({@code bench.json}) and a PNG chart. */
public final class BenchReport {
    public static final String CSV = "bench.csv";
    public static final String JSON = "bench.json";
    public static final String PNG = "bench.png";

    private BenchReport() {}

    public static void printHeader(PrintStream out) {
        out.printf(Locale.ROOT, "%-22s %-10s %-8s %-30s %11s %21s %14s %7s  %s%n", "workload", "backend", "op",
                "lengths", "median us", "p10..p90 us", "rate", "% ceil", "check vs reference");
    }

    public static void printRow(PrintStream out, BenchRow r) {
        out.printf(Locale.ROOT, "%-22s %-10s %-8s %-30s %11.1f %21s %14s %7s  %s%n", r.workload(), r.backend(),
                r.op(), r.lengths() + (r.scale() != 1 ? String.format(Locale.ROOT, " x%.3g", r.scale()) : ""), r.medianUs(),
                String.format(Locale.ROOT, "%.1f..%.1f", r.p10Us(), r.p90Us()),
                rate(r),
                Double.isNaN(r.pctCeiling()) ? "-" : String.format(Locale.ROOT, "%.1f%%", r.pctCeiling()),
                r.check());
    }

    /** The rate in the row's unit, or in G units when it is tiny (CPU backends). */
    static String rate(BenchRow r) {
        if (r.rate() < 0.1) {
            return String.format(Locale.ROOT, "%.3f %s", r.rate() * 1000, r.metric().replace("T", "G"));
        }
        return String.format(Locale.ROOT, "%.3f %s", r.rate(), r.metric());
    }

    /** Writes bench.csv (replacing it), bench.json and bench.png into {@code dir}. */
    public static void write(Path dir, List<BenchRow> rows, Map<String, Object> meta, PrintStream err)
            throws IOException {
        Files.createDirectories(dir);
        List<String> lines = new ArrayList<>();
        lines.add(String.join(",", BenchRow.COLUMNS));
        for (BenchRow r : rows) {
            lines.add(BenchRow.csvLine(r.values()));
        }
        Files.write(dir.resolve(CSV), lines);
        Map<String, Object> doc = new LinkedHashMap<>(meta);
        List<Object> list = new ArrayList<>();
        for (BenchRow r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            r.asMap().forEach((k, v) -> m.put(k, jsonValue(v)));
            list.add(m);
        }
        doc.put("rows", list);
        Files.writeString(dir.resolve(JSON), Json.write(doc));
        chart(dir, rows, err);
    }

    /** Draws the chart; a host without fonts or graphics still gets its CSV and JSON. */
    static void chart(Path dir, List<BenchRow> rows, PrintStream err) {
        try {
            BenchChart.write(rows, dir.resolve(PNG));
        } catch (Throwable t) {
            err.println("bench: no chart (" + t + ")");
        }
    }

    /** Rows of a CSV written by attn4j bench or the peers script. */
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

    private static Object jsonValue(String v) {
        try {
            if (v.equals("true") || v.equals("false")) {
                return Boolean.parseBoolean(v);
            }
            if (v.equals("nan")) {
                return null;
            }
            if (v.matches("-?\\d+")) {
                return Long.parseLong(v);
            }
            if (v.matches("-?[\\d.]+([eE][-+]?\\d+)?")) {
                return Double.parseDouble(v);
            }
        } catch (NumberFormatException e) {
            return v;
        }
        return v;
    }
}
