package org.attn4j.cli.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.bench.BenchChart;
import org.attn4j.bench.BenchReport;
import org.attn4j.bench.BenchRow;
import org.attn4j.bench.BenchRunner;
import org.attn4j.bench.ContextParallelBench;
import org.attn4j.bench.EngineStepBench;
import org.attn4j.bench.MlaDecodeBench;
import org.attn4j.bench.BenchSettings;
import org.attn4j.bench.Progress;
import org.attn4j.bench.Workload;
import org.attn4j.bench.Workloads;
import org.attn4j.options.HeadConfig;
import java.util.concurrent.Callable;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Console;
import org.attn4j.cli.IntSpec;
import org.attn4j.cli.Names;
import org.attn4j.cli.Version;
import org.attn4j.kv.KvLayout;
import org.attn4j.spi.BackendProvider;
import org.attn4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code attn4j bench}: the spec §10 workloads and ad-hoc shapes on one or more backends (harness: attn4j-bench). */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
        header = "spec §10 workloads and ad-hoc shapes: time, bandwidth or FLOP rate; CSV, JSON, SVG",
        description = {"Times named workloads (spec §10) and ad-hoc shapes on the chosen backends, with the backend's "
                + "device timer, warm-up, repetitions over rotated input copies, median and p10/p90. Sampled rows of "
                + "every workload are checked against the reference backend before timing. Without --workload or --op, "
                + "every named workload runs.",
            "Rows are named workload[q dtype/kv dtype/layout], plus xF when their lengths were scaled: named "
                + "workloads on CPU backends are scaled by --cpu-scale; shapes typed with --op never are."})
public final class BenchCommand implements Callable<Integer> {
    private final Console console;

    @Spec
    CommandSpec spec;

    @Option(names = "--workload", paramLabel = "NAME", split = ",", completionCandidates = WorkloadNames.class,
            description = "a named workload or shape class (${COMPLETION-CANDIDATES}), 'all' (the named workloads)"
                    + " or 'classes' (the shape classes); repeatable, or a comma list")
    List<String> workload = new ArrayList<>();

    @Option(names = "--op", paramLabel = "decode|prefill", description = "an ad-hoc shape: the operation")
    String op;

