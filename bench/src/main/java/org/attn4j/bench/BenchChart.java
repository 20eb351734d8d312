package org.attn4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The chart as SVG: one group of horizontal bars per workload, one bar per backend or peer, its
 * length the % of the ceiling (or of the group's best rate when a row has no ceiling), labelled
 * with the backend, the row's variant, the median time, the rate and the percentage; a dashed
 * line marks the ceiling. Text is SVG text, drawn by whatever views the file, so a host without
 * fonts makes the same chart as any other.
 *
 * <p>Stateless and thread-safe.
 */
public final class BenchChart {
    private static final String[] PALETTE = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
        "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    private static final int BAR = 18;
    private static final int STEP = BAR + 6;
    private static final int LEFT = 300;
    private static final int PLOT = 520;
    private static final int WIDTH = LEFT + PLOT + 380;
    /** The plot's right end: 125% of the ceiling; longer bars are clipped and marked. */
    private static final double MAX_PCT = 125;

    private BenchChart() {}

    /**
     * Writes the chart of some rows to a file.
     *
     * @param rows the rows, grouped by workload in the order their workloads first appear
     * @param file the SVG file, replaced if it exists
     * @throws IOException if the file cannot be written
     */
    public static void write(List<BenchRow> rows, Path file) throws IOException {
        Files.writeString(file, svg(rows));
    }

    /**
     * The chart of some rows.
     *
     * @param rows the rows, grouped by workload in the order their workloads first appear
     * @return an SVG document
     */
    public static String svg(List<BenchRow> rows) {
        Map<String, List<BenchRow>> groups = new LinkedHashMap<>();
        for (BenchRow r : rows) {
            groups.computeIfAbsent(Workload.baseName(r.workload()), k -> new ArrayList<>()).add(r);
        }
        List<String> backends = rows.stream().map(BenchRow::backend).distinct().toList();
        int top = 70;
        int height = top + groups.size() * (22 + 10) + rows.size() * STEP + 50;
        StringBuilder s = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">%n",
                WIDTH, height, WIDTH, height));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, height));
        text(s, 10, 22, "attn4j bench: rate as % of the ceiling", "font-size=\"15\" font-weight=\"bold\"");
        text(s, 10, 42, "decode and cascade: TB/s of K/V, q and o moved against --bw-ceiling; prefill: TFLOP/s "
                + "against --flops-ceiling. Rows without a ceiling: % of their group's best rate.", "fill=\"#444\"");
        int x100 = x(100);
        // the axis, the ceiling line and its label first, so bars and their labels lie over them
        int axis = top + groups.size() * (22 + 10) + rows.size() * STEP + 4;
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>%n", LEFT,
                top - 6, LEFT, axis));
        for (int pct = 0; pct <= 100; pct += 25) {
            int px = x(pct);
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>%n",
                    px, axis, px, axis + 5));
            text(s, px, axis + 18, pct + "%", "text-anchor=\"middle\" fill=\"#444\"");
        }
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\" "
                + "stroke-dasharray=\"5,4\"/>%n", x100, top - 6, x100, axis));
        text(s, x100 + 4, top - 10, "ceiling" + ceilings(rows), "fill=\"#555\"");
        int y = top;
        for (Map.Entry<String, List<BenchRow>> e : groups.entrySet()) {
            List<BenchRow> g = e.getValue();
            double best = g.stream().mapToDouble(BenchRow::rate).filter(Double::isFinite).max().orElse(1);
            BenchRow first = g.getFirst();
            text(s, 10, y + 14, e.getKey() + " (" + first.op() + ", " + first.lengths() + ", Hq/Hkv/D "
                    + first.hq() + "/" + first.hkv() + "/" + first.headDim() + ")", "font-weight=\"bold\"");
            y += 22;
            for (BenchRow r : g) {
                boolean ceiling = Double.isFinite(r.pctCeiling());
                double pct = ceiling ? r.pctCeiling() : best > 0 ? 100.0 * r.rate() / best : 0;
                double shown = Math.max(0, Math.min(MAX_PCT, Double.isFinite(pct) ? pct : 0));
                int len = Math.max(1, x(shown) - LEFT);
                String color = PALETTE[backends.indexOf(r.backend()) % PALETTE.length];
                String variant = r.workload().length() > e.getKey().length()
                        ? r.workload().substring(e.getKey().length()).strip() : r.layout();
                text(s, LEFT - 8, y + BAR - 5, r.backend() + " " + variant, "text-anchor=\"end\"");
                s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\""
                        + "%s><title>%s</title></rect>%n", LEFT, y, len, BAR, color,
                        ceiling ? "" : " fill-opacity=\"0.55\"", escape(r.workload() + " on " + r.backend() + " ("
                                + r.device() + "), timer: " + r.timer() + ", check: " + r.check())));
                String value = String.format(Locale.ROOT, "%.1f us \u00b7 %s \u00b7 %s", r.medianUs(), BenchReport.rate(r),
                        ceiling ? String.format(Locale.ROOT, "%.1f%% of ceiling", pct)
                                : String.format(Locale.ROOT, "%.0f%% of best (no ceiling)", pct))
                        + (pct > MAX_PCT ? " (bar clipped)" : "");
                text(s, LEFT + len + 6, y + BAR - 5, value, "fill=\"#222\"");
                y += STEP;
            }
            y += 10;
        }
        s.append("</svg>\n");
        return s.toString();
    }

    /** The ceilings the rows were compared with, e.g. " (4.49 TB/s, 790 TFLOP/s)". */
    private static String ceilings(List<BenchRow> rows) {
        List<String> parts = new ArrayList<>();
        for (String metric : List.of("TB/s", "TFLOP/s")) {
            rows.stream().filter(r -> r.metric().equals(metric) && Double.isFinite(r.ceiling())).findFirst()
                    .ifPresent(r -> parts.add(String.format(Locale.ROOT, "%.3g %s", r.ceiling() / 1e12, metric)));
        }
        return parts.isEmpty() ? "" : " (" + String.join(", ", parts) + ")";
    }

    private static int x(double pct) {
        return LEFT + (int) Math.round(pct / MAX_PCT * PLOT);
    }

    private static void text(StringBuilder s, int x, int y, String text, String attrs) {
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" %s>%s</text>%n", x, y, attrs, escape(text)));
    }

    static String escape(String t) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> {
                    if (c >= 0x20 || c == '\t') {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
