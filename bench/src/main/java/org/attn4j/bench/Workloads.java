package org.attn4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.kv.KvLayout;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.tensor.DType;
import tools.jackson.databind.JsonNode;

/**
 * The named workloads of spec §10 and the shape classes, defined once in {@code bench/workloads.json} (packaged in this
 * module's jar as {@value #RESOURCE}); {@code bench/peers/torch_peers.py} reads the same file.
 * The file is read once, when the class initialises; a missing or malformed file fails that.
 *
 * <p>Immutable and thread-safe.
 */
public final class Workloads {
    /** Where the data file sits on the class path. */
    public static final String RESOURCE = "/org/attn4j/bench/workloads.json";

    private static final Catalog CATALOG = load();

    private record Catalog(long lengthSeed, Map<String, Workload> named, Map<String, Workload> classes,
                           EngineStepBench.Shape engineStep, MlaDecodeBench.Shape mlaDecode) {}

    private Workloads() {}

    /**
     * The seed of drawn lengths (those of {@code prefill-batch-paged}); the peers script draws the same ones.
     *
     * @return the data file's {@code length_seed}
     */
    public static long lengthSeed() {
        return CATALOG.lengthSeed();
    }

    /**
     * Every named workload, in the data file's order.
     *
     * @return an unmodifiable map from name to workload
     */
    public static Map<String, Workload> named() {
        return CATALOG.named();
    }

    /**
     * The shape classes ("shape_classes" in the data file): model shapes away from the named
     * workloads (other head dims, GQA groups, FP8 K/V, batches of short prompts), in the file's order.
     *
     * @return an unmodifiable map from name to workload
     */
    public static Map<String, Workload> classes() {
        return CATALOG.classes();
    }

    /**
     * A named workload or a shape class.
     *
     * @param name its name
     * @return the workload, or null when no workload or class has that name
     */
    public static Workload byName(String name) {
        Workload w = named().get(name);
        return w != null ? w : classes().get(name);
    }

    /**
     * The engine step's shape ("engine_step" in the data file; the PyTorch peer reads the same).
     *
     * @return the shape
     */
    public static EngineStepBench.Shape engineStep() {
        return CATALOG.engineStep();
    }

    /**
     * The {@code decode-mla} workload's shape ("mla_decode" in the data file): DeepSeek-V3's
     * absorbed decode.
     *
     * @return the shape
     */
    public static MlaDecodeBench.Shape mlaDecode() {
        return CATALOG.mlaDecode();
    }

    /**
     * Every name, for help texts: the named workloads, then the shape classes.
     *
     * @return a new list, in the data file's order
     */
    public static List<String> names() {
        List<String> all = new ArrayList<>(named().keySet());
        all.addAll(classes().keySet());
        return all;
    }

