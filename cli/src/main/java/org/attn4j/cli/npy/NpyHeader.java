package org.attn4j.cli.npy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The dictionary at the start of a {@code .npy} file: dtype descriptor, order and shape.
 *
 * @param descr        NumPy dtype string, e.g. {@code <f4}, {@code <u2}, {@code |u1}
 * @param fortranOrder true for column-major data (attn4j only reads C order)
 * @param shape        dimensions; empty for a scalar
 */
public record NpyHeader(String descr, boolean fortranOrder, long[] shape) {
    private static final Pattern DESCR = Pattern.compile("['\"]descr['\"]\\s*:\\s*['\"]([^'\"]+)['\"]");
    private static final Pattern ORDER = Pattern.compile("['\"]fortran_order['\"]\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("['\"]shape['\"]\\s*:\\s*\\(([^)]*)\\)");

    /** NumPy's own limit on dimensions. */
    static final int MAX_DIMS = 64;

    public NpyHeader {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Elements the shape declares; throws {@link ArithmeticException} past {@code Long.MAX_VALUE}. */
    public long elementCount() {
        for (long d : shape) {
            if (d == 0) {
                return 0;
            }
        }
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Parses the header text; {@code file} names the source in errors. */
    static NpyHeader parse(String text, String file) {
        Matcher d = DESCR.matcher(text);
        Matcher o = ORDER.matcher(text);
        Matcher s = SHAPE.matcher(text);
        if (!d.find() || !o.find() || !s.find()) {
            throw new NpyException(file + ": malformed .npy header (need 'descr', 'fortran_order' and 'shape'): "
                    + text.strip());
        }
        List<Long> dims = new ArrayList<>();
        String[] parts = s.group(1).split(",");
        if (parts.length > MAX_DIMS + 1) {
            throw new NpyException(file + ": shape (" + s.group(1).strip() + ") has more than " + MAX_DIMS
                    + " dimensions");
        }
        for (String part : parts) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            try {
                long v = Long.parseLong(p.endsWith("L") ? p.substring(0, p.length() - 1) : p);
                if (v < 0) {
                    throw new NumberFormatException();
                }
                dims.add(v);
            } catch (NumberFormatException e) {
                throw new NpyException(file + ": bad dimension '" + p + "' in shape (" + s.group(1) + ")");
            }
        }
        return new NpyHeader(d.group(1), o.group(1).equals("True"),
                dims.stream().mapToLong(Long::longValue).toArray());
    }

    /** The header dictionary as NumPy writes it (without padding). */
    String toText() {
        StringBuilder sb = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': ")
                .append(fortranOrder ? "True" : "False").append(", 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            sb.append(shape[i]);
            if (shape.length == 1 || i + 1 < shape.length) {
                sb.append(shape.length == 1 ? "," : ", ");
            }
        }
        return sb.append("), }").toString();
    }

    @Override
    public String toString() {
        return descr + " " + Arrays.toString(shape) + (fortranOrder ? " (Fortran order)" : "");
    }
}
