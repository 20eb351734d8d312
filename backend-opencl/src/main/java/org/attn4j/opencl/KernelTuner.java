package org.attn4j.opencl;

import static org.jocl.CL.CL_DRIVER_VERSION;
import static org.jocl.CL.clGetDeviceInfo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import java.util.function.Supplier;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.jocl.Pointer;

/**
 * Chooses kernel settings by timing the built-in candidates on a synthetic problem, once per
 * device, driver, head-dim bucket and dtype pair: the tiled kernel's shape for prefill-sized
 * problems ({@link TileConfig.Shape#ALL} on one causal prefill) and the streaming decode's
 * settings ({@link DecodeStreamConfig#CANDIDATES} on one batch of decode requests, per query
 * heads of a work-group). Choices are kept for the session and in a properties file, so a
 * device and driver are measured once: {@code attn4j.opencl.tuneCache} names the file (default
 * {@code ~/.cache/attn4j/opencl-tuning.properties}; {@code none} keeps them in memory only).
 * A candidate that fails to build or run is left out with a warning; when none runs, the
 * caller's defaults stand.
 *
 * <p>Thread-safe: one tuning at a time per session.
 */
final class KernelTuner {
    private static final System.Logger LOG = System.getLogger(KernelTuner.class.getName());
    /** The synthetic prefill's rows and keys: enough work-groups for a few waves on a large GPU. */
    static final int ROWS = 1024;
    static final int KEYS = 2048;
    /**
     * The synthetic decode has ROWS / 32 requests of KEYS keys: 32 x 2048 keys, 64 MiB of bf16
     * K and V at head dim 128, more than a large GPU's last-level cache holds.
     */
    static final int ROWS_PER_DECODE_REQUEST = 32;
    private static final int KV_HEADS = 4;
    private static final int GROUP = 4;
    private static final int PAGE = 16;
    private static final int TIMED_RUNS = 3;

    private final OpenClDevice device;
    private final Path file;
    private final int rows;
    private final int keys;
    private final Map<String, Object> chosen = new HashMap<>();
    private Properties stored;
    /** Platform, device and driver: part of every key, asked of the driver once. */
    private String devicePart;

    /**
     * @param device the device whose candidates are timed
     * @param file   the properties file choices persist in, or null for memory only
     * @param rows   query rows of the synthetic prefill ({@link #ROWS})
     * @param keys   its keys and each synthetic decode request's, a multiple of 16 ({@link #KEYS})
     */
    KernelTuner(OpenClDevice device, Path file, int rows, int keys) {
        this.device = device;
        this.file = file;
        this.rows = rows;
        this.keys = keys;
    }

    /** The file {@code attn4j.opencl.tuneCache} names (null for {@code none}). */
    static Path defaultFile() {
        String p = System.getProperty("attn4j.opencl.tuneCache");
        if (p != null && p.trim().equalsIgnoreCase("none")) {
            return null;
        }
        if (p != null && !p.isBlank()) {
            return Path.of(p.trim());
        }
        return Path.of(System.getProperty("user.home"), ".cache", "attn4j", "opencl-tuning.properties");
    }

    /**
     * The fastest tiled shape for head dims up to {@code dmax} with q of {@code q} and a cache of
     * {@code kv}, measured the first time, or null when no shape could be timed.
     */
    synchronized TileConfig.Shape shape(int dmax, DType q, DType kv) {
        return choice("tiles|" + deviceKey() + "|d" + dmax + "|" + q + "|" + kv, TileConfig.Shape::parse,
                TileConfig.Shape::toString, () -> measureShapes(dmax, q, kv));
    }

    /**
     * The fastest streaming-decode settings for head dims up to {@code dmax}, {@code tm} query
     * heads per work-group, q of {@code q} and a cache of {@code kv}, measured the first time,
     * or null when no candidate could be timed.
     */
    synchronized DecodeStreamConfig.Tuning stream(int dmax, int tm, DType q, DType kv) {
        return choice("stream|" + deviceKey() + "|d" + dmax + "|tm" + tm + "|" + q + "|" + kv,
                DecodeStreamConfig.Tuning::parseText, DecodeStreamConfig.Tuning::text,
                () -> measureStream(dmax, tm, q, kv));
    }