    private static Catalog load() {
        try (InputStream in = Workloads.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the class path");
            }
            return parse(BenchJson.read(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    /** Reads the data file's tree; each workload's keys fall back to "defaults". */
    static Catalog parse(JsonNode root) {
        long seed = root.required("length_seed").longValue();
        JsonNode defaults = root.required("defaults");
        Map<String, Workload> named = workloads(root.required("workloads"), defaults, seed);
        Map<String, Workload> classes = root.has("shape_classes")
                ? workloads(root.get("shape_classes"), defaults, seed) : Map.of();
        for (String name : classes.keySet()) {
            if (named.containsKey(name)) {
                throw new IllegalStateException(RESOURCE + ": " + name + " is both a workload and a shape class");
            }
        }
        JsonNode e = root.required("engine_step");
        EngineStepBench.Shape engine = new EngineStepBench.Shape(e.required("batch").intValue(),
                e.required("kv_len").intValue(), e.required("layers").intValue(), e.required("pools").intValue(),
                e.required("steps").intValue(), new HeadConfig(value(e, defaults, "hq").intValue(),
                        value(e, defaults, "hkv").intValue(), value(e, defaults, "head_dim").intValue()),
                value(e, defaults, "page_size").intValue());
        JsonNode m = root.required("mla_decode");
        MlaDecodeBench.Shape mla = new MlaDecodeBench.Shape(m.required("batch").intValue(),
                m.required("kv_len").intValue(), new MlaHeadConfig(m.required("hq").intValue(),
                        m.required("d_ckv").intValue(), m.required("d_kpe").intValue()),
                m.required("page_size").intValue(), m.required("qk_head_dim").intValue(),
                dtype(m.required("q_dtype").stringValue()), dtype(m.required("kv_dtype").stringValue()), 1.0);
        return new Catalog(seed, named, classes, engine, mla);
    }

    private static Map<String, Workload> workloads(JsonNode list, JsonNode defaults, long seed) {
        Map<String, Workload> named = new LinkedHashMap<>();
        for (JsonNode w : list) {
            String name = w.required("name").stringValue();
            String op = w.required("op").stringValue();
            int batch = w.required("batch").intValue();
            int[] kv = lengths(w.required("kv_len"), batch, seed, name);
            Workload.Op kind = Workload.Op.valueOf(op.toUpperCase(Locale.ROOT));
            int[] qo = w.has("qo_len") ? lengths(w.get("qo_len"), batch, seed, name)
                    : kind == Workload.Op.PREFILL ? kv.clone() : ones(batch);
            HeadConfig heads = new HeadConfig(value(w, defaults, "hq").intValue(), value(w, defaults, "hkv").intValue(),
                    value(w, defaults, "head_dim").intValue());
            named.put(name, new Workload(name, kind, qo, kv, value(w, defaults, "shared_prefix").intValue(), heads,
                    value(w, defaults, "page_size").intValue(), dtype(value(w, defaults, "q_dtype").stringValue()),
                    dtype(value(w, defaults, "kv_dtype").stringValue()),
                    KvLayout.valueOf(value(w, defaults, "layout").stringValue().toUpperCase(Locale.ROOT)),
                    value(w, defaults, "causal").booleanValue(), 1.0, false));
        }
        return Collections.unmodifiableMap(named);
    }

    private static JsonNode value(JsonNode w, JsonNode defaults, String key) {
        return w.has(key) ? w.get(key) : defaults.required(key);
    }

    /** An integer for every request, or {@code {"draw": [lo, hi]}}: lengths drawn with {@link #drawLengths}. */
    private static int[] lengths(JsonNode n, int batch, long seed, String name) {
        if (n.isObject()) {
            JsonNode range = n.required("draw");
            return drawLengths(batch, range.get(0).intValue(), range.get(1).intValue(), seed);
        }
        if (!n.isIntegralNumber()) {
            throw new IllegalStateException(RESOURCE + ": " + name + ": a length is an integer or {\"draw\": [lo, hi]}");
        }
        int[] out = new int[batch];
        Arrays.fill(out, n.intValue());
        return out;
    }

    private static DType dtype(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            case "fp8_e4m3" -> DType.FP8_E4M3;
            case "fp8_e5m2" -> DType.FP8_E5M2;
            default -> throw new IllegalStateException(RESOURCE + ": unknown dtype " + s);
        };
    }

    /**
     * Lengths uniform in {@code [lo, hi]} from a small linear congruential generator that the
     * Python peers script reproduces exactly (Java's SplittableRandom has no Python twin).
     *
     * @param n    how many lengths
     * @param lo   the smallest length
     * @param hi   the largest length, at least {@code lo}
     * @param seed the generator's start state
     * @return {@code n} lengths; the same arguments always give the same ones
     */
    public static int[] drawLengths(int n, int lo, int hi, long seed) {
        int[] out = new int[n];
        long state = seed;
        for (int i = 0; i < n; i++) {
            state = (state * 6364136223846793005L + 1442695040888963407L);
            long r = (state >>> 33) % (hi - lo + 1);
            out[i] = (int) (lo + r);
        }
        return out;
    }

    /**
     * {@code n} ones: the query rows of decode.
     *
     * @param n how many
     * @return a new array
     */
    public static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }

    /**
     * Random lengths for an ad-hoc range {@code lo..hi}.
     *
     * @param n   how many lengths
     * @param lo  the smallest length
     * @param hi  the largest length, at least {@code lo}
     * @param rnd the source of randomness
     * @return {@code n} lengths uniform in {@code [lo, hi]}
     */
    public static int[] range(int n, int lo, int hi, SplittableRandom rnd) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = lo == hi ? lo : lo + rnd.nextInt(hi - lo + 1);
        }
        return out;
    }
}
