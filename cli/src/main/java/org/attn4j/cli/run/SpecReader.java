package org.attn4j.cli.run;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.attn4j.cli.CliException;
import org.attn4j.cli.npy.Npy;

/** Typed access to one JSON object of a call spec, with errors that name the file and the key. */
final class SpecReader {
    private final Map<String, Object> map;
    private final Path baseDir;
    private final String where;
    private final List<Path> files;

    SpecReader(Map<String, Object> map, Path baseDir, String where) {
        this(map, baseDir, where, new ArrayList<>());
    }

    private SpecReader(Map<String, Object> map, Path baseDir, String where, List<Path> files) {
        this.map = map;
        this.baseDir = baseDir;
        this.where = where;
        this.files = files;
    }

    /** Every input file this reader and those it made have named. */
    List<Path> files() {
        return List.copyOf(files);
    }

    String where() {
        return where;
    }

    void allowOnly(Set<String> keys) {
        for (String k : map.keySet()) {
            if (!keys.contains(k)) {
                throw new CliException(where + ": unknown key \"" + k + "\" here; known keys: "
                        + String.join(", ", new TreeSet<>(keys)));
            }
        }
    }

    boolean has(String key) {
        return map.containsKey(key) && map.get(key) != null;
    }

    boolean isString(String key) {
        return map.get(key) instanceof String;
    }

    /** A long given as a JSON integer; a value outside 64 bits is refused. */
    long longValue(String key) {
        Object v = require(key);
        Long n = asLong(v);
        if (n == null) {
            throw mismatch(key, "an integer in 64 bits", v);
        }
        return n;
    }

    Object raw(String key) {
        return map.get(key);
    }

    String string(String key) {
        Object v = require(key);
        if (!(v instanceof String s)) {
            throw mismatch(key, "a string", v);
        }
        return s;
    }

    String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    boolean bool(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        Object v = map.get(key);
        if (!(v instanceof Boolean b)) {
            throw mismatch(key, "true or false", v);
        }
        return b;
    }

    double number(String key, double fallback) {
        if (!has(key)) {
            return fallback;
        }
        Object v = map.get(key);
        if (!(v instanceof Number n)) {
            throw mismatch(key, "a number", v);
        }
        return n.doubleValue();
    }

    int integer(String key, int fallback) {
        if (!has(key)) {
            return fallback;
        }
        Object v = map.get(key);
        Integer i = asInt(v);
        if (i == null) {
            throw mismatch(key, "an integer", v);
        }
        return i;
    }

    private static Integer asInt(Object v) {
        if (v instanceof Long n && n >= Integer.MIN_VALUE && n <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        if (v instanceof Integer n) {
            return n;
        }
        return null;
    }

    private static Long asLong(Object v) {
        return switch (v) {
            case Long n -> n;
            case Integer n -> n.longValue();
            case BigInteger b when b.bitLength() < 64 -> b.longValue();
            default -> null;
        };
    }

    /** An int array given inline as a JSON list or as the name of a .npy file. */
    int[] ints(String key) throws IOException {
        Object v = require(key);
        if (v instanceof String file) {
            return Npy.readInts(path(key, file));
        }
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of integers or a .npy file name", v);
        }
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            Integer n = asInt(list.get(i));
            if (n == null) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected an integer in 32 bits, actual "
                        + list.get(i));
            }
            out[i] = n;
        }
        return out;
    }

    /** Float32 values inline (JSON numbers) or a {@code <f4} .npy file: per-head sinks or ALiBi slopes. */
    float[] floats(String key) throws IOException {
        Object v = require(key);
        if (v instanceof String file) {
            return Npy.readFloats(path(key, file));
        }
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of numbers or a .npy file name", v);
        }
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Number n)) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected a number, actual "
                        + list.get(i));
            }
            out[i] = n.floatValue();
        }
        return out;
    }

    /** A long array given inline (bit offsets of masks). */
    long[] longs(String key) {
        Object v = require(key);
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of integers", v);
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Long n = asLong(list.get(i));
            if (n == null) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected an integer, actual "
                        + list.get(i));
            }
            out[i] = n;
        }
        return out;
    }

    /** Booleans inline (true/false or 0/1) or a '|b1'/'|u1' .npy file. */
    boolean[] booleans(String key) throws IOException {
        Object v = require(key);
        if (v instanceof String file) {
            return Npy.readBooleans(path(key, file));
        }
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of booleans or a .npy file name", v);
        }
        boolean[] out = new boolean[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object x = list.get(i);
            Long n = asLong(x);
            if (x instanceof Boolean b) {
                out[i] = b;
            } else if (n != null && (n == 0 || n == 1)) {
                out[i] = n == 1;
            } else {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected true, false, 0 or 1, actual " + x);
            }
        }
        return out;
    }

    /** Bytes inline (0..255) or a '|u1' .npy file, such as np.packbits(mask, bitorder="little"). */
    byte[] bytes(String key) throws IOException {
        Object v = require(key);
        if (v instanceof String file) {
            return Npy.readBytes(path(key, file));
        }
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of bytes (0..255) or a .npy file name", v);
        }
        byte[] out = new byte[list.size()];
        for (int i = 0; i < out.length; i++) {
            Long n = asLong(list.get(i));
            if (n == null || n < 0 || n > 255) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected a byte 0..255, actual "
                        + list.get(i));
            }
            out[i] = (byte) n.intValue();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    SpecReader object(String key) {
        Object v = require(key);
        if (!(v instanceof Map<?, ?> m)) {
            throw mismatch(key, "an object", v);
        }
        return new SpecReader((Map<String, Object>) m, baseDir, where + " \"" + key + "\"", files);
    }

    @SuppressWarnings("unchecked")
    List<SpecReader> objects(String key) {
        Object v = require(key);
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw mismatch(key, "a non-empty list of objects", v);
        }
        List<SpecReader> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected an object, actual " + list.get(i));
            }
            out.add(new SpecReader((Map<String, Object>) m, baseDir, where + " \"" + key + "\"[" + i + "]", files));
        }
        return out;
    }

    /** A file path relative to the call's JSON file; it must exist. */
    Path path(String key, String file) {
        Path p;
        try {
            p = Path.of(file);
        } catch (java.nio.file.InvalidPathException e) {
            throw new CliException(where + ": \"" + key + "\": not a file name: \"" + file + "\"");
        }
        p = p.isAbsolute() ? p : baseDir.resolve(p);
        if (!Files.isRegularFile(p)) {
            throw new CliException(where + ": \"" + key + "\": " + (Files.exists(p) ? "not a regular file: "
                    : "no such file: ") + p);
        }
        files.add(p);
        return p;
    }

    Path file(String key) {
        return path(key, string(key));
    }

    Path optionalFile(String key) {
        return has(key) ? file(key) : null;
    }

    private Object require(String key) {
        if (!has(key)) {
            throw new CliException(where + ": missing \"" + key + "\"");
        }
        return map.get(key);
    }

    CliException mismatch(String key, String expected, Object actual) {
        String shown = actual instanceof String s ? "\"" + s + "\"" : String.valueOf(actual);
        if (shown.length() > 80) {
            shown = shown.substring(0, 77) + "...";
        }
        return new CliException(where + ": \"" + key + "\": expected " + expected + ", actual " + shown);
    }
}