    private <T> T choice(String key, Function<String, T> parse, Function<T, String> format, Supplier<T> measure) {
        @SuppressWarnings("unchecked")
        T s = (T) chosen.get(key);
        if (s != null) {
            return s;
        }
        String text = stored().getProperty(key);
        if (text != null) {
            try {
                s = parse.apply(text);
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, "ignoring tuned setting {0} = {1} in {2}: {3}", key, text, file,
                        e.getMessage());
            }
        }
        if (s == null) {
            s = measure.get();
            if (s == null) {
                return null;
            }
            stored.setProperty(key, format.apply(s));
            save();
        }
        chosen.put(key, s);
        return s;
    }

    private String deviceKey() {
        if (devicePart == null) {
            devicePart = device.platformName() + "|" + device.name() + "|" + driverVersion();
        }
        return devicePart;
    }

    private String driverVersion() {
        try {
            long[] size = new long[1];
            clGetDeviceInfo(device.device(), CL_DRIVER_VERSION, 0, null, size);
            byte[] buf = new byte[(int) size[0]];
            clGetDeviceInfo(device.device(), CL_DRIVER_VERSION, buf.length, Pointer.to(buf), null);
            return new String(buf, StandardCharsets.UTF_8).replace("\0", "").trim();
        } catch (RuntimeException e) {
            return "unknown driver";
        }
    }

    private TileConfig.Shape measureShapes(int dmax, DType q, DType kv) {
        TileConfig.Shape best = null;
        double bestSeconds = Double.POSITIVE_INFINITY;
        StringBuilder report = new StringBuilder();
        for (TileConfig.Shape shape : TileConfig.Shape.ALL) {
            TileConfig c = TileConfig.tiled(dmax, shape);
            if (!c.fits(device.maxWorkGroupSize(), device.localMemBytes())) {
                continue;
            }
            try (AttentionBackend backend = AttentionBackend.of(
                    new OpenClSession(device, "tiled", DecodeStreamConfig.Tuning.AUTO, shape, "off", 0))) {
                double seconds = timePrefill(backend, dmax, q, kv, rows, keys);
                report.append(' ').append(shape).append(' ').append(String.format("%.3f ms", seconds * 1e3));
                if (seconds < bestSeconds) {
                    bestSeconds = seconds;
                    best = shape;
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "tile shape {0} left out on {1}: {2}", shape, device.name(),
                        e.toString());
            }
        }
        LOG.log(System.Logger.Level.INFO, "tiled kernel shapes on {0}, head dims up to {1}, {2} q over {3} cache:{4}; "
                + "{5}", device.name(), dmax, q, kv, report, best == null ? "none ran, the heuristic stands"
                : "chose " + best);
        return best;
    }

    private DecodeStreamConfig.Tuning measureStream(int dmax, int tm, DType q, DType kv) {
        DecodeStreamConfig.Tuning best = null;
        double bestSeconds = Double.POSITIVE_INFINITY;
        StringBuilder report = new StringBuilder();
        int requests = Math.max(1, rows / ROWS_PER_DECODE_REQUEST);
        for (DecodeStreamConfig.Tuning candidate : DecodeStreamConfig.CANDIDATES) {
            if (candidate.workGroup() > device.maxWorkGroupSize()) {
                continue;
            }
            try (AttentionBackend backend = AttentionBackend.of(
                    new OpenClSession(device, "decode-stream", candidate, null, "off", 0))) {
                double seconds = timeDecode(backend, dmax, tm, q, kv, requests, keys);
                report.append(' ').append(candidate.text()).append(' ')
                        .append(String.format("%.3f ms", seconds * 1e3));
                if (seconds < bestSeconds) {
                    bestSeconds = seconds;
                    best = candidate;
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "streaming decode settings {0} left out on {1}: {2}",
                        candidate.text(), device.name(), e.toString());
            }
        }
        LOG.log(System.Logger.Level.INFO, "streaming decode settings (keys/group/prefetch) on {0}, head dims up to {1}, "
                + "{2} query heads a group, {3} q over {4} cache:{5}; {6}", device.name(), dmax, tm, q, kv, report,
                best == null ? "none ran, the defaults stand" : "chose " + best.text());
        return best;
    }

    /** Median seconds of one synthetic causal prefill of {@code rows} rows over {@code keys} keys. */
    private static double timePrefill(AttentionBackend backend, int dmax, DType q, DType kv, int rows, int keys) {
        int hq = KV_HEADS * GROUP;
        int pages = keys / PAGE;
        int[][] table = {new int[pages]};
        Arrays.setAll(table[0], i -> i);
        PageTable pt = PageTable.of(PAGE, table, new int[] {keys});
        HeadConfig heads = new HeadConfig(hq, KV_HEADS, dmax);
        long[] kvShape = {pages, PAGE, KV_HEADS, dmax};
        try (HostTensor qh = synthetic(q, (long) rows * hq * dmax, rows, hq, dmax);
             HostTensor kvh = synthetic(kv, (long) pages * PAGE * KV_HEADS * dmax, kvShape);
             Tensor qt = backend.upload(qh); Tensor k = backend.upload(kvh); Tensor v = backend.upload(kvh);
             Tensor o = backend.allocate(q, rows, hq, dmax);
             BatchAttentionPlan plan = backend.planBatchPrefill(new int[] {0, rows}, pt, heads,
                     AttentionOptions.DEFAULT.withCausal(true), null, PlanOptions.DEFAULT)) {
            return median(backend, () -> plan.run(qt, PagedKvCache.separate(k, v, KvLayout.NHD), o, null));
        }
    }

    /**
     * Median seconds of one synthetic decode: {@code requests} requests of {@code keys} keys,
     * {@code tm} query heads per KV head. K and V are zeros (allocated on the device: the kernel's
     * time does not depend on the values, and a host copy of this size would be large).
     */
    private static double timeDecode(AttentionBackend backend, int dmax, int tm, DType q, DType kv, int requests,
                                     int keys) {
        int hq = KV_HEADS * tm;
        int pagesPerRequest = keys / PAGE;
        int[][] table = new int[requests][pagesPerRequest];
        int[] lens = new int[requests];
        for (int b = 0; b < requests; b++) {
            final int first = b * pagesPerRequest;
            Arrays.setAll(table[b], i -> first + i);
            lens[b] = keys;
        }
        PageTable pt = PageTable.of(PAGE, table, lens);
        HeadConfig heads = new HeadConfig(hq, KV_HEADS, dmax);
        long pages = (long) requests * pagesPerRequest;
        try (HostTensor qh = synthetic(q, (long) requests * hq * dmax, requests, hq, dmax);
             Tensor qt = backend.upload(qh);
             Tensor k = backend.allocate(kv, pages, PAGE, KV_HEADS, dmax);
             Tensor v = backend.allocate(kv, pages, PAGE, KV_HEADS, dmax);
             Tensor o = backend.allocate(q, requests, hq, dmax);
             BatchAttentionPlan plan = backend.planBatchDecode(pt, heads, AttentionOptions.DEFAULT,
                     PlanOptions.DEFAULT)) {
            return median(backend, () -> plan.run(qt, PagedKvCache.separate(k, v, KvLayout.NHD), o, null));
        }
    }

    /** Runs {@code call} once to build and warm, then returns the median of timed runs. */
    private static double median(AttentionBackend backend, Runnable call) {
        call.run();
        backend.synchronize();
        double[] seconds = new double[TIMED_RUNS];
        for (int i = 0; i < TIMED_RUNS; i++) {
            DeviceTimer timer = backend.newTimer();
            timer.start();
            call.run();
            timer.stop();
            seconds[i] = timer.elapsedMillis() / 1e3;
        }
        Arrays.sort(seconds);
        return seconds[TIMED_RUNS / 2];
    }

    /** Small values of a fixed pattern: finite in every dtype, so no kernel takes a NaN path. */
    private static HostTensor synthetic(DType dtype, long count, long... shape) {
        float[] values = new float[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = ((i * 7919) % 17 - 8) / 16f;
        }
        return HostTensor.of(dtype, values, shape);
    }

    private Properties stored() {
        if (stored == null) {
            stored = new Properties();
            if (file != null && Files.isRegularFile(file)) {
                try (InputStream in = Files.newInputStream(file)) {
                    stored.load(in);
                } catch (IOException | IllegalArgumentException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot read tuned kernel settings from {0}: {1}", file, e);
                }
            }
        }
        return stored;
    }

    /** Writes the choices (re-read first, so other processes' entries stay) through a temporary file. */
    private void save() {
        if (file == null) {
            return;
        }
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Properties merged = new Properties();
            if (Files.isRegularFile(file)) {
                try (InputStream in = Files.newInputStream(file)) {
                    merged.load(in);
                }
            }
            merged.putAll(stored);
            Path tmp = Files.createTempFile(dir, "opencl-tuning", ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                merged.store(out, "attn4j OpenCL kernel settings, measured per device and driver");
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot store tuned kernel settings in {0}: {1}", file, e);
        }
    }
}
