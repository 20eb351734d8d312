package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.DECODE;
import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.AttentionCases;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.error.BackendException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * spec §3 and §7 under abuse: non-finite inputs propagate as the reference computes them;
 * extreme values in every numeric field of the public value types are rejected by name before any
 * device work; out-of-range device-resident values are skipped and reported, never read past;
 * many threads running, closing and planning at once neither crash nor compute a wrong answer.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class RobustnessProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public RobustnessProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        List<String> names = hostileScenarios().stream().map(HostileScenario::name).toList();
        return List.of(
                new CaseProperty(s, "nonFiniteInputsPropagate",
                        "NaN and Inf in q, or in K or V of allowed keys, propagate as the reference computes them",
                        EITHER, RobustnessProperties::noMask, EnumSet.noneOf(Feature.class), this::nonFinite),
                new SimpleProperty<HostileCase>("hostileValuesRejected",
                        "extreme values in every numeric field rejected by name, outputs untouched",
                        rng -> edgeHostile(names, rng),
                        rng -> new HostileCase(names.get(rng.nextInt(names.size())), rng.nextInt(HOSTILE.length),
                                base(rng)),
                        c -> List.of(), this::hostileUnsupported, this::hostile,
                        c -> "new RobustnessProperties.HostileCase(\"" + c.scenario() + "\", " + c.value() + ", "
                                + c.base().toJava() + ")"),
                new CaseProperty(s, "deviceFaultsReported",
                        "out-of-range device-resident values: skipped, reported at synchronize, the rest right",
                        DECODE, RobustnessProperties::noMask, EnumSet.of(Feature.DECODE, Feature.DEVICE_METADATA),
                        this::deviceFaults),
                new SimpleProperty<Integer>("concurrentUseIsSafe",
                        "8 threads running, closing and planning at once: no crash, no wrong result",
                        rng -> List.of((int) stressMillis()), rng -> 10 + rng.nextInt(20), c -> List.of(),
                        c -> Support.reason(s, DType.F16, EnumSet.of(Feature.DECODE)), this::concurrent,
                        c -> String.valueOf(c)));
    }

    private static AttentionCase.Builder noMask(AttentionCase.Builder b) {
        b.mask = MaskKind.NONE;
        return b;
    }

    private AttentionOutput expected(CaseData data, java.util.function.Function<AttentionBackend, AttentionOutput> op) {
        AttentionOutput e = s.hasOracleBackend() ? op.apply(s.oracle()) : SpecOracle.attention(data);
        return data.kase().lse() ? e : e.withoutLse();
    }

    // ------------------------------------------------------------------ non-finite inputs

    private void nonFinite(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x4A4EL);
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        float[] q = data.q().clone();
        float[][] k = data.allK();
        float[][] v = data.allV();
        String what;
        int target = rng.nextInt(5);
        int b = rng.nextInt(c.batchSize());
        // A key every row of request b allows (so no row can skip it), if there is one.
        int lo = c.windowLeft() >= 0 ? Math.max(0, c.kvLen(b) - 1 - c.windowLeft()) : 0;
        int hi = c.causal() ? c.kvLen(b) - c.qoLen(b) + 1 : c.kvLen(b);
        hi = Math.min(hi, c.kvLen(b));
        boolean fp8 = c.kvDtype().isFp8();
        if (target >= 2 && lo < hi && c.qoLen(b) > 0) {
            int j = lo + rng.nextInt(hi - lo);
            int at = (j * hkv + rng.nextInt(hkv)) * d + rng.nextInt(d);
            float bad = fp8 || target == 2 || target == 3 ? Float.NaN
                    : (rng.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY);
            if (target == 2) {
                k[b][at] = bad;
                what = "K of request " + b + ", key " + j + " = " + bad;
            } else {
                v[b][at] = bad;
                what = "V of request " + b + ", key " + j + " = " + bad;
            }
        } else if (c.totalQ() > 0) {
            int at = rng.nextInt(c.totalQ() * hq * d);
            q[at] = target == 1 ? (rng.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY) : Float.NaN;
            what = "q element " + at + " = " + q[at];
        } else {
            throw new CaseSkipped("no query row to poison");
        }
        CaseData poisoned = CaseData.explicit(c, q, k, v, null);
        AttentionOutput actual;
        AttentionOutput exp;
        try (PagedPool pool = PagedPool.of(poisoned, Fill.GARBAGE)) {
            boolean decode = Operations.runsAsDecode(c);
            actual = Operations.batch(s.backend(), poisoned, pool, decode, PlanOptions.DEFAULT);
            exp = expected(poisoned, o -> Operations.batch(o, poisoned, pool, decode, PlanOptions.DEFAULT));
        }
        sameNonFinite("with " + what, actual, exp, Tolerance.forOutput(c.qDtype()));
    }

    /**
     * Non-finite exactly where the reference is, finite values within tolerance. Which non-finite
     * value may differ: a weight that underflows in float but not in double turns an infinite V
     * into NaN (0 x inf) where the reference keeps the infinity.
     */
    private static void sameNonFinite(String what, AttentionOutput actual, AttentionOutput expected, Tolerance tol) {
        int hd = expected.heads() * expected.headDim();
        for (int i = 0; i < expected.o().length; i++) {
            float a = actual.o()[i];
            float e = expected.o()[i];
            boolean ok = !Float.isFinite(e) ? !Float.isFinite(a) : Float.isFinite(a) && tol.accepts(a, e);
            if (!ok) {
                throw new AssertionError(what + ": o[row " + i / hd + ", head " + (i % hd) / expected.headDim()
                        + ", d " + i % expected.headDim() + "] = " + a + ", expected " + e);
            }
        }
        if (actual.lse() != null && expected.lse() != null) {
            for (int i = 0; i < expected.lse().length; i++) {
                float a = actual.lse()[i];
                float e = expected.lse()[i];
                boolean ok = Float.isNaN(e) ? Float.isNaN(a)
                        : Float.isInfinite(e) ? a == e : Float.isFinite(a) && Tolerance.lseAccepts(a, e);
                if (!ok) {
                    throw new AssertionError(what + ": lse[row " + i / expected.heads() + ", head "
                            + i % expected.heads() + "] = " + a + ", expected " + e);
                }
            }
        }
    }

    // ------------------------------------------------------------------ hostile values

    /** Extreme values, each a long; scenarios taking an int use its low 32 bits. */
    static final long[] HOSTILE = {Long.MAX_VALUE, 1L << 62, Long.MIN_VALUE, -1, Integer.MAX_VALUE,
            Integer.MIN_VALUE, 1L << 40, (1L << 31) + 7};

    /**
     * One hostile value in one field on top of a valid base case; public so that a printed
     * reproduction compiles in a backend's suite subclass.
     *
     * <p>Immutable and thread-safe.
     *
     * @param scenario which field gets the value, by the scenario's name
     * @param value    which hostile value, an index into the suite's list of extreme values
     *                 ({@link Long#MAX_VALUE}, {@link Long#MIN_VALUE}, -1, the int limits, ...)
     * @param base     the valid case the value is put into
     */
    public record HostileCase(String scenario, int value, AttentionCase base) {
        long hostile() {
            return HOSTILE[value];
        }

        @Override
        public String toString() {
            return scenario + " = " + HOSTILE[value] + " on " + base;
        }
    }

    /** The call a hostile value makes, the argument its message must name, and whether allocation failure may answer. */
    private record HostileCall(Runnable action, String argument, boolean allocation) {}

    private record HostileScenario(String name, Feature needs, BiFunction<InvalidInputProperties.Fixture, Long,
            HostileCall> call) {}

    private static List<HostileCase> edgeHostile(List<String> names, SplittableRandom rng) {
        List<HostileCase> out = new ArrayList<>();
        AttentionCase base = base(rng);
        for (String n : names) {
            for (int v = 0; v < HOSTILE.length; v++) {
                out.add(new HostileCase(n, v, base));
            }
        }
        return out;
    }

    private static AttentionCase base(SplittableRandom rng) {
        AttentionCase c = AttentionCases.edgeCases(false, rng).get(3);
        AttentionCase.Builder b = c.toBuilder().lengths(new int[] {3, 2}, new int[] {5, 9});
        b.mask = MaskKind.NONE;
        b.seed = rng.nextLong();
        return b.build();
    }

    private static PagedKvCache withField(PagedKvCache c, String field, long x) {
        return new PagedKvCache(c.k(), c.v(), c.layout(),
                field.equals("numPages") ? (int) (long) x : c.numPages(),
                field.equals("pageSize") ? (int) (long) x : c.pageSize(),
                field.equals("numKvHeads") ? (int) (long) x : c.numKvHeads(),
                field.equals("kHeadDim") ? (int) (long) x : c.kHeadDim(),
                field.equals("vHeadDim") ? (int) (long) x : c.vHeadDim(),
                field.equals("kOffset") ? x : c.kOffset(),
                field.equals("vOffset") ? x : c.vOffset(),
                field.equals("kPageStride") ? x : c.kPageStride(),
                field.equals("vPageStride") ? x : c.vPageStride(), c.scales());
    }

    private List<HostileScenario> hostileScenarios() {
        List<HostileScenario> l = new ArrayList<>();
        for (String field : List.of("kOffset", "vOffset", "kPageStride", "vPageStride", "numPages", "pageSize",
                "numKvHeads", "kHeadDim", "vHeadDim")) {
            l.add(new HostileScenario("cache." + field, null, (f, x) -> new HostileCall(() -> {
                PagedKvCache bad = withField(f.cache, field, x);
                try (BatchAttentionPlan plan = f.scope.backend().planBatchPrefill(f.c.qoIndptr(), f.pool.table(),
                        f.c.heads(), f.c.options(), null, PlanOptions.DEFAULT)) {
                    plan.run(f.q, bad, f.o, f.lse);
                }
            }, "", false)));
        }
        l.add(new HostileScenario("kvIndices", null, (f, x) -> new HostileCall(() -> {
            PageTable t = f.pool.table();
            int[] idx = t.indices();
            idx[0] = (int) (long) x;
            f.run(new PageTable(t.indptr(), idx, t.lastPageLen(), t.pageSize()));
        }, "kvIndices[0]", false)));
        l.add(new HostileScenario("kvLastPageLen and pageSize", null, (f, x) -> new HostileCall(() ->
                new PageTable(new int[] {0, 3}, new int[] {0, 1, 2}, new int[] {1}, (int) (long) x), "", false)));
        l.add(new HostileScenario("kvIndptr", null, (f, x) -> new HostileCall(() ->
                new PageTable(new int[] {0, (int) (long) x}, new int[] {0}, new int[] {1}, 4), "kvIndptr", false)));
        l.add(new HostileScenario("mask.offsets", Feature.CUSTOM_MASK, (f, x) -> new HostileCall(() -> {
            int[] qo = f.c.qoIndptr();
            long bits = 0;
            for (int b = 0; b < f.c.batchSize(); b++) {
                bits += (long) f.c.qoLen(b) * f.c.kvLen(b);
            }
            long[] offsets = new long[f.c.batchSize()];
            offsets[offsets.length - 1] = x;
            CustomMask m = CustomMask.fromPacked(new byte[(int) ((bits + 7) / 8) + 1], bits, offsets);
            try (BatchAttentionPlan plan = f.scope.backend().planBatchPrefill(qo, f.pool.table(), f.c.heads(),
                    f.c.options(), m, PlanOptions.DEFAULT)) {
                plan.run(f.q, f.cache, f.o, f.lse);
            }
        }, "mask.offsets", false)));
        l.add(new HostileScenario("mask.bitCount", Feature.CUSTOM_MASK, (f, x) -> new HostileCall(() ->
                CustomMask.fromPacked(new byte[4], x), "mask", false)));
        l.add(new HostileScenario("positions", Feature.APPEND, (f, x) -> new HostileCall(() -> {
            Tensor k = f.scope.allocate(f.c.kvDtype().isFp8() ? f.c.qDtype() : f.c.kvDtype(), 1, f.c.numKvHeads(),
                    f.c.headDimQk());
            f.scope.backend().appendPagedKv(k, k, new AppendPositions(new int[] {0}, new int[] {(int) (long) x}), f.cache,
                    f.pool.table());
        }, "positions[0]", false)));
        l.add(new HostileScenario("appendIndptr", Feature.APPEND, (f, x) -> new HostileCall(() -> {
            int[] ind = new int[f.c.batchSize() + 1];
            ind[ind.length - 1] = (int) (long) x;
            AppendPositions.fromIndptr(ind, f.pool.table());
        }, "appendIndptr", false)));
        l.add(new HostileScenario("heads", null, (f, x) -> new HostileCall(() -> f.run(f.pool.table(),
                new HeadConfig((int) (long) x, f.c.numKvHeads(), f.c.headDimQk()), f.c.options(), null, f.c.qoIndptr(), f.q,
                f.o, f.lse), "", false)));
        l.add(new HostileScenario("windowLeft", Feature.SLIDING_WINDOW, (f, x) -> new HostileCall(() ->
                f.runWith(f.c.options().withWindowLeft((int) (long) x)), "", false)));
        l.add(new HostileScenario("smScale and softCap", null, (f, x) -> new HostileCall(() ->
                f.runWith(AttentionOptions.DEFAULT.withSmScale(x < 0 ? Float.NEGATIVE_INFINITY : -x)
                        .withLogitsSoftCap(x > 0 ? Float.POSITIVE_INFINITY : 0)), "", false)));
        l.add(new HostileScenario("plan options", null, (f, x) -> new HostileCall(() ->
                new PlanOptions(false, (int) (long) x).withAlignment((int) (long) x), "", false)));
        l.add(new HostileScenario("rope", null, (f, x) -> new HostileCall(() ->
                RopeOptions.DEFAULT.withTheta(x > 0 ? Double.POSITIVE_INFINITY : x).withScale(-1), "rope.", false)));
        l.add(new HostileScenario("view offset", null, (f, x) -> new HostileCall(() ->
                f.q.view(x, 1, 1), "", false)));
        l.add(new HostileScenario("view strides", null, (f, x) -> new HostileCall(() ->
                f.q.view(0, new long[] {4, 4}, new long[] {x, 1}), "", false)));
        l.add(new HostileScenario("view shape", null, (f, x) -> new HostileCall(() ->
                f.q.view(0, new long[] {x, x}, new long[] {0, 0}), "shape", false)));
        l.add(new HostileScenario("allocate", null, (f, x) -> new HostileCall(() ->
                f.scope.own(f.scope.backend().allocate(DType.F32, Math.abs(x), 1L << 20)), "", true)));
        l.add(new HostileScenario("wrap", Feature.ZERO_COPY_HOST, (f, x) -> new HostileCall(() -> {
            try (Arena a = Arena.ofConfined()) {
                f.scope.own(f.scope.backend().wrap(ExternalMemory.hostSegment(a.allocate(64)), DType.F32, x));
            }
        }, "shape", false)));
        l.add(new HostileScenario("device table", Feature.DEVICE_METADATA, (f, x) -> new HostileCall(() -> {
            Tensor i = f.scope.allocate(DType.I32, 2);
            new DevicePageTable(i, f.scope.allocate(DType.I32, 4), f.scope.allocate(DType.I32, 1), (int) (long) x,
                    (int) (x >> 1));
        }, "", false)));
        l.add(new HostileScenario("kv scales", null, (f, x) -> new HostileCall(() ->
                new KvScales(x < 0 ? -1f : Float.POSITIVE_INFINITY, 1f), "kScale", false)));
        return l;
    }

    private HostileScenario hostileScenario(String name) {
        return hostileScenarios().stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no scenario " + name));
    }

    private String hostileUnsupported(HostileCase hc) {
        HostileScenario sc = hostileScenario(hc.scenario());
        java.util.Set<Feature> need = EnumSet.of(Feature.PREFILL);
        if (sc.needs() != null) {
            need.add(sc.needs());
        }
        return Support.reason(s.capabilities(), hc.base(), need);
    }

    private void hostile(HostileCase hc) {
        HostileScenario sc = hostileScenario(hc.scenario());
        InvalidInputProperties.Fixture f = new InvalidInputProperties.Fixture(s.backend(), hc.base());
        try {
            HostileCall call = sc.call().apply(f, hc.hostile());
            List<int[]> before = new ArrayList<>();
            for (Tensor t : f.watched) {
                before.add(f.scope.bits(t));
            }
            RuntimeException thrown = null;
            try {
                call.action().run();
            } catch (InvalidArgumentException e) {
                thrown = e;
            } catch (BackendException e) {
                if (!call.allocation()) {
                    throw new AssertionError(hc + ": BackendException, expected InvalidArgumentException: "
                            + e.getMessage(), e);
                }
                thrown = e;
            } catch (RuntimeException e) {
                throw new AssertionError(hc + ": " + e.getClass().getName() + ", expected InvalidArgumentException: "
                        + e.getMessage(), e);
            }
            if (thrown == null) {
                // A value that is valid in this field (a large but fine offset of a view, say) is not hostile.
                throw new CaseSkipped("value accepted: valid for this field");
            }
            String msg = String.valueOf(thrown.getMessage());
            if (!call.argument().isEmpty() && !msg.contains(call.argument())) {
                throw new AssertionError(hc + ": message \"" + msg + "\" does not name \"" + call.argument() + "\"");
            }
            if (thrown instanceof InvalidArgumentException iae && iae.argument().isBlank()) {
                throw new AssertionError(hc + ": no argument named in \"" + msg + "\"");
            }
            for (int i = 0; i < f.watched.size(); i++) {
                if (!java.util.Arrays.equals(before.get(i), f.scope.bits(f.watched.get(i)))) {
                    throw new AssertionError(hc + ": output " + i + " changed although the call was rejected");
                }
            }
        } finally {
            f.close();
        }
    }

    // ------------------------------------------------------------------ device-resident faults

    private void deviceFaults(AttentionCase c) {
        if (c.batchSize() < 2) {
            throw new CaseSkipped("one request: no other request to stay right");
        }
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0xFA17L);
        AttentionBackend be = s.backend();
        int victim = -1;
        for (int b = 0; b < c.batchSize(); b++) {
            if (c.kvLen(b) > 0 && (victim < 0 || rng.nextBoolean())) {
                victim = b;
            }
        }
        if (victim < 0) {
            throw new CaseSkipped("no request with keys to corrupt");
        }
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
            PageTable t = pool.table();
            int[] indices = t.indices();
            int bad = t.indptr()[victim] + rng.nextInt(t.pageCount(victim));
            indices[bad] = rng.nextBoolean() ? pool.numPages() + rng.nextInt(1000) : -1 - rng.nextInt(5);
            int maxLen = java.util.Arrays.stream(c.kvLens()).max().orElse(0);
            DevicePageTable dt = new DevicePageTable(sc.upload(HostTensor.ofInts(t.indptr(), t.indptr().length)),
                    sc.upload(HostTensor.ofInts(indices, indices.length)),
                    sc.upload(HostTensor.ofInts(t.lastPageLen(), t.batchSize())), t.pageSize(), maxLen);
            PagedKvCache cache = sc.cache(pool);
            int rows = c.totalQ();
            Tensor q = sc.upload(c.qDtype(), data.q(), rows, c.numQoHeads(), c.headDimQk());
            Tensor o = sc.allocate(c.qDtype(), rows, c.numQoHeads(), c.headDimVo());
            try (BatchAttentionPlan plan = be.planBatchDecode(dt, c.heads(), c.options(),
                    PlanOptions.DEFAULT.withDtypes(c.qDtype(), c.kvDtype()))) {
                plan.run(q, cache, o, null);
            }
            BackendException e;
            try {
                be.synchronize();
                throw new AssertionError("page id " + indices[bad] + " at kvIndices[" + bad + "] (" + pool.numPages()
                        + " pages) was not reported");
            } catch (BackendException reported) {
                e = reported;
            }
            if (!e.getMessage().contains("pageTable.indices[" + bad + "]")) {
                throw new AssertionError("the fault report does not name pageTable.indices[" + bad + "]: "
                        + e.getMessage());
            }
            be.synchronize(); // reported once, then cleared
            AttentionOutput actual = new AttentionOutput(sc.floats(o), null, c.qDtype(), rows, c.numQoHeads(),
                    c.headDimQk());
            AttentionOutput exp = expected(data, or -> Operations.batch(or, data, pool, true, PlanOptions.DEFAULT));
            // Every other request is untouched by the corrupt one; the corrupt one is empty (o = 0).
            for (int b = 0; b < c.batchSize(); b++) {
                if (b == victim) {
                    AttentionOutput mine = actual.rows(b, b + 1);
                    for (float x : mine.o()) {
                        if (x != 0f) {
                            throw new AssertionError("the request with a bad page id was not treated as empty: " + x);
                        }
                    }
                    continue;
                }
                Compare.outputs("request " + b + " beside a corrupt one", actual.rows(b, b + 1),
                        exp.withoutLse().rows(b, b + 1), Tolerance.forOutput(c.qDtype()));
            }
        }
    }

    // ------------------------------------------------------------------ concurrency

    /** Milliseconds the concurrency property's edge case runs ({@code -Dattn4j.stressMillis}, default 2000). */
    private static long stressMillis() {
        return Long.getLong("attn4j.stressMillis", 2000);
    }

    /** One stress run of {@code millis} milliseconds (the edge case runs long, random cases briefly). */
    private void concurrent(Integer millis) {
        AttentionBackend be = s.backend();
        SplittableRandom seedRng = new SplittableRandom(0xC0FFEEL);
        AttentionCase c = AttentionCases.edgeCases(true, seedRng).get(0).toBuilder()
                .lengths(new int[] {1, 1, 1}, new int[] {40, 7, 19}).heads(4, 2).build();
        AttentionCase.Builder cb = c.toBuilder();
        cb.qDtype = DType.F16;
        cb.kvDtype = DType.F16;
        cb.headDim(64);
        cb.mask = MaskKind.NONE;
        cb.rope = AttentionCase.RopeKind.NONE;
        cb.lse = false;
        c = cb.build();
        CaseData data = CaseData.of(c);
        final AttentionCase fc = c;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope shared = new DeviceScope(be)) {
            PagedKvCache cache = shared.cache(pool);
            float[] expected = Operations.batch(be, data, pool, true, PlanOptions.DEFAULT).o();
            AtomicReference<BatchAttentionPlan> plan = new AtomicReference<>(
                    be.planBatchDecode(pool.table(), c.heads(), c.options(), PlanOptions.DEFAULT));
            AtomicReference<Tensor> q = new AtomicReference<>(shared.upload(c.qDtype(), data.q(), c.totalQ(),
                    c.numQoHeads(), c.headDimQk()));
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            long end = System.nanoTime() + millis * 1_000_000L;
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                long seed = i * 31L + millis;
                threads.add(Thread.ofPlatform().name("attn4j-stress-" + i).start(() -> {
                    SplittableRandom rng = new SplittableRandom(seed);
                    while (System.nanoTime() < end && failures.isEmpty()) {
                        try {
                            stressStep(be, fc, data, pool, cache, expected, plan, q, rng);
                        } catch (InvalidArgumentException e) {
                            if (!e.getMessage().contains("closed")) {
                                failures.add(e);
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            try {
                for (Thread t : threads) {
                    t.join();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
            plan.get().close();
            q.get().close();
            if (!failures.isEmpty()) {
                AssertionError e = new AssertionError("concurrent use failed: " + failures.peek());
                e.initCause(failures.peek());
                throw e;
            }
        }
    }

    /** One random action: run (and check), replace the shared plan, replace the shared q, or allocate and close. */
    private static void stressStep(AttentionBackend be, AttentionCase c, CaseData data, PagedPool pool,
                                   PagedKvCache cache, float[] expected, AtomicReference<BatchAttentionPlan> plan,
                                   AtomicReference<Tensor> q, SplittableRandom rng) {
        switch (rng.nextInt(6)) {
            case 0, 1, 2 -> {
                try (Tensor o = be.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo())) {
                    plan.get().run(q.get(), cache, o, null);
                    try (HostTensor h = be.download(o)) {
                        float[] got = DeviceScope.values(h);
                        if (!java.util.Arrays.equals(got, expected)) {
                            throw new AssertionError("a run beside other threads computed a different result");
                        }
                    }
                }
            }
            case 3 -> {
                BatchAttentionPlan fresh = be.planBatchDecode(pool.table(), c.heads(), c.options(),
                        PlanOptions.DEFAULT);
                plan.getAndSet(fresh).close();
            }
            case 4 -> {
                Tensor fresh;
                try (HostTensor h = DeviceScope.host(c.qDtype(), data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk())) {
                    fresh = be.upload(h);
                }
                q.getAndSet(fresh).close();
            }
            default -> {
                try (Tensor t = be.allocate(DType.BF16, 1 + rng.nextInt(4096))) {
                    t.view(0, 1, 1).close();
                }
            }
        }
    }
}
