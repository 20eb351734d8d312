package org.attn4j.cli.demo;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageManager;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * A continuous-batching loop: requests arrive with prompts, get pages from a {@link PageManager},
 * have their prompt K/V appended and prefilled in a batch, then decode one token per step over
 * the growing cache until they finish and free their pages, while new requests keep arriving.
 */
final class DemoSession implements AutoCloseable {
    private static final DType DTYPE = DType.BF16;
    private static final double TOLERANCE = 1.6e-2; // spec §9, bf16 output

    private final AttentionBackend backend;
    private final AttentionBackend reference;
    private final DemoSettings settings;
    private final PrintStream out;
    private final ToyModel model;
    private final PageManager pages;
    private final HeadConfig heads;
    private final Tensor kCache;
    private final Tensor vCache;
    private final PagedKvCache cache;
    private final SplittableRandom rnd;
    private final List<Request> active = new ArrayList<>();
    private int checked;
    private int failed;

    /** A request in flight: its page-manager id, the token to feed next and how many remain. */
    private static final class Request {
        final int id;
        int pending;
        int remaining;

        Request(int id, int remaining) {
            this.id = id;
            this.remaining = remaining;
        }
    }

    DemoSession(AttentionBackend backend, AttentionBackend reference, DemoSettings settings, PrintStream out) {
        this.backend = backend;
        this.reference = reference;
        this.settings = settings;
        this.out = out;
        this.heads = new HeadConfig(8, 2, 64);
        this.model = new ToyModel(512, heads.numQoHeads(), heads.numKvHeads(), heads.headDimQk(), settings.seed());
        this.pages = new PageManager(settings.numPages(), 16);
        this.kCache = backend.allocate(DTYPE, settings.numPages(), 16, heads.numKvHeads(), heads.headDimQk());
        this.vCache = backend.allocate(DTYPE, settings.numPages(), 16, heads.numKvHeads(), heads.headDimVo());
        this.cache = PagedKvCache.separate(kCache, vCache, KvLayout.NHD);
        this.rnd = new SplittableRandom(settings.seed() + 1);
    }

    /** Runs every step; returns true when every checked step matched the reference. */
    boolean run() {
        out.printf(Locale.ROOT, "demo on %s (%s): Hq %d, Hkv %d, D %d, bf16, page 16, %d pages%n", backend.id(),
                backend.device(), heads.numQoHeads(), heads.numKvHeads(), heads.headDimQk(), settings.numPages());
        double warmMs = warmUp();
        out.printf(Locale.ROOT, "warm-up: one causal prefill and one decode on a scratch cache, %.1f ms wall clock;%n"
                + "  kernels built at first use (OpenCL compiles its programs then) are built here, not in the steps%n",
                warmMs);
        out.println("columns: arrived  requests admitted this step");
        out.println("         prefill  their prompt tokens, attended in one causal batch prefill");
        out.println("         decode   requests that decode one token this step; done: requests that finished");
        out.println("         ms       the step's attention call alone (plan.run), timed by " + timerMethod + ";");
        out.println("                  KV append, uploads and the toy model are not in it; '-': no such call");
        out.println("         free pages  left in the pool after the step");
        out.printf(Locale.ROOT, "%5s %8s %8s %7s %7s %11s %11s  %s%n", "step", "arrived", "prefill", "decode", "done",
                "prefill ms", "decode ms", "free pages");
        int finishedTotal = 0;
        int tokens = 0;
        long wallStart = System.nanoTime();
        for (int step = 0; step < settings.steps(); step++) {
            currentStep = step;
            boolean check = step == settings.checkStep() || step == 0;
            List<Request> decoding = new ArrayList<>(active);
            List<Request> arrived = admit(step);
            double prefillMs = arrived.isEmpty() ? 0 : prefill(arrived, step == 0);
            double decodeMs = decoding.isEmpty() ? 0 : decode(decoding, check && step > 0);
            int done = retire();
            finishedTotal += done;
            tokens += decoding.size() + arrived.size();
            out.printf(Locale.ROOT, "%5d %8d %8d %7d %7d %11s %11s  %d%n", step, arrived.size(),
                    arrived.stream().mapToInt(r -> pages.length(r.id)).sum(), decoding.size(), done,
                    arrived.isEmpty() ? "-" : String.format(Locale.ROOT, "%.3f", prefillMs),
                    decoding.isEmpty() ? "-" : String.format(Locale.ROOT, "%.3f", decodeMs), pages.freePages());
        }
        double seconds = (System.nanoTime() - wallStart) / 1e9;
        out.printf(Locale.ROOT, "%d steps, %d tokens generated, %d requests finished, %d in flight, %.2f s%n",
                settings.steps(), tokens, finishedTotal, active.size(), seconds);
        return failed == 0 && checked > 0;
    }

