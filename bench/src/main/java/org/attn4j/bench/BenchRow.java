package org.attn4j.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One measured row. The CSV columns are fixed: {@code bench/peers/torch_peers.py} writes the same
 * ones, so attn4j's rows and the peers' rows land in one file. A value that does not exist (the
 * ceiling of a CPU row, its percentage) is an empty CSV field and {@code null} in JSON; NaN
 * stands for it in Java. Numbers are written with 6 significant digits in both files, so the
 * CSV and the JSON hold the same values.
 *
 * <p>Immutable and thread-safe.
 *
 * @param workload     the row name: workload, dtypes, layout and scale ({@link Workload#label()})
 * @param backend      the backend's id, or the peer's name for a peer's row
 * @param device       the device the row ran on, as the backend describes it
 * @param op           "decode", "prefill" or "cascade" ({@link Workload.Op#label()})
 * @param batch        requests
 * @param hq           query heads
 * @param hkv          KV heads
 * @param headDim      head dim
 * @param pageSize     tokens per KV page
 * @param qDtype       q and o dtype, lower case ("bf16")
 * @param kvDtype      KV cache dtype, lower case ("fp8_e4m3")
 * @param layout       KV page layout, "NHD" or "HND"
 * @param causal       whether the causal mask applies
 * @param lengths      the lengths in words ({@link Workload#lengthsDescription()})
 * @param scale        the factor the workload's lengths were scaled by (1: as named)
 * @param medianUs     median time of one run, in microseconds
 * @param p10Us        10th percentile of the run times, in microseconds
 * @param p90Us        90th percentile of the run times, in microseconds
 * @param reps         timed repetitions (samples)
 * @param sets         input copies the runs rotated through
 * @param bytes        bytes one run moves ({@link Traffic#bytes()})
 * @param flops        floating-point operations of one run ({@link Traffic#flops()})
 * @param metric       "TB/s" for decode-like operations, "TFLOP/s" for prefill
 * @param rate         the metric's value
 * @param ceiling      the ceiling the rate is compared with, in bytes/s or FLOP/s; NaN without one
 * @param pctCeiling   rate as a percentage of the ceiling, NaN without one
 * @param check        "ok 1.2e-03", "FAIL ...", or "skipped"
 * @param timer        how the runs were timed ({@link org.attn4j.spi.DeviceTimer#method()})
 */
public record BenchRow(String workload, String backend, String device, String op, int batch, int hq, int hkv,
                       int headDim, int pageSize, String qDtype, String kvDtype, String layout, boolean causal,
                       String lengths, double scale, double medianUs, double p10Us, double p90Us, int reps,
                       int sets, long bytes, double flops, String metric, double rate, double ceiling,
                       double pctCeiling, String check, String timer) {

    /** The CSV header and JSON keys, in column order: snake_case names of the components. */
    public static final List<String> COLUMNS = List.of("workload", "backend", "device", "op", "batch", "hq", "hkv",
            "head_dim", "page_size", "q_dtype", "kv_dtype", "layout", "causal", "lengths", "scale", "median_us",
            "p10_us", "p90_us", "reps", "sets", "bytes", "flops", "metric", "rate", "ceiling", "pct_ceiling",
            "check", "timer");

    /**
     * The row as typed values in column order: numbers rounded as written, null for no value.
     *
     * @return a new map from {@link #COLUMNS} to values, in column order
     */
    public Map<String, Object> asMap() {
        List<Object> v = java.util.Arrays.asList(workload, backend, device, op, batch, hq, hkv, headDim, pageSize, qDtype, kvDtype,
                layout, causal, lengths, rounded(scale), rounded(medianUs), rounded(p10Us), rounded(p90Us), reps, sets,
                bytes, rounded(flops), metric, rounded(rate), rounded(ceiling), rounded(pctCeiling), check, timer);
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < COLUMNS.size(); i++) {
            m.put(COLUMNS.get(i), v.get(i));
        }
        return m;
    }

    /**
     * The CSV fields, from the same values as {@link #asMap()}.
     *
     * @return one unquoted field per column; empty for no value
     */
    public List<String> values() {
        List<String> out = new ArrayList<>();
        for (Object o : asMap().values()) {
            out.add(o == null ? "" : o instanceof Double d ? num(d) : String.valueOf(o));
        }
        return out;
    }

    /**
     * Reads a row back from CSV values (for charts that include the peers' rows).
     *
     * @param v one unquoted field per column, as {@link #parseCsvLine} gives them
     * @return the row; an empty or "nan" number is NaN
     * @throws IllegalArgumentException if the count of fields is not that of {@link #COLUMNS}, or
     *                                  a number does not parse ({@link NumberFormatException})
     */
    public static BenchRow fromValues(List<String> v) {
        if (v.size() != COLUMNS.size()) {
            throw new IllegalArgumentException("expected " + COLUMNS.size() + " columns, found " + v.size());
        }
        return new BenchRow(v.get(0), v.get(1), v.get(2), v.get(3), Integer.parseInt(v.get(4)),
                Integer.parseInt(v.get(5)), Integer.parseInt(v.get(6)), Integer.parseInt(v.get(7)),
                Integer.parseInt(v.get(8)), v.get(9), v.get(10), v.get(11), Boolean.parseBoolean(v.get(12)),
                v.get(13), dbl(v.get(14)), dbl(v.get(15)), dbl(v.get(16)), dbl(v.get(17)), Integer.parseInt(v.get(18)),
                Integer.parseInt(v.get(19)), Long.parseLong(v.get(20)), dbl(v.get(21)), v.get(22), dbl(v.get(23)),
                dbl(v.get(24)), dbl(v.get(25)), v.get(26), v.get(27));
    }

    /** A CSV number; empty (and "nan", which older files and the peers script wrote) is no value. */
    private static double dbl(String s) {
        String t = s.strip();
        return t.isEmpty() || t.equalsIgnoreCase("nan") ? Double.NaN : Double.parseDouble(t);
    }

    /** The value as written (6 significant digits), or null for NaN and infinities. */
    static Double rounded(double x) {
        return Double.isFinite(x) ? Double.parseDouble(num(x)) : null;
    }

    /** A number as the CSV writes it: integral values without a fraction, else 6 significant digits; "" for none. */
    static String num(double x) {
        if (!Double.isFinite(x)) {
            return "";
        }
        if (x == Math.rint(x) && Math.abs(x) < 1e15) {
            return Long.toString((long) x);
        }
        return String.format(Locale.ROOT, "%.6g", x).replaceFirst("(\\.\\d*?)0+(e|$)", "$1$2").replaceFirst("\\.(e|$)", "$1");
    }

    /**
     * CSV with quotes only where a value needs them.
     *
     * @param values the fields
     * @return one CSV line without its line end; a field with a comma, quote or line break is
     *         quoted, its quotes doubled
     */
    public static String csvLine(List<String> values) {
        List<String> out = new ArrayList<>();
        for (String s : values) {
            out.add(s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\""
                    : s);
        }
        return String.join(",", out);
    }

    /**
     * Splits one CSV line into its fields, the inverse of {@link #csvLine}.
     *
     * @param line a CSV line without its line end
     * @return the fields, unquoted
     */
    public static List<String> parseCsvLine(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cur.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    cur.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(ch);
            }
        }
        out.add(cur.toString());
        return out;
    }
}