    @Option(names = "--name", paramLabel = "NAME", description = "ad-hoc: the row's name")
    String name;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "ad-hoc: requests [default: ${DEFAULT-VALUE}]")
    int batch;

    @Option(names = "--kv-len", paramLabel = "N|A..B", defaultValue = "1024", converter = IntSpec.Converter.class,
            description = "ad-hoc: keys per request; a list gives one per request, a range draws each from it "
                    + "[default: ${DEFAULT-VALUE}]")
    IntSpec kvLen;

    @Option(names = "--qo-len", paramLabel = "N|A..B", converter = IntSpec.Converter.class,
            description = "ad-hoc prefill: query rows per request (default: kv-len)")
    IntSpec qoLen;

    @Option(names = "--hq", paramLabel = "N", defaultValue = "32", description = "ad-hoc: query heads [default: ${DEFAULT-VALUE}]")
    int hq;

    @Option(names = "--hkv", paramLabel = "N", defaultValue = "8", description = "ad-hoc: KV heads [default: ${DEFAULT-VALUE}]")
    int hkv;

    @Option(names = "--head-dim", paramLabel = "N", defaultValue = "128", description = "ad-hoc: head dim [default: ${DEFAULT-VALUE}]")
    int headDim;

    @Option(names = "--page-size", paramLabel = "N", defaultValue = "16", description = "ad-hoc: tokens per page [default: ${DEFAULT-VALUE}]")
    int pageSize;

    @Option(names = "--causal", description = "ad-hoc prefill: causal mask")
    boolean causal;

    @Option(names = "--q-dtype", paramLabel = "DTYPE", converter = Names.DTypeConverter.class,
            description = "q/o dtype (named workloads too; default bf16)")
    DType qDtype;

    @Option(names = "--kv-dtype", paramLabel = "DTYPE", converter = Names.DTypeConverter.class,
            description = "KV cache dtype (named workloads too; default bf16)")
    DType kvDtype;

    @Option(names = "--layout", paramLabel = "NHD|HND", converter = Names.LayoutConverter.class,
            description = "KV layout (named workloads too; default NHD)")
    KvLayout layout;

    @Option(names = "--backends", paramLabel = "LIST", split = ",",
            description = "backend ids, or 'available' for every available one (default: the best one)")
    List<String> backends = new ArrayList<>();

    @Option(names = "--scale", paramLabel = "F", defaultValue = "1",
            description = "multiply every row's lengths by F (the row's name then says xF) [default: ${DEFAULT-VALUE}]")
    double scale;

    @Option(names = "--cpu-scale", paramLabel = "F", defaultValue = "0.03125",
            description = "further factor for named workloads on CPU backends [default: ${DEFAULT-VALUE}]")
    double cpuScale;

    @Option(names = "--reps", paramLabel = "N", defaultValue = "100", description = "most timed repetitions [default: ${DEFAULT-VALUE}]")
    int reps;

    @Option(names = "--min-reps", paramLabel = "N", defaultValue = "5", description = "fewest timed repetitions [default: ${DEFAULT-VALUE}]")
    int minReps;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "2", description = "target timed seconds per row [default: ${DEFAULT-VALUE}]")
    double seconds;

    @Option(names = "--warmup", paramLabel = "N", description = "untimed runs before timing (default: about 200 ms)")
    Integer warmup;

    @Option(names = "--rotate-mb", paramLabel = "MB", defaultValue = "128",
            description = "on GPUs, add input copies until they exceed this [default: ${DEFAULT-VALUE}]")
    double rotateMb;

    @Option(names = "--check-rows", paramLabel = "N", defaultValue = "8",
            description = "rows compared with the reference (0: no check) [default: ${DEFAULT-VALUE}]")
    int checkRows;

    @Option(names = "--bw-ceiling", paramLabel = "B/S", defaultValue = "4.49e12",
            description = "bandwidth ceiling for decode rows [default: ${DEFAULT-VALUE}]")
    double bwCeiling;

    @Option(names = "--flops-ceiling", paramLabel = "F/S", defaultValue = "790e12",
            description = "matrix FLOP/s ceiling for prefill rows [default: ${DEFAULT-VALUE}]")
    double flopsCeiling;

    @Option(names = "--ceiling-on-cpu", description = "also give CPU backends a % of the ceilings")
    boolean ceilingOnCpu;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42", description = "input data seed [default: ${DEFAULT-VALUE}]")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "write bench.csv, bench.json and bench.svg there")
    Path out;

    @Option(names = "--replot", paramLabel = "CSV",
            description = "only redraw bench.svg into --out (default .) from a CSV, peers' rows included")
    Path replot;

    @Option(names = "--list", description = "list the named workloads and the shape classes, and exit")
    boolean list;

    public BenchCommand(Console console) {
        this.console = console;
    }

    /** The named workloads, for the help text. */
    static final class WorkloadNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return Workloads.names().iterator();
        }
    }

    private ParameterException error(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    @Override
    public Integer call() throws Exception {
        PrintStream out = console.out();
        PrintStream err = console.err();
        if (list) {
            List<Workload> listed = new ArrayList<>(Workloads.named().values());
            listed.addAll(Workloads.classes().values());
            for (Workload w : listed) {
                out.printf("%-22s %-8s B=%d %s Hq/Hkv/D=%d/%d/%d page %d %s%s%n", w.name(), w.op().label(), w.batch(),
                        w.lengthsDescription(), w.heads().numQoHeads(), w.heads().numKvHeads(), w.heads().headDimQk(),
                        w.pageSize(), w.layout(), w.causal() ? " causal" : "");
            }
            return 0;
        }
        if (replot != null) {
            Path dir = this.out == null ? Path.of(".") : this.out;
            List<BenchRow> rows = BenchReport.readCsv(replot);
            Files.createDirectories(dir);
            BenchChart.write(rows, dir.resolve(BenchReport.SVG));
            out.println("bench: " + rows.size() + " rows drawn into " + dir.resolve(BenchReport.SVG));
            return 0;
        }
        BenchSettings settings = settings();
        List<Workload> workloads = workloads();
        List<String> ids = backendIds();
        if (this.out != null && Files.exists(this.out) && !Files.isDirectory(this.out)) {
            throw new CliException("--out: " + this.out + " is a file, not a directory");
        }
        List<BenchRow> rows = new ArrayList<>();
        int failures = 0;
        try (AttentionBackend reference = settings.checkRows() > 0 ? openReference(err) : null) {
            Progress progress = new Progress(err, workloads.size() * ids.size(), System.console() != null);
            BenchRunner runner = new BenchRunner(settings, reference);
            BenchReport.printHeader(out);
            for (String id : ids) {
                try (AttentionBackend backend = Backends.open(id)) {
                    for (Workload w : workloads) {
                        String unsupported = w.unsupportedBy(backend.capabilities());
                        if (unsupported != null) {
                            out.printf("%-44s %-10s skipped: %s%n", runner.effective(w, backend).label(), id,
                                    "backend '" + id + "': " + unsupported);
                            progress.stepDone();
                            continue;
                        }
                        try {
                            BenchRow row = runner.measure(w, backend, progress);
                            rows.add(row);
                            progress.finish();
                            BenchReport.printRow(out, row);
                            if (row.check().startsWith("FAIL")) {
                                failures++;
                            }
                        } catch (RuntimeException | OutOfMemoryError e) {
                            progress.finish();
                            failures++;
                            out.printf("%-44s %-10s skipped: %s%n", runner.effective(w, backend).label(), id,
                                    e.getMessage() == null ? e : e.getMessage().lines().findFirst().orElse(""));
                        }
                        progress.stepDone();
                    }
                    if (contextParallel()) {
                        try {
                            BenchRow row = contextParallel(backend);
                            rows.add(row);
                            BenchReport.printRow(out, row);
                        } catch (RuntimeException | OutOfMemoryError e) {
                            failures++;
                            out.printf("%-44s %-10s skipped: %s%n", ContextParallelBench.NAME, id,
                                    e.getMessage() == null ? e : e.getMessage().lines().findFirst().orElse(""));
                        }
                    }
                    if (mlaDecode()) {
                        failures += mlaDecode(runner, backend, progress, rows);
                    }
                    if (engineStep()) {
                        try {
                            BenchRow row = engineStep(backend, settings);
                            if (row != null) {
                                rows.add(row);
                                BenchReport.printRow(out, row);
                            }
                        } catch (RuntimeException | OutOfMemoryError e) {
                            failures++;
                            out.printf("%-44s %-10s skipped: %s%n", ENGINE_STEP, id,
                                    e.getMessage() == null ? e : e.getMessage().lines().findFirst().orElse(""));
                        }
                    }
                } catch (RuntimeException e) {
                    failures++;
                    out.println(id + ": cannot open: " + (e.getMessage() == null ? e
                            : e.getMessage().lines().findFirst().orElse("")));
                }
            }
            progress.finish();
        }
        if (this.out != null) {
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("tool", "attn4j bench");
            meta.put("attn4j", Version.projectVersion());
            meta.put("java", Runtime.version().toString());
            meta.put("backends", ids);
            meta.put("workloads", workloads.stream().map(Workload::label).toList());
            meta.put("settings", settings.asMap());
            BenchReport.write(this.out, rows, meta);
            out.println("bench: wrote " + BenchReport.CSV + ", " + BenchReport.JSON + ", " + BenchReport.SVG + " in "
                    + this.out);
        }
        return failures == 0 ? 0 : 1;
    }

    private static AttentionBackend openReference(PrintStream err) {
        try {
            return Backends.open("reference");
        } catch (RuntimeException e) {
            err.println("bench: no reference backend, rows are not checked: " + e.getMessage());
            return null;
        }
    }

    List<String> backendIds() {
        List<String> ids = backends.stream().map(String::strip).filter(x -> !x.isEmpty()).toList();
        if (ids.isEmpty()) {
            return List.of(Backends.best().id());
        }
        if (ids.size() == 1 && ids.getFirst().equals("available")) {
            return Backends.providers().stream().filter(p -> p.probe().available()).map(BackendProvider::id).toList();
        }
        return ids;
    }

    BenchSettings settings() {
        BenchSettings d = BenchSettings.DEFAULT;
        if (!(scale > 0) || !(cpuScale > 0) || !Double.isFinite(scale) || !Double.isFinite(cpuScale)) {
            throw error("--scale and --cpu-scale must be finite and > 0");
        }
        if (minReps < 1 || reps < minReps) {
            throw error("--reps must be >= --min-reps >= 1, actual " + reps + ", " + minReps);
        }
        if (!(seconds >= 0) || !(rotateMb >= 0) || checkRows < 0 || (warmup != null && warmup < 0)) {
            throw error("--seconds, --rotate-mb, --check-rows and --warmup must be >= 0");
        }
        return new BenchSettings(scale, cpuScale, minReps, reps, seconds, warmup == null ? -1 : warmup,
                (long) (rotateMb * (1 << 20)), d.maxSetBytes(), checkRows, bwCeiling, flopsCeiling, ceilingOnCpu, seed);
    }

    /** Selects every shape class (Workloads.classes()). */
    static final String CLASSES = "classes";

    /** The engine step workload's name: measured by {@link EngineStepBench}, not the generic runner. */
    static final String ENGINE_STEP = "engine-step";

    /** Whether the engine step is asked for (by name, or by all workloads). */
    boolean engineStep() {
        if (op != null && workload.stream().map(String::strip).noneMatch(w -> w.equals(ENGINE_STEP))) {
            return false;
        }
        return workload.isEmpty() || workload.stream().map(String::strip)
                .anyMatch(w -> w.equals(ENGINE_STEP) || w.equals("all"));
    }

    /**
     * The engine step on {@code backend}: Llama-3-8B's attention block on GPUs, a small shape on
     * CPU backends (named so on its row). Null when the backend has no device-resident metadata.
     */
    private BenchRow engineStep(AttentionBackend backend, BenchSettings settings) {
        if (!backend.capabilities().has(org.attn4j.spi.Feature.DEVICE_METADATA)) {
            return null;
        }
        EngineStepBench.Shape shape = BenchRunner.onGpu(backend) ? org.attn4j.bench.Workloads.engineStep()
                : new EngineStepBench.Shape(4, 64, 2, 1, 4, new org.attn4j.options.HeadConfig(32, 8, 128), 16);
        double ceiling = BenchRunner.onGpu(backend) || settings.ceilingOnCpu() ? settings.bwCeiling() : Double.NaN;
        return EngineStepBench.measure(backend, shape).row(backend.id(), ceiling);
    }

    /** Whether {@code decode-long-cp} is asked for (by name only: it is not among the named workloads). */
    boolean contextParallel() {
        return workload.stream().map(String::strip).anyMatch(w -> w.equals(ContextParallelBench.NAME));
    }

    /**
     * {@code decode-long-cp} on {@code backend}: decode-long's shape over 4 logical shards on GPUs,
     * a small shape on CPU backends.
     */
    private BenchRow contextParallel(AttentionBackend backend) {
        boolean gpu = BenchRunner.onGpu(backend);
        Workload base = Workloads.byName("decode-long");
        int batch = gpu ? base.batch() : 2;
        int kvLen = gpu ? base.kvLen(0) : 1000;
        return ContextParallelBench.measure(backend, batch, kvLen, gpu ? base.heads()
                : new org.attn4j.options.HeadConfig(8, 2, 64), 4, gpu ? 50 : 3).row(backend.id());
    }

    /** Whether {@code decode-mla} is asked for (by name only: it is not among the named workloads). */
    boolean mlaDecode() {
        return workload.stream().map(String::strip).anyMatch(w -> w.equals(MlaDecodeBench.NAME));
    }

    /** decode-mla's shape with the dtypes of --q-dtype and --kv-dtype. */
    MlaDecodeBench.Shape mlaShape() {
        MlaDecodeBench.Shape s = Workloads.mlaDecode();
        return s.withDtypes(qDtype == null ? s.qDtype() : qDtype, kvDtype == null ? s.kvDtype() : kvDtype);
    }

    /**
     * {@code decode-mla} on {@code backend}, its row printed and added to {@code rows}. A backend
     * without MLA gets a skipped line naming why, which is not a failure (as a backend without
     * device-resident metadata has no engine-step row); a failed run or check is.
     *
     * @return the failures: 0 or 1
     */
    private int mlaDecode(BenchRunner runner, AttentionBackend backend, Progress progress, List<BenchRow> rows) {
        PrintStream out = console.out();
        MlaDecodeBench.Shape shape = mlaShape();
        String why = MlaDecodeBench.unsupported(backend);
        if (why != null) {
            out.printf("%-44s %-10s skipped: %s%n", shape.label(), backend.id(), why);
            return 0;
        }
        try {
            BenchRow row = MlaDecodeBench.measure(runner, shape, backend, progress);
            progress.finish();
            rows.add(row);
            BenchReport.printRow(out, row);
            return row.check().startsWith("FAIL") ? 1 : 0;
        } catch (RuntimeException | OutOfMemoryError e) {
            progress.finish();
            out.printf("%-44s %-10s skipped: %s%n", shape.label(), backend.id(),
                    e.getMessage() == null ? e : e.getMessage().lines().findFirst().orElse(""));
            return 1;
        }
    }

    /** The workloads measured apart from the named ones, selected by name only or (engine-step) by 'all'. */
    private static boolean measuredApart(String w) {
        return w.equals(ENGINE_STEP) || w.equals(ContextParallelBench.NAME) || w.equals(MlaDecodeBench.NAME);
    }

    List<Workload> workloads() {
        Map<String, Workload> named = Workloads.named();
        List<Workload> chosen = new ArrayList<>();
        for (String n : workload) {
            String t = n.strip();
            if (t.equals("all")) {
                chosen.addAll(named.values());
            } else if (t.equals(CLASSES)) {
                chosen.addAll(Workloads.classes().values());
            } else if (Workloads.byName(t) != null) {
                chosen.add(Workloads.byName(t));
            } else if (measuredApart(t)) {
                continue; // measured apart (engineStep(), contextParallel(), mlaDecode())
            } else if (!t.isEmpty()) {
                throw error("unknown workload '" + t + "'; known: all, " + CLASSES + ", "
                        + String.join(", ", Workloads.names()) + ", " + ENGINE_STEP + ", "
                        + ContextParallelBench.NAME + ", " + MlaDecodeBench.NAME);
            }
        }
        if (op != null) {
            chosen.add(adHoc());
        }
        boolean onlyEngineStep = !workload.isEmpty()
                && workload.stream().map(String::strip).allMatch(w -> measuredApart(w) || w.isEmpty());
        if (chosen.isEmpty() && !onlyEngineStep) {
            chosen.addAll(named.values());
        }
        List<Workload> result = new ArrayList<>();
        for (Workload w : chosen) {
            Workload x = w.withDtypes(qDtype == null ? w.qDtype() : qDtype, kvDtype == null ? w.kvDtype() : kvDtype);
            result.add(layout == null ? x : x.withLayout(layout));
        }
        return result;
    }

    Workload adHoc() {
        if (!op.equals("decode") && !op.equals("prefill")) {
            throw error("--op: expected decode or prefill, actual '" + op + "'");
        }
        if (batch < 1) {
            throw error("--batch must be >= 1, actual " + batch);
        }
        if (op.equals("decode") && qoLen != null) {
            throw error("--qo-len is for --op prefill; decode has one query row per request");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] kv = lengths(kvLen, "--kv-len", rnd);
        int[] qo = op.equals("decode") ? Workloads.ones(batch) : qoLen != null ? lengths(qoLen, "--qo-len", rnd)
                : kv.clone();
        HeadConfig heads;
        try {
            heads = new HeadConfig(hq, hkv, headDim);
        } catch (IllegalArgumentException e) {
            throw error(e.getMessage());
        }
        if (pageSize < 1) {
            throw error("--page-size must be >= 1, actual " + pageSize);
        }
        for (int b = 0; b < batch; b++) {
            if (causal && qo[b] > kv[b]) {
                throw error("--causal needs qo-len <= kv-len; request " + b + " has " + qo[b] + " > " + kv[b]);
            }
        }
        String rowName = name != null ? name : op + "-b" + batch + "-kv" + kvLen.text()
                + (qoLen != null ? "-qo" + qoLen.text() : "") + "-" + hq + "x" + hkv + "x" + headDim
                + (pageSize != 16 ? "-p" + pageSize : "") + (causal ? "-causal" : "");
        return new Workload(rowName, op.equals("decode") ? Workload.Op.DECODE : Workload.Op.PREFILL, qo, kv, 0, heads,
                pageSize, DType.BF16, DType.BF16, KvLayout.NHD, causal, 1.0, true);
    }

    private int[] lengths(IntSpec spec, String option, SplittableRandom rnd) {
        if (spec.lo() < 0) {
            throw error(option + " must be >= 0, actual " + spec);
        }
        if (spec.range()) {
            return Workloads.range(batch, spec.lo(), spec.hi(), rnd);
        }
        int[] v = spec.values();
        if (v.length != 1 && v.length != batch) {
            throw error(option + " lists " + v.length + " lengths for --batch " + batch);
        }
        int[] out = new int[batch];
        for (int b = 0; b < batch; b++) {
            out[b] = v.length == 1 ? v[0] : v[b];
            if (out[b] < 0) {
                throw error(option + " must be >= 0, actual " + out[b]);
            }
        }
        return out;
    }
}
