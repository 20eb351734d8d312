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
import org.attn4j.options.HeadConfig;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Command;
import org.attn4j.cli.Names;
import org.attn4j.cli.ParsedArgs;
import org.attn4j.kv.KvLayout;
import org.attn4j.spi.BackendProvider;
import org.attn4j.tensor.DType;

/** {@code attn4j bench}: the spec §10 workloads and ad-hoc shapes on one or more backends. */
public final class BenchCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("bench", "Times named workloads (spec §10) and ad-hoc shapes on the chosen backends, "
                + "with the\nbackend's device timer, warm-up, repetitions over rotated input copies, median and "
                + "p10/p90.\nSampled rows of every workload are checked against the reference backend before "
                + "timing.\nNamed workloads: " + String.join(", ", Workloads.names())
                + ".\nWithout --workload or --op, every named workload runs.")
                .repeatable("workload", "NAME", "a named workload, or 'all'")
                .option("op", "decode|prefill", "an ad-hoc shape: the operation")
                .option("name", "NAME", "label of the ad-hoc row")
                .option("batch", "N", "ad-hoc: requests", "1")
                .option("kv-len", "N|A..B", "ad-hoc: keys per request, or a range drawn per request", "1024")
                .option("qo-len", "N|A..B", "ad-hoc prefill: query rows per request (default: kv-len)")
                .option("hq", "N", "ad-hoc: query heads", "32")
                .option("hkv", "N", "ad-hoc: KV heads", "8")
                .option("head-dim", "N", "ad-hoc: head dim", "128")
                .option("page-size", "N", "ad-hoc: tokens per page", "16")
                .flag("causal", "ad-hoc prefill: causal mask")
                .option("q-dtype", "DTYPE", "q/o dtype (applies to named workloads too)")
                .option("kv-dtype", "DTYPE", "KV cache dtype (applies to named workloads too)")
                .option("layout", "NHD|HND", "KV layout (applies to named workloads too)")
                .option("backends", "LIST", "comma-separated backend ids, 'available' for all available "
                        + "(default: the best one)")
                .option("scale", "F", "multiply every length by F (shrinks workloads)", "1")
                .option("cpu-scale", "F", "further factor for backends on a CPU", "0.03125")
                .option("reps", "N", "most timed repetitions", "100")
                .option("min-reps", "N", "fewest timed repetitions", "5")
                .option("seconds", "S", "target timed seconds per row", "2")
                .option("warmup", "N", "untimed runs before timing (default: about 200 ms)")
                .option("rotate-mb", "MB", "on GPUs, add input copies until they exceed this", "128")
                .option("check-rows", "N", "rows compared with the reference (0: no check)", "8")
                .option("bw-ceiling", "B/S", "bandwidth ceiling for decode rows", "4.49e12")
                .option("flops-ceiling", "F/S", "matrix FLOP/s ceiling for prefill rows", "790e12")
                .flag("ceiling-on-cpu", "also give CPU backends a % of the ceilings")
                .option("seed", "N", "input data seed", "42")
                .option("out", "DIR", "write bench.csv, bench.json and bench.png there")
                .option("replot", "CSV", "only redraw bench.png in --out from a CSV (peers rows included)")
                .flag("list", "list the named workloads and exit");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) throws Exception {
        if (args.flag("list")) {
            for (Workload w : Workloads.named().values()) {
                out.printf("%-22s %-8s B=%d %s Hq/Hkv/D=%d/%d/%d page %d %s%s%n", w.name(), w.op().label(), w.batch(),
                        w.lengthsDescription(), w.heads().numQoHeads(), w.heads().numKvHeads(), w.heads().headDim(),
                        w.pageSize(), w.layout(), w.causal() ? " causal" : "");
            }
            return 0;
        }
        if (args.has("replot")) {
            Path dir = Path.of(args.string("out", "."));
            List<BenchRow> rows = BenchReport.readCsv(Path.of(args.string("replot")));
            Files.createDirectories(dir);
            BenchChart.write(rows, dir.resolve(BenchReport.PNG));
            out.println("bench: " + rows.size() + " rows drawn into " + dir.resolve(BenchReport.PNG));
            return 0;
        }
        List<Workload> workloads = workloads(args);
        BenchSettings settings = settings(args);
        List<String> ids = backendIds(args);
        List<BenchRow> rows = new ArrayList<>();
        int failures = 0;
        try (AttentionBackend reference = settings.checkRows() > 0 ? openReference(err) : null) {
            Progress progress = new Progress(err, workloads.size() * ids.size(), System.console() != null);
            BenchRunner runner = new BenchRunner(settings, reference);
            BenchReport.printHeader(out);
            for (String id : ids) {
                try (AttentionBackend backend = Backends.open(id)) {
                    for (Workload w : workloads) {
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
                            out.printf("%-22s %-10s skipped: %s%n", w.name(), id, e.getMessage() == null ? e
                                    : e.getMessage().lines().findFirst().orElse(""));
                        }
                        progress.stepDone();
                    }
                } catch (RuntimeException e) {
                    failures++;
                    out.println(id + ": cannot open: " + e.getMessage().lines().findFirst().orElse(""));
                }
            }
            progress.finish();
        }
        if (args.has("out")) {
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("tool", "attn4j bench");
            meta.put("java", Runtime.version().toString());
            meta.put("settings", settings.toString());
            BenchReport.write(Path.of(args.string("out")), rows, meta, err);
            out.println("bench: wrote " + BenchReport.CSV + ", " + BenchReport.JSON + ", " + BenchReport.PNG + " in "
                    + args.string("out"));
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

    static List<String> backendIds(ParsedArgs args) {
        List<String> ids = args.list("backends");
        if (ids.isEmpty()) {
            return List.of(Backends.best().id());
        }
        if (ids.size() == 1 && ids.getFirst().equals("available")) {
            return Backends.providers().stream().filter(p -> p.probe().available()).map(BackendProvider::id).toList();
        }
        return ids;
    }

    static BenchSettings settings(ParsedArgs args) {
        BenchSettings d = BenchSettings.DEFAULT;
        double scale = args.number("scale", d.scale());
        double cpuScale = args.number("cpu-scale", d.cpuScale());
        if (!(scale > 0) || !(cpuScale > 0)) {
            throw args.error("--scale and --cpu-scale must be > 0");
        }
        int minReps = args.integer("min-reps", d.minReps());
        int maxReps = args.integer("reps", d.maxReps());
        if (minReps < 1 || maxReps < minReps) {
            throw args.error("--reps must be >= --min-reps >= 1, actual " + maxReps + ", " + minReps);
        }
        return new BenchSettings(scale, cpuScale, minReps, maxReps, args.number("seconds", d.seconds()),
                args.integer("warmup", -1), (long) (args.number("rotate-mb", 128) * (1 << 20)), d.maxSetBytes(),
                args.integer("check-rows", d.checkRows()), args.number("bw-ceiling", d.bwCeiling()),
                args.number("flops-ceiling", d.flopsCeiling()), args.flag("ceiling-on-cpu"),
                args.integer("seed", (int) d.seed()));
    }

    static List<Workload> workloads(ParsedArgs args) {
        Map<String, Workload> named = Workloads.named();
        List<Workload> list = new ArrayList<>();
        for (String n : args.list("workload")) {
            if (n.equals("all")) {
                list.addAll(named.values());
            } else if (named.containsKey(n)) {
                list.add(named.get(n));
            } else {
                throw args.error("unknown workload '" + n + "'; known: " + String.join(", ", named.keySet()));
            }
        }
        if (args.has("op")) {
            list.add(adHoc(args));
        }
        if (list.isEmpty()) {
            list.addAll(named.values());
        }
        DType q = args.has("q-dtype") ? Names.dtype(args.string("q-dtype"), "--q-dtype") : null;
        DType kv = args.has("kv-dtype") ? Names.dtype(args.string("kv-dtype"), "--kv-dtype") : null;
        KvLayout layout = args.has("layout") ? Names.layout(args.string("layout"), "--layout") : null;
        List<Workload> out = new ArrayList<>();
        for (Workload w : list) {
            Workload x = w.withDtypes(q == null ? w.qDtype() : q, kv == null ? w.kvDtype() : kv);
            if (layout != null) {
                x = x.withLayout(layout);
            }
            boolean changed = x.qDtype() != w.qDtype() || x.kvDtype() != w.kvDtype() || x.layout() != w.layout();
            if (changed && named.containsKey(w.name())) {
                x = x.withName(w.name() + "[" + x.qDtype().name().toLowerCase() + "/"
                        + x.kvDtype().name().toLowerCase() + "/" + x.layout() + "]");
            }
            out.add(x);
        }
        return out;
    }

    static Workload adHoc(ParsedArgs args) {
        String op = args.string("op");
        if (!op.equals("decode") && !op.equals("prefill")) {
            throw args.error("--op: expected decode or prefill, actual '" + op + "'");
        }
        int batch = args.integer("batch", 1);
        if (batch < 1) {
            throw args.error("--batch must be >= 1, actual " + batch);
        }
        SplittableRandom rnd = new SplittableRandom(args.integer("seed", 42));
        int[] kv = lengths(args, "kv-len", batch, rnd, null);
        int[] qo = op.equals("decode") ? Workloads.ones(batch)
                : args.has("qo-len") ? lengths(args, "qo-len", batch, rnd, null) : kv.clone();
        HeadConfig heads;
        try {
            heads = new HeadConfig(args.integer("hq", 32), args.integer("hkv", 8), args.integer("head-dim", 128));
        } catch (IllegalArgumentException e) {
            throw args.error(e.getMessage());
        }
        int page = args.integer("page-size", 16);
        if (page < 1) {
            throw args.error("--page-size must be >= 1, actual " + page);
        }
        boolean causal = args.flag("causal");
        for (int b = 0; b < batch; b++) {
            if (causal && qo[b] > kv[b]) {
                throw args.error("--causal needs qo-len <= kv-len; request " + b + " has " + qo[b] + " > " + kv[b]);
            }
        }
        String name = args.string("name", op + "-b" + batch + "-kv" + args.string("kv-len") + "-"
                + heads.numQoHeads() + "x" + heads.numKvHeads() + "x" + heads.headDim());
        return new Workload(name, op.equals("decode") ? Workload.Op.DECODE : Workload.Op.PREFILL, qo, kv, 0, heads,
                page, DType.BF16, DType.BF16, KvLayout.NHD, causal, 1.0);
    }

    private static int[] lengths(ParsedArgs args, String name, int batch, SplittableRandom rnd, int[] fallback) {
        int[] spec = args.intList(name);
        if (spec.length == 0) {
            throw args.error("--" + name + " needs a value");
        }
        String raw = args.string(name);
        if (raw.contains("..")) {
            if (spec[0] < 0) {
                throw args.error("--" + name + " must be >= 0");
            }
            return Workloads.range(batch, spec[0], spec[1], rnd);
        }
        int[] out = new int[batch];
        for (int b = 0; b < batch; b++) {
            out[b] = spec.length == 1 ? spec[0] : spec[Math.min(b, spec.length - 1)];
            if (out[b] < 0) {
                throw args.error("--" + name + " must be >= 0, actual " + out[b]);
            }
        }
        if (spec.length != 1 && spec.length != batch) {
            throw args.error("--" + name + " lists " + spec.length + " lengths for --batch " + batch);
        }
        return out;
    }
}
