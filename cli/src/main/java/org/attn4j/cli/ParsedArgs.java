package org.attn4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Parsed option values with typed, checked accessors; a bad value throws {@link UsageException}. */
public final class ParsedArgs {
    private final String command;
    private final Map<String, List<String>> values;
    private final String usage;

    ParsedArgs(String command, Map<String, List<String>> values, String usage) {
        this.command = command;
        this.values = values;
        this.usage = usage;
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public boolean flag(String name) {
        return has(name) && Boolean.parseBoolean(string(name));
    }

    /** The value, or null when absent. */
    public String string(String name) {
        List<String> v = values.get(name);
        return v == null ? null : v.getLast();
    }

    public String string(String name, String fallback) {
        String v = string(name);
        return v == null ? fallback : v;
    }

    public List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    /** Every value of a repeatable or comma-separated option, split on commas. */
    public List<String> list(String name) {
        List<String> out = new ArrayList<>();
        for (String v : all(name)) {
            for (String part : v.split(",")) {
                if (!part.isBlank()) {
                    out.add(part.trim());
                }
            }
        }
        return out;
    }

    public int integer(String name, int fallback) {
        String v = string(name);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + ": expected an integer, actual '" + v + "'", usage);
        }
    }

    public double number(String name, double fallback) {
        String v = string(name);
        if (v == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + ": expected a number, actual '" + v + "'", usage);
        }
    }

    /**
     * Integers: a range {@code a..b} as its two bounds {@code [a, b]}, else the listed values (one,
     * or a comma list). A range stands alone, since callers read its bounds from the first two slots.
     */
    public int[] intList(String name) {
        List<Integer> out = new ArrayList<>();
        List<String> parts = list(name);
        if (parts.size() > 1 && parts.stream().anyMatch(p -> p.contains(".."))) {
            throw new UsageException("--" + name + ": expected one range a..b or a list of integers, actual '"
                    + String.join(",", parts) + "'", usage);
        }
        for (String part : parts) {
            try {
                int dots = part.indexOf("..");
                if (dots >= 0) {
                    int lo = Integer.parseInt(part.substring(0, dots).trim());
                    int hi = Integer.parseInt(part.substring(dots + 2).trim());
                    if (hi < lo) {
                        throw new UsageException("--" + name + ": range " + part + " is empty", usage);
                    }
                    out.add(lo);
                    out.add(hi);
                } else {
                    out.add(Integer.parseInt(part));
                }
            } catch (NumberFormatException e) {
                throw new UsageException("--" + name + ": expected integers or a range a..b, actual '" + part + "'",
                        usage);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Fails with the usage text: for checks that span options. */
    public UsageException error(String message) {
        return new UsageException(message, usage);
    }

    public String command() {
        return command;
    }
}
