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
 * Chooses the tiled kernel's shape for prefill-sized problems by timing every accepted shape
 * ({@link TileConfig.Shape#ALL}) on one synthetic prefill, once per device, driver, head-dim
 * bucket and dtype pair. Choices are kept for the session and in a properties file, so a
 * device and driver are measured once: {@code attn4j.opencl.tuneCache} names the file (default
 * {@code ~/.cache/attn4j/opencl-tiles.properties}; {@code none} keeps them in memory only).
 * A shape that fails to build or run is left out with a warning; when none runs, the caller's
 * heuristic stands.
 *
 * <p>Thread-safe: one tuning at a time per session.
 */
final class TileTuner {
    private static final System.Logger LOG = System.getLogger(TileTuner.class.getName());
    /** The synthetic prefill's rows and keys: enough work-groups for a few waves on a large GPU. */
    static final int ROWS = 1024;
    static final int KEYS = 2048;
    private static final int KV_HEADS = 4;
    private static final int GROUP = 4;
    private static final int PAGE = 16;
    private static final int TIMED_RUNS = 3;

    private final OpenClDevice device;
    private final Path file;
    private final int rows;
    private final int keys;
    private final Map<String, TileConfig.Shape> chosen = new HashMap<>();
    private Properties stored;
    /** Platform, device and driver: the first part of every key, asked of the driver once. */
    private String devicePart;

    /**
     * @param device the device whose shapes are timed
     * @param file   the properties file choices persist in, or null for memory only
     * @param rows   query rows of the synthetic prefill ({@link #ROWS})
     * @param keys   its keys, a multiple of 16 ({@link #KEYS})
     */
    TileTuner(OpenClDevice device, Path file, int rows, int keys) {
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
        return Path.of(System.getProperty("user.home"), ".cache", "attn4j", "opencl-tiles.properties");
    }

    /**
     * The fastest shape for head dims up to {@code dmax} with q of {@code q} and a cache of
     * {@code kv}, measured the first time, or null when no shape could be timed.
     */
    synchronized TileConfig.Shape shape(int dmax, DType q, DType kv) {
        String key = key(dmax, q, kv);
        TileConfig.Shape s = chosen.get(key);
        if (s != null) {
            return s;
        }
        String text = stored().getProperty(key);
        if (text != null) {
            try {
                s = TileConfig.Shape.parse(text);
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, "ignoring tuned tile shape {0} = {1} in {2}: {3}", key, text,
                        file, e.getMessage());
            }
        }
        if (s == null) {
            s = measure(dmax, q, kv);
            if (s == null) {
                return null;
            }
            stored.setProperty(key, s.toString());
            save();
        }
        chosen.put(key, s);
        return s;
    }

    private String key(int dmax, DType q, DType kv) {
        if (devicePart == null) {
            devicePart = device.platformName() + "|" + device.name() + "|" + driverVersion();
        }
        return devicePart + "|d" + dmax + "|" + q + "|" + kv;
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

    private TileConfig.Shape measure(int dmax, DType q, DType kv) {
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
                double seconds = time(backend, dmax, q, kv, rows, keys);
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

    /** Median seconds of one synthetic causal prefill of {@code rows} rows over {@code keys} keys. */
    private static double time(AttentionBackend backend, int dmax, DType q, DType kv, int rows, int keys) {
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
            PagedKvCache cache = PagedKvCache.separate(k, v, KvLayout.NHD);
            plan.run(qt, cache, o, null); // builds the kernel, warms the caches
            backend.synchronize();
            double[] seconds = new double[TIMED_RUNS];
            for (int i = 0; i < TIMED_RUNS; i++) {
                DeviceTimer timer = backend.newTimer();
                timer.start();
                plan.run(qt, cache, o, null);
                timer.stop();
                seconds[i] = timer.elapsedMillis() / 1e3;
            }
            Arrays.sort(seconds);
            return seconds[TIMED_RUNS / 2];
        }
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
                    LOG.log(System.Logger.Level.WARNING, "cannot read tuned tile shapes from {0}: {1}", file, e);
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
            Path tmp = Files.createTempFile(dir, "opencl-tiles", ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                merged.store(out, "attn4j OpenCL tiled kernel shapes, measured per device and driver");
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot store tuned tile shapes in {0}: {1}", file, e);
        }
    }
}