    /**
     * One causal prefill of the longest prompt and one decode after it, on a scratch cache of the
     * session's dtype, heads and page size: kernels a backend builds at first use are built here,
     * outside the timed steps. Returns the wall-clock time it took.
     */
    private double warmUp() {
        long start = System.nanoTime();
        int len = settings.maxPrompt();
        int pageCount = (len + 1 + 15) / 16;
        int[] pageIds = new int[pageCount];
        for (int i = 0; i < pageCount; i++) {
            pageIds[i] = i;
        }
        int[] tokens = new int[len];
        for (int t = 0; t < len; t++) {
            tokens[t] = t % model.vocab;
        }
        try (Tensor k = backend.allocate(DTYPE, pageCount, 16, heads.numKvHeads(), heads.headDimQk());
             Tensor v = backend.allocate(DTYPE, pageCount, 16, heads.numKvHeads(), heads.headDimVo());
             HostTensor hq = model.queries(tokens, DTYPE); HostTensor hq1 = model.queries(new int[] {0}, DTYPE);
             Tensor q = backend.upload(hq); Tensor q1 = backend.upload(hq1);
             Tensor o = backend.allocate(DTYPE, hq.shape()); Tensor o1 = backend.allocate(DTYPE, hq1.shape());
             DeviceTimer timer = backend.newTimer()) {
            PagedKvCache scratch = PagedKvCache.separate(k, v, KvLayout.NHD);
            int prefillPages = (len + 15) / 16;
            PageTable prompt = PageTable.of(16, new int[][] {java.util.Arrays.copyOf(pageIds, prefillPages)},
                    new int[] {len});
            try (BatchAttentionPlan p = plan(backend, prompt, new int[] {0, len}, AttentionOptions.DEFAULT
                    .withCausal(true))) {
                p.run(q, scratch, o, null);
            }
            PageTable next = PageTable.of(16, new int[][] {pageIds}, new int[] {len + 1});
            try (BatchAttentionPlan p = plan(backend, next, null, AttentionOptions.DEFAULT)) {
                timer.start();
                p.run(q1, scratch, o1, null);
                timer.stop();
                timer.elapsedMillis();
            }
            backend.synchronize();
            timerMethod = timer.method();
        }
        return (System.nanoTime() - start) / 1e6;
    }

    int checked() {
        return checked;
    }

    private List<Request> admit(int step) {
        List<Request> arrived = new ArrayList<>();
        int want = step == 0 ? settings.initialRequests() : (rnd.nextDouble() < settings.arrivalRate() ? 1 : 0);
        for (int i = 0; i < want && active.size() < settings.maxBatch(); i++) {
            int prompt = settings.minPrompt() + rnd.nextInt(settings.maxPrompt() - settings.minPrompt() + 1);
            int id = pages.addRequest();
            // room for the prompt and every token it will generate, so decode never runs short
            int gen = settings.minGenerate() + rnd.nextInt(settings.maxGenerate() - settings.minGenerate() + 1);
            if (!pages.canGrow(id, prompt + gen)) {
                pages.release(id);
                break;
            }
            pages.grow(id, prompt);
            Request r = new Request(id, gen);
            arrived.add(r);
            active.add(r);
        }
        return arrived;
    }

    /** Appends each arrival's prompt K/V and runs one causal batch prefill over them. */
    private double prefill(List<Request> arrived, boolean check) {
        int n = arrived.size();
        int[] ids = arrived.stream().mapToInt(r -> r.id).toArray();
        int[] lens = new int[n];
        int[] qoIndptr = new int[n + 1];
        for (int i = 0; i < n; i++) {
            lens[i] = pages.length(ids[i]);
            qoIndptr[i + 1] = qoIndptr[i] + lens[i];
        }
        int[] tokens = new int[qoIndptr[n]];
        for (int t = 0; t < tokens.length; t++) {
            tokens[t] = rnd.nextInt(model.vocab);
        }
        PageTable table = pages.pageTable(ids);
        append(tokens, pages.appendPositions(ids, lens), table);
        AttentionOptions causal = AttentionOptions.DEFAULT.withCausal(true);
        try (HostTensor hq = model.queries(tokens, DTYPE)) {
            HostTensor o = attend(hq, table, qoIndptr, causal, check ? "prefill" : null);
            try (o) {
                for (int i = 0; i < n; i++) {
                    arrived.get(i).pending = model.nextToken(o, qoIndptr[i + 1] - 1);
                }
            }
        }
        return lastMillis;
    }

