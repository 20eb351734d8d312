package org.attn4j.cli;

import java.util.Arrays;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Integers as typed on the command line: one value {@code 7}, a list {@code 1,3,5}, or a range
 * {@code a..b} (both ends included).
 *
 * @param values the listed values, or a range's two bounds
 * @param range  true for {@code a..b}
 * @param text   what the user typed, for row names and messages
 */
public record IntSpec(int[] values, boolean range, String text) {
    public IntSpec {
        values = values.clone();
    }

    @Override
    public int[] values() {
        return values.clone();
    }

    public int lo() {
        return values[0];
    }

    public int hi() {
        return values[values.length - 1];
    }

    public static IntSpec parse(String s) {
        String t = s.strip();
        int dots = t.indexOf("..");
        try {
            if (dots >= 0) {
                int lo = Integer.parseInt(t.substring(0, dots).strip());
                int hi = Integer.parseInt(t.substring(dots + 2).strip());
                if (hi < lo) {
                    throw new TypeConversionException("range " + t + " is empty");
                }
                return new IntSpec(new int[] {lo, hi}, true, t);
            }
            int[] v = Arrays.stream(t.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
            if (v.length == 0) {
                throw new NumberFormatException();
            }
            return new IntSpec(v, false, t);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("expected an integer, a list a,b,c or a range a..b, actual '" + s + "'");
        }
    }

    /** picocli converter. */
    public static final class Converter implements ITypeConverter<IntSpec> {
        @Override
        public IntSpec convert(String value) {
            return parse(value);
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
