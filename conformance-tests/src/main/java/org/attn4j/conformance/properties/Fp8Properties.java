package org.attn4j.conformance.properties;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.conformance.cases.Fp8AppendCase;
import org.attn4j.conformance.cases.Fp8CodesCase;
import org.attn4j.conformance.cases.Fp8CodesCase.Op;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * spec §1's FP8 formats as the backends read them: every one of the 256 codes of e4m3fn and e5m2
 * (NaN and infinities included) decodes, through an attention call, to the value of the OCP
 * tables ({@link SpecFormats}), never to core-api's own table.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class Fp8Properties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public Fp8Properties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(new SimpleProperty<>("fp8CodesDecodeAsOcp",
                "every FP8 code (all 256 of e4m3 and e5m2) read through attention as the OCP tables say",
                Fp8CodesCase::edgeCases, Fp8CodesCase::random, Fp8CodesCase::shrink, this::unsupported,
                this::codes, Fp8CodesCase::toJava),
                new SimpleProperty<>("fp8AppendSaturatesAndKeepsNaN",
                        "FP8 append rounds once to nearest even, saturates (±Inf too) to ±max and keeps NaN, "
                                + "bit-exact", Fp8AppendCase::edgeCases, Fp8AppendCase::random, Fp8AppendCase::shrink,
                        this::unsupportedAppend, this::append, Fp8AppendCase::toJava));
    }

    // ------------------------------------------------------------------ append: saturation and NaN

    private String unsupportedAppend(Fp8AppendCase c) {
        return unsupportedAppend(s.capabilities(), c, Feature.APPEND);
    }

    /**
     * Why a backend cannot run an FP8 append case: a missing feature of {@code features}, the
     * formats, the head dim or the layout; null when it can.
     */
    static String unsupportedAppend(Capabilities caps, Fp8AppendCase c, Feature... features) {
        for (Feature f : features) {
            if (!caps.has(f)) {
                return "feature " + f + " absent";
            }
        }
        if (!caps.kvDtypes().contains(c.format())) {
            return "KV dtype " + c.format() + " unsupported";
        }
        if (!caps.qDtypes().contains(c.input())) {
            return "input dtype " + c.input() + " unsupported";
        }
        if (!caps.supportsHeadDim(c.headDim())) {
            return "head dim " + c.headDim() + " unsupported (" + caps.headDimsDescription() + ")";
        }
        if (!caps.layouts().contains(c.layout())) {
            return "layout " + c.layout() + " unsupported";
        }
        return null;
    }

    /**
     * Appends every request's new tokens, in an order drawn from the seed, into a pool whose
     * unwritten slots hold garbage; afterwards each appended element holds exactly the code spec §1
     * and §5 give its input (one rounding of {@code input / scale} to nearest even, ±max past the
     * range and for ±Inf, the format's NaN with the input's sign for NaN), and every other bit of
     * the cache is what it was.
     */
    private void append(Fp8AppendCase c) {
        int[] lens = c.lens();
        int[] from = c.from();
        int hkv = c.numKvHeads();
        int d = c.headDim();
        int w = hkv * d;
        int n = c.appended();
        int[] kIn = c.values(n * w, c.kScale(), 0x4BL);
        int[] vIn = c.values(n * w, c.vScale(), 0x5CL);
        // which (request, position) each appended token goes to, in a shuffled order
        int[] tokenRequest = new int[n];
        int[] tokenPosition = new int[n];
        int at = 0;
        for (int b = 0; b < lens.length; b++) {
            for (int t = from[b]; t < lens[b]; t++) {
                tokenRequest[at] = b;
                tokenPosition[at++] = t;
            }
        }
        int[] order = permutation(n, new SplittableRandom(c.seed() ^ 0x0DE5L));
        int[] bi = new int[n];
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            bi[i] = tokenRequest[order[i]];
            pos[i] = tokenPosition[order[i]];
        }
        // the pool: written tokens hold random finite codes, every other slot garbage
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x9001L);
        int[][] ks = new int[lens.length][];
        int[][] vs = new int[lens.length][];
        for (int b = 0; b < lens.length; b++) {
            ks[b] = new int[lens[b] * w];
            vs[b] = new int[lens[b] * w];
            for (int i = 0; i < ks[b].length; i++) {
                ks[b][i] = rng.nextInt(0x7F);
                vs[b][i] = 0x80 | rng.nextInt(0x7F);
            }
        }
        AttentionBackend be = s.backend();
        try (PagedPool pool = PagedPool.buildBits(ks, vs, lens, hkv, d, c.format(),
                new KvScales(c.kScale(), c.vScale()), c.pageSize(), c.layout(), c.combined(), 1, c.seed() + 3,
                PagedPool.Fill.GARBAGE);
             DeviceScope sc = new DeviceScope(be)) {
            pool.scribble(from, c.seed() + 5);
            int[] expectedK = bits(pool.k());
            int[] expectedV = c.combined() ? expectedK : bits(pool.v());
            // for each cache element written: 1 + its input element, negative for V; 0 when never written
            int[] source = new int[expectedK.length + (c.combined() ? 0 : expectedV.length)];
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < hkv; h++) {
                    for (int x = 0; x < d; x++) {
                        int src = (i * hkv + h) * d + x;
                        int kAt = (int) pool.index(bi[i], pos[i], h, x, false);
                        int vAt = (int) pool.index(bi[i], pos[i], h, x, true);
                        expectedK[kAt] = quantise(c, kIn[src], c.kScale());
                        (c.combined() ? expectedK : expectedV)[vAt] = quantise(c, vIn[src], c.vScale());
                        source[kAt] = 1 + src;
                        source[vAt + (c.combined() ? 0 : expectedK.length)] = -(1 + src);
                    }
                }
            }
            PagedKvCache cache = sc.cache(pool);
            if (n > 0) {
                Tensor kt = sc.uploadBits(c.input(), kIn, n, hkv, d);
                Tensor vt = sc.uploadBits(c.input(), vIn, n, hkv, d);
                be.appendPagedKv(kt, vt, new AppendPositions(bi, pos), cache, pool.table());
            }
            int[] actual = sc.bits(cache.k());
            int[] expected = expectedK;
            if (!c.combined()) {
                actual = concat(new int[][] {actual, sc.bits(cache.v())});
                expected = concat(new int[][] {expectedK, expectedV});
            }
            int bad = 0;
            String first = null;
            for (int i = 0; i < expected.length; i++) {
                if ((actual[i] & 0xFF) != (expected[i] & 0xFF)) {
                    if (first == null) {
                        int src = Math.abs(source[i]) - 1;
                        boolean isK = source[i] > 0;
                        int token = src / (hkv * d);
                        first = source[i] == 0 ? "element " + i + ", never appended to, changed from "
                                + hex(expected[i]) + " to " + hex(actual[i])
                                : describe(c, isK ? "K" : "V", bi[token], pos[token], (src / d) % hkv, src % d,
                                        (isK ? kIn : vIn)[src], isK ? c.kScale() : c.vScale())
                                        + ": expected " + hex(expected[i]) + " ("
                                        + SpecFormats.value(c.format(), expected[i]) + "), cache holds "
                                        + hex(actual[i]) + " (" + SpecFormats.value(c.format(), actual[i]) + ")";
                    }
                    bad++;
                }
            }
            if (bad > 0) {
                throw new AssertionError("FP8 append: " + first + "; " + bad + " of " + expected.length
                        + " cache elements differ");
            }
        }
    }

    /** The code spec §1 and §5 give input bits {@code in} stored with {@code scale}. */
    private static int quantise(Fp8AppendCase c, int in, float scale) {
        float x = SpecFormats.value(c.input(), in);
        if (Float.isNaN(x)) {
            return SpecFormats.nanCode(c.format(), SpecFormats.negative(c.input(), in));
        }
        return SpecFormats.encode(c.format(), (double) x / scale);
    }

    private static String describe(Fp8AppendCase c, String which, int request, int position, int head, int dim,
                                   int in, float scale) {
        int digits = SpecFormats.width(c.input()) / 4;
        return which + " of request " + request + " position " + position + " head " + head + " d " + dim
                + ": input " + SpecFormats.value(c.input(), in) + " (" + c.input() + " 0x"
                + String.format("%0" + digits + "X", in & (int) ((1L << SpecFormats.width(c.input())) - 1))
                + ") / " + (which.equals("K") ? "kScale " : "vScale ") + scale;
    }

    private static int[] bits(org.attn4j.tensor.HostTensor t) {
        int[] out = new int[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.getBits(i);
        }
        return out;
    }

    // ------------------------------------------------------------------ every code through attention

    private String unsupported(Fp8CodesCase c) {
        Capabilities caps = s.capabilities();
        if (!caps.kvDtypes().contains(c.format())) {
            return "KV dtype " + c.format() + " unsupported";
        }
        if (!caps.qDtypes().contains(c.qDtype())) {
            return "q dtype " + c.qDtype() + " unsupported";
        }
        if (!caps.supportsHeadDim(c.headDim())) {
            return "head dim " + c.headDim() + " unsupported (" + caps.headDimsDescription() + ")";
        }
        if (c.op() != Op.RAGGED_PREFILL && !caps.layouts().contains(c.layout())) {
            return "layout " + c.layout() + " unsupported";
        }
        for (Feature f : EnumSet.of(Feature.LSE, c.op().decode() ? Feature.DECODE : Feature.PREFILL)) {
            if (!caps.has(f)) {
                return "feature " + f + " absent";
            }
        }
        return null;
    }

    /**
     * One batch of single-key requests: K and V vectors ({@code [Hkv, D]} codes each) and, per
     * query row, the vector it reads and the dimension its one-hot query picks out of K.
     */
    private record Probe(int[][] k, int[][] v, int[] rowVector, int[] rowDim, float scale) {
        int rows() {
            return rowVector.length;
        }
    }

    /** Results read back: o {@code [rows, Hq, D]}, lse {@code [rows, Hq]}. */
    private record Read(float[] o, float[] lse) {}

    private void codes(Fp8CodesCase c) {
        DType f = c.format();
        int w = c.numKvHeads() * c.headDim();
        int[] order = permutation(256, new SplittableRandom(c.seed()));
        // Codes of magnitude 1 and more (and NaN, infinities) read with scale 1; smaller ones with
        // a power-of-two scale that lifts the smallest subnormal to 1/16, so every code stands
        // apart from its neighbours by more than the output and LSE tolerances.
        int tinyExponent = Math.getExponent(SpecFormats.value(f, 1));
        float smallScale = Math.scalb(1f, -tinyExponent - 4);
        List<String> failures = new ArrayList<>();
        int[] counts = new int[2];
        for (boolean small : new boolean[] {false, true}) {
            List<Integer> v = new ArrayList<>();
            List<Integer> k = new ArrayList<>();
            for (int code : order) {
                float x = SpecFormats.value(f, code);
                if (small == (Float.isFinite(x) && Math.abs(x) < 1)) {
                    v.add(code);
                    if (Float.isFinite(x)) {
                        k.add(code); // a non-finite K element turns every logit of its key into NaN or Inf
                    }
                }
            }
            int vectors = Math.max(ceilDiv(v.size(), w), ceilDiv(k.size(), w));
            int[][] kv = new int[vectors][w];
            int[][] vv = new int[vectors][w];
            for (int i = 0; i < v.size(); i++) {
                vv[i / w][i % w] = v.get(i);
            }
            for (int i = 0; i < k.size(); i++) {
                kv[i / w][i % w] = k.get(i);
            }
            Probe p = probe(c, kv, vv, small ? smallScale : 1f);
            Read r = run(c, p);
            compare(c, p, r, failures, counts);
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.get(0) + "; " + counts[0] + " V reads and " + counts[1]
                    + " K reads wrong in all" + (failures.size() > 1 ? "; next: " + failures.get(1) : ""));
        }
    }

    /** The query rows that read each vector: every K element (one decode request each, or D prefill rows). */
    private static Probe probe(Fp8CodesCase c, int[][] k, int[][] v, float scale) {
        int d = c.headDim();
        List<int[]> rows = new ArrayList<>();
        for (int i = 0; i < k.length; i++) {
            if (c.op() == Op.SINGLE_DECODE) {
                rows.add(new int[] {i, (int) Math.floorMod(c.seed() + 7L * i, (long) d)});
            } else {
                for (int r = 0; r < d; r++) {
                    rows.add(new int[] {i, r});
                }
            }
        }
        return new Probe(k, v, rows.stream().mapToInt(x -> x[0]).toArray(),
                rows.stream().mapToInt(x -> x[1]).toArray(), scale);
    }

    private Read run(Fp8CodesCase c, Probe p) {
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDim();
        AttentionBackend be = s.backend();
        HeadConfig heads = new HeadConfig(hq, hkv, d);
        AttentionOptions opt = AttentionOptions.DEFAULT.withSmScale(1f);
        KvScales scales = new KvScales(p.scale(), p.scale());
        float[] q = new float[p.rows() * hq * d];
        for (int row = 0; row < p.rows(); row++) {
            for (int h = 0; h < hq; h++) {
                q[(row * hq + h) * d + p.rowDim()[row]] = 1f;
            }
        }
        int rows = p.rows();
        try (DeviceScope sc = new DeviceScope(be)) {
            switch (c.op()) {
                case BATCH_DECODE, BATCH_PREFILL -> {
                    boolean decode = c.op() == Op.BATCH_DECODE;
                    // decode: one request per row; prefill: one request per vector, its rows in order
                    int requests = decode ? rows : p.k().length;
                    int[][] ks = new int[requests][];
                    int[][] vs = new int[requests][];
                    int[] lens = new int[requests];
                    int[] qoIndptr = new int[requests + 1];
                    for (int b = 0; b < requests; b++) {
                        int vec = decode ? p.rowVector()[b] : b;
                        ks[b] = p.k()[vec];
                        vs[b] = p.v()[vec];
                        lens[b] = 1;
                    }
                    for (int row = 0; row < rows; row++) {
                        qoIndptr[(decode ? row : p.rowVector()[row]) + 1]++;
                    }
                    for (int b = 0; b < requests; b++) {
                        qoIndptr[b + 1] += qoIndptr[b];
                    }
                    try (PagedPool pool = PagedPool.buildBits(ks, vs, lens, hkv, d, c.format(), scales, c.pageSize(),
                            c.layout(), c.combined(), 1, c.seed() + 1, PagedPool.Fill.ZEROS)) {
                        PagedKvCache cache = sc.cache(pool);
                        Tensor qt = sc.upload(c.qDtype(), q, rows, hq, d);
                        Tensor o = sc.allocate(c.qDtype(), rows, hq, d);
                        Tensor lse = sc.allocate(DType.F32, rows, hq);
                        try (BatchAttentionPlan plan = decode
                                ? be.planBatchDecode(pool.table(), heads, opt, PlanOptions.DEFAULT)
                                : be.planBatchPrefill(qoIndptr, pool.table(), heads, opt, null, PlanOptions.DEFAULT)) {
                            plan.run(qt, cache, o, lse);
                        }
                        return new Read(sc.floats(o), sc.floats(lse));
                    }
                }
                case RAGGED_PREFILL -> {
                    int n = p.k().length;
                    int[] kvIndptr = new int[n + 1];
                    int[] qoIndptr = new int[n + 1];
                    for (int i = 0; i < n; i++) {
                        kvIndptr[i + 1] = i + 1;
                    }
                    for (int row = 0; row < rows; row++) {
                        qoIndptr[p.rowVector()[row] + 1]++;
                    }
                    for (int i = 0; i < n; i++) {
                        qoIndptr[i + 1] += qoIndptr[i];
                    }
                    Tensor kt = sc.uploadBits(c.format(), concat(p.k()), n, hkv, d);
                    Tensor vt = sc.uploadBits(c.format(), concat(p.v()), n, hkv, d);
                    Tensor qt = sc.upload(c.qDtype(), q, rows, hq, d);
                    Tensor o = sc.allocate(c.qDtype(), rows, hq, d);
                    Tensor lse = sc.allocate(DType.F32, rows, hq);
                    try (RaggedAttentionPlan plan = be.planBatchPrefillRagged(qoIndptr, kvIndptr, heads, opt, null,
                            PlanOptions.DEFAULT)) {
                        plan.run(qt, new RaggedKv(kt, vt, scales), o, lse);
                    }
                    return new Read(sc.floats(o), sc.floats(lse));
                }
                default -> {
                    // single ops, one call per vector; its K/V is one key, the same bytes in NHD and HND
                    float[] o = new float[rows * hq * d];
                    float[] lse = new float[rows * hq];
                    int row = 0;
                    for (int i = 0; i < p.k().length; i++) {
                        int first = row;
                        while (row < rows && p.rowVector()[row] == i) {
                            row++;
                        }
                        int n = row - first;
                        long[] kvShape = c.layout() == org.attn4j.kv.KvLayout.NHD ? new long[] {1, hkv, d}
                                : new long[] {hkv, 1, d};
                        ContiguousKv kv = new ContiguousKv(sc.uploadBits(c.format(), p.k()[i], kvShape),
                                sc.uploadBits(c.format(), p.v()[i], kvShape), c.layout(), scales);
                        float[] qi = java.util.Arrays.copyOfRange(q, first * hq * d, row * hq * d);
                        Tensor qt;
                        Tensor ot;
                        Tensor lt;
                        if (c.op() == Op.SINGLE_DECODE) {
                            qt = sc.upload(c.qDtype(), qi, hq, d);
                            ot = sc.allocate(c.qDtype(), hq, d);
                            lt = sc.allocate(DType.F32, hq);
                            be.singleDecode(qt, kv, opt, ot, lt);
                        } else {
                            qt = sc.upload(c.qDtype(), qi, n, hq, d);
                            ot = sc.allocate(c.qDtype(), n, hq, d);
                            lt = sc.allocate(DType.F32, n, hq);
                            be.singlePrefill(qt, kv, opt, null, ot, lt);
                        }
                        System.arraycopy(sc.floats(ot), 0, o, first * hq * d, n * hq * d);
                        System.arraycopy(sc.floats(lt), 0, lse, first * hq, n * hq);
                    }
                    return new Read(o, lse);
                }
            }
        }
    }

    /**
     * o of every row must be the row's V vector decoded (times the scale, rounded to q's dtype):
     * NaN where the code is NaN, the infinity where it is one, else within q's tolerance; each
     * row's LSE the K element its one-hot query picks, decoded, within spec §9's LSE tolerance.
     */
    private static void compare(Fp8CodesCase c, Probe p, Read r, List<String> failures, int[] counts) {
        int hq = c.numQoHeads();
        int d = c.headDim();
        int g = c.group();
        DType f = c.format();
        Tolerance tol = Tolerance.forOutput(c.qDtype());
        for (int row = 0; row < p.rows(); row++) {
            int vec = p.rowVector()[row];
            for (int h = 0; h < hq; h++) {
                int kvBase = (h / g) * d;
                for (int t = 0; t < d; t++) {
                    int code = p.v()[vec][kvBase + t];
                    float exp = SpecFormats.round(c.qDtype(), (double) SpecFormats.value(f, code) * p.scale());
                    float act = r.o()[(row * hq + h) * d + t];
                    boolean ok = Float.isNaN(exp) ? Float.isNaN(act)
                            : Float.isInfinite(exp) ? act == exp : tol.accepts(act, exp);
                    if (!ok) {
                        counts[0]++;
                        if (failures.size() < 2) {
                            failures.add("V code " + hex(code) + " of " + f + " (vScale " + p.scale() + ") read as "
                                    + act + ", expected " + exp + " (o[row " + row + ", head " + h + ", d " + t
                                    + "], " + tol + ")");
                        }
                    }
                }
                int code = p.k()[vec][kvBase + p.rowDim()[row]];
                double exp = (double) SpecFormats.value(f, code) * p.scale();
                float act = r.lse()[row * hq + h];
                if (!Tolerance.lseAccepts(act, exp)) {
                    counts[1]++;
                    if (failures.size() < 2) {
                        failures.add("K code " + hex(code) + " of " + f + " (kScale " + p.scale() + ") read as logit "
                                + act + ", expected " + exp + " (lse[row " + row + ", head " + h + "] of a one-hot "
                                + "query on d " + p.rowDim()[row] + ", smScale 1)");
                    }
                }
            }
        }
    }

    static String hex(int code) {
        return String.format("0x%02X", code);
    }

    private static int[] concat(int[][] parts) {
        int n = 0;
        for (int[] x : parts) {
            n += x.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] x : parts) {
            System.arraycopy(x, 0, out, at, x.length);
            at += x.length;
        }
        return out;
    }

    static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