    /** Appends each request's pending token and decodes one step for all of them. */
    private double decode(List<Request> decoding, boolean check) {
        int n = decoding.size();
        int[] ids = decoding.stream().mapToInt(r -> r.id).toArray();
        int[] tokens = decoding.stream().mapToInt(r -> r.pending).toArray();
        int[] one = new int[n];
        for (int i = 0; i < n; i++) {
            pages.grow(ids[i], 1);
            one[i] = 1;
        }
        PageTable table = pages.pageTable(ids);
        append(tokens, pages.appendPositions(ids, one), table);
        try (HostTensor hq = model.queries(tokens, DTYPE)) {
            HostTensor o = attend(hq, table, null, AttentionOptions.DEFAULT, check ? "decode" : null);
            try (o) {
                for (int i = 0; i < n; i++) {
                    decoding.get(i).pending = model.nextToken(o, i);
                    decoding.get(i).remaining--;
                }
            }
        }
        return lastMillis;
    }

    private int retire() {
        int done = 0;
        for (var it = active.iterator(); it.hasNext(); ) {
            Request r = it.next();
            if (r.remaining <= 0) {
                pages.release(r.id);
                it.remove();
                done++;
            }
        }
        return done;
    }

    private void append(int[] tokens, AppendPositions at, PageTable table) {
        try (HostTensor hk = model.keys(tokens, DTYPE); HostTensor hv = model.values(tokens, DTYPE);
             Tensor k = backend.upload(hk); Tensor v = backend.upload(hv)) {
            backend.appendPagedKv(k, v, at, cache, table);
        }
    }

    private double lastMillis;
    private String timerMethod = "the backend's device timer";
    private int currentStep;

    /** Plans and runs attention; qoIndptr null means decode. Checks against the reference when named. */
    private HostTensor attend(HostTensor hq, PageTable table, int[] qoIndptr, AttentionOptions options,
                              String checkName) {
        try (Tensor q = backend.upload(hq); Tensor o = backend.allocate(DTYPE, hq.shape());
             BatchAttentionPlan plan = plan(backend, table, qoIndptr, options);
             DeviceTimer timer = backend.newTimer()) {
            timer.start();
            plan.run(q, cache, o, null);
            timer.stop();
            lastMillis = timer.elapsedMillis();
            timerMethod = timer.method();
            HostTensor result = backend.download(o);
            if (checkName != null) {
                check(checkName, hq, table, qoIndptr, options, result);
            }
            return result;
        }
    }

    private static BatchAttentionPlan plan(AttentionBackend b, PageTable table, int[] qoIndptr,
                                           AttentionOptions options) {
        HeadConfig h = new HeadConfig(8, 2, 64);
        return qoIndptr == null ? b.planBatchDecode(table, h, options, PlanOptions.DEFAULT)
                : b.planBatchPrefill(qoIndptr, table, h, options, null, PlanOptions.DEFAULT);
    }

    /** Recomputes the step on the reference backend from the backend's own cache contents. */
    private void check(String name, HostTensor hq, PageTable table, int[] qoIndptr, AttentionOptions options,
                       HostTensor actual) {
        if (reference == null) {
            return;
        }
        try (HostTensor hk = backend.download(kCache); HostTensor hv = backend.download(vCache);
             Tensor rq = reference.upload(hq); Tensor rk = reference.upload(hk); Tensor rv = reference.upload(hv);
             Tensor ro = reference.allocate(DTYPE, hq.shape());
             BatchAttentionPlan plan = plan(reference, table, qoIndptr, options)) {
            plan.run(rq, PagedKvCache.separate(rk, rv, KvLayout.NHD), ro, null);
            try (HostTensor expected = reference.download(ro)) {
                double maxErr = 0;
                boolean pass = true;
                for (long i = 0; i < expected.elementCount(); i++) {
                    double e = expected.getFloat(i);
                    double a = actual.getFloat(i);
                    double err = Math.abs(a - e);
                    if (!(err <= TOLERANCE + TOLERANCE * Math.abs(e))) {
                        pass = false;
                    }
                    maxErr = Math.max(maxErr, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err);
                }
                checked++;
                if (!pass) {
                    failed++;
                }
                out.printf(Locale.ROOT, "      check of step %d's %s against the reference: max |error| %.3e "
                        + "(tolerance %.1e + %.1e |ref|): %s%n", currentStep, name, maxErr, TOLERANCE, TOLERANCE, pass ? "PASS" : "FAIL");
            }
        }
    }

    @Override
    public void close() {
        kCache.close();
        vCache.close();
    }
}
