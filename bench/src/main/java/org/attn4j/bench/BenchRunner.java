package org.attn4j.bench;

import java.util.Locale;
import org.attn4j.AttentionBackend;
import org.attn4j.spi.DeviceTimer;

/**
 * Measures one workload on one backend: inputs on the device (rotated copies on GPUs), a check
 * of sampled rows against the reference, warm-up, then repetitions timed with the backend's
 * {@link DeviceTimer}. Each timed repetition queues one run per input copy back to back and
 * divides, so host launch overhead hides behind device work as in a serving loop.
 *
 * <p>A runner holds only its settings and may be shared between threads; each measurement uses
 * its backend alone for its duration.
 */
public final class BenchRunner {
    private static final System.Logger LOG = System.getLogger(BenchRunner.class.getName());

    private final BenchSettings settings;
    private final AttentionBackend reference;

    /**
     * A runner measuring with {@code settings}.
     *
     * @param settings  how rows are measured
     * @param reference the backend outputs are checked against; null to skip the check
     */
    public BenchRunner(BenchSettings settings, AttentionBackend reference) {
        this.settings = settings;
        this.reference = reference;
    }

    /**
     * Whether a backend runs on a GPU, which gets rotated input copies, full lengths and a ceiling.
     *
     * @param backend the backend
     * @return true for CUDA, and for a device whose description names a GPU and no CPU
     */
    public static boolean onGpu(AttentionBackend backend) {
        String device = backend.device().toLowerCase(Locale.ROOT);
        return backend.id().equals("cuda") || (device.contains("gpu") && !device.contains("cpu"));
    }

    /**
     * The workload as this backend runs it: every row gets {@code --scale}; named workloads on a
     * CPU backend also get {@code --cpu-scale}; a shape typed on the command line keeps its
     * lengths. A row whose lengths changed carries the factor in its name.
     *
     * @param w       the workload as named or typed
     * @param backend the backend it will run on
     * @return the workload with its lengths scaled
     */
    public Workload effective(Workload w, AttentionBackend backend) {
        double factor = settings.scale() * (onGpu(backend) || w.adHoc() ? 1.0 : settings.cpuScale());
        return w.scaled(factor);
    }

    /**
     * Calls a device sample queues back to back (cycling the input copies), as an engine queues
     * one layer's attention after another: the host's launch latency then overlaps device work
     * instead of sitting between the sample's start event and its first kernel.
     */
    public static final int QUEUED_CALLS = 8;

    /**
     * Measures one workload on one backend: prepares its inputs, checks sampled rows against the
     * reference, warms up and times it. A failed check is logged and written in the row's check
     * column; it does not stop the measurement.
     *
     * @param named    the workload as named or typed ({@link #effective} scales it)
     * @param backend  the backend measured
     * @param progress where the phases are shown
     * @return the row
     */
    public BenchRow measure(Workload named, AttentionBackend backend, Progress progress) {
        Workload w = effective(named, backend);
        boolean gpu = onGpu(backend);
        String label = w.label() + " on " + backend.id();
        progress.update(label + ": inputs", 0);
        try (BenchCase c = new BenchCase(w, settings.seed())) {
            int[] sc = setsAndCalls(gpu, c.setBytes());
            int sets = sc[0];
            int calls = sc[1];
            c.prepare(backend, sets);
            progress.update(label + ": check", 0.05);
            c.run(0);
            backend.synchronize();
            String check = settings.checkRows() > 0 && reference != null
                    ? checkColumn(ReferenceCheck.check(c, backend, reference, settings.checkRows()), label)
                    : "skipped";
            Timed timed = time(backend, c::run, sets, calls, progress, label);
            return row(w, backend, gpu, timed.stats(), sets, check, timed.method());
        }
    }

    /** The check column of a row: the summary, and the first bad element of a failure (also logged). */
    static String checkColumn(ReferenceCheck.Result r, String label) {
        if (!r.pass()) {
            LOG.log(System.Logger.Level.WARNING, "{0}: output differs from the reference: {1}", label, r.note());
        }
        return r.summary() + (r.pass() ? "" : " " + r.note());
    }

    /** Timings and how they were taken. */
    record Timed(Stats stats, String method) {}

