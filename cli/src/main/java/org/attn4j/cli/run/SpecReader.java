package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.attn4j.cli.CliException;
import org.attn4j.cli.npy.Npy;

/** Typed access to the call's JSON object, with errors that name the key and the file. */
final class SpecReader {
    private final Map<String, Object> map;
    private final Path baseDir;
    private final String where;

    SpecReader(Map<String, Object> map, Path baseDir, String where) {
        this.map = map;
        this.baseDir = baseDir;
        this.where = where;
    }

    void allowOnly(Set<String> keys) {
        for (String k : map.keySet()) {
            if (!keys.contains(k)) {
                throw new CliException(where + ": unknown key \"" + k + "\"; known keys: " + keys);
            }
        }
    }

    boolean has(String key) {
        return map.containsKey(key) && map.get(key) != null;
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
        if (!(v instanceof Long n) || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
            throw mismatch(key, "an integer", v);
        }
        return n.intValue();
    }

    /** An int array given inline as a JSON list or as the name of a .npy file. */
    int[] ints(String key) throws IOException {
        Object v = require(key);
        if (v instanceof String file) {
            return Npy.readInts(path(file));
        }
        if (!(v instanceof List<?> list)) {
            throw mismatch(key, "a list of integers or a .npy file name", v);
        }
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long n) || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
                throw new CliException(where + ": \"" + key + "\"[" + i + "]: expected an integer, actual "
                        + list.get(i));
            }
            out[i] = n.intValue();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    SpecReader object(String key) {
        Object v = require(key);
        if (!(v instanceof Map<?, ?> m)) {
            throw mismatch(key, "an object", v);
        }
        return new SpecReader((Map<String, Object>) m, baseDir, where + " \"" + key + "\"");
    }

    /** A file path relative to the call's JSON file. */
    Path path(String file) {
        Path p = Path.of(file);
        return p.isAbsolute() ? p : baseDir.resolve(p);
    }

    Path file(String key) {
        return path(string(key));
    }

    private Object require(String key) {
        if (!has(key)) {
            throw new CliException(where + ": missing \"" + key + "\"");
        }
        return map.get(key);
    }

    private CliException mismatch(String key, String expected, Object actual) {
        return new CliException(where + ": \"" + key + "\": expected " + expected + ", actual "
                + (actual instanceof String s ? "\"" + s + "\"" : String.valueOf(actual)));
    }
}
