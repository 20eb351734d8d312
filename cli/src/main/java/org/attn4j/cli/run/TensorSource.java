package org.attn4j.cli.run;

import java.nio.file.Path;
import java.util.Set;

/**
 * Where a tensor input comes from: a whole {@code .npy} file, or a strided view into one
 * ({@code {"file": ..., "offset": ..., "shape": [...], "strides": [...]}}, element units, spec
 * §11), so that q, k and v can be slices of one fused projection output as an engine holds them.
 * Views of the same file share one device buffer.
 *
 * @param key     the spec key that named it, for errors
 * @param file    the {@code .npy} file
 * @param offset  the view's first element in the file's flat array (0 for a whole file)
 * @param shape   the view's shape, or null for the file's own
 * @param strides the view's element strides, or null for the file's own
 */
record TensorSource(String key, Path file, long offset, long[] shape, long[] strides) {
    static final Set<String> VIEW_KEYS = Set.of("file", "offset", "shape", "strides");

    static TensorSource whole(String key, Path file) {
        return new TensorSource(key, file, 0, null, null);
    }

    boolean isView() {
        return shape != null;
    }

    /** A tensor key's value: a file name, or a view object. */
    static TensorSource read(SpecReader r, String key) {
        if (!r.has(key) || r.isString(key)) {
            return whole(key, r.file(key)); // a missing key or a wrong type is reported there
        }
        SpecReader v = r.object(key);
        v.allowOnly(VIEW_KEYS);
        long offset = v.has("offset") ? v.longValue("offset") : 0;
        return new TensorSource(key, v.file("file"), offset, v.longs("shape"), v.longs("strides"));
    }

    static TensorSource readOptional(SpecReader r, String key) {
        return r.has(key) ? read(r, key) : null;
    }
}