    /**
     * Sizes warm-up and repetitions from a first timed pass, then times {@code calls} runs per
     * repetition cycling over {@code sets} input sets; the shared timing of every row.
     */
    Timed time(AttentionBackend backend, java.util.function.IntConsumer run, int sets, int calls, Progress progress,
               String label) {
        try (DeviceTimer timer = backend.newTimer()) {
            // first timed pass over every copy: the estimate that sizes warm-up and repetitions
            timer.start();
            for (int i = 0; i < calls; i++) {
                run.accept(i % sets);
            }
            timer.stop();
            double perRunMs = Math.max(1e-4, timer.elapsedMillis() / calls);
            int warmup = settings.warmupRuns() >= 0 ? settings.warmupRuns()
                    : (int) Math.max(1, Math.min(20, 200.0 / (perRunMs * calls)));
            for (int i = 0; i < warmup; i++) {
                progress.update(label + ": warm-up", 0.1);
                for (int k = 0; k < calls; k++) {
                    run.accept(k % sets);
                }
            }
            backend.synchronize();
            int reps = (int) Math.max(settings.minReps(), Math.min(settings.maxReps(),
                    settings.seconds() * 1000 / (perRunMs * calls)));
            double[] samples = new double[reps];
            for (int r = 0; r < reps; r++) {
                timer.start();
                for (int i = 0; i < calls; i++) {
                    run.accept(i % sets);
                }
                timer.stop();
                samples[r] = timer.elapsedMillis() * 1000.0 / calls;
                progress.update(label + ": " + (r + 1) + "/" + reps, 0.1 + 0.9 * (r + 1) / reps);
            }
            return new Timed(Stats.of(samples), timer.method());
        }
    }

    /**
     * Input sets to rotate through and calls per timed repetition: on a GPU, sets until they
     * exceed the rotation size (within the set limit) and at least {@link #QUEUED_CALLS} calls;
     * elsewhere one of each.
     */
    int[] setsAndCalls(boolean gpu, long setBytes) {
        if (!gpu) {
            return new int[] {1, 1};
        }
        long per = Math.max(1, setBytes);
        int sets = (int) Math.max(1, Math.min(64, (settings.rotateBytes() + per - 1) / per));
        sets = (int) Math.max(1, Math.min(sets, settings.maxSetBytes() / per));
        return new int[] {sets, Math.max(sets, QUEUED_CALLS)};
    }

    /**
     * The length factor a named workload runs with on {@code backend}: {@code --scale}, times
     * {@code --cpu-scale} off GPUs.
     */
    double factor(AttentionBackend backend) {
        return settings.scale() * (onGpu(backend) ? 1.0 : settings.cpuScale());
    }

    BenchSettings settings() {
        return settings;
    }

    /** The backend outputs are checked against, or null. */
    AttentionBackend reference() {
        return reference;
    }

    private BenchRow row(Workload w, AttentionBackend backend, boolean gpu, Stats st, int sets, String check,
                         String timerMethod) {
        Traffic t = Traffic.of(w);
        double seconds = st.median() * 1e-6;
        boolean decodeLike = w.isDecodeLike();
        double rate = decodeLike ? t.bytes() / seconds / 1e12 : t.flops() / seconds / 1e12;
        double ceiling = decodeLike ? settings.bwCeiling() : settings.flopsCeiling();
        if (!gpu && !settings.ceilingOnCpu()) {
            ceiling = Double.NaN;
        }
        double pct = Double.isNaN(ceiling) ? Double.NaN : 100.0 * rate * 1e12 / ceiling;
        return new BenchRow(w.label(), backend.id(), backend.device(), w.op().label(), w.batch(),
                w.heads().numQoHeads(), w.heads().numKvHeads(), w.heads().headDimQk(), w.pageSize(),
                w.qDtype().name().toLowerCase(Locale.ROOT), w.kvDtype().name().toLowerCase(Locale.ROOT),
                w.layout().name(), w.causal(), w.lengthsDescription(), w.scale(), st.median(), st.p10(), st.p90(),
                st.count(), sets, t.bytes(), t.flops(), decodeLike ? "TB/s" : "TFLOP/s", rate, ceiling, pct, check,
                timerMethod);
    }
}
