package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;

import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.PlanOptions;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * spec §5: appending the last tokens of every request writes exactly the bits a fully written
 * pool holds (and nothing else), and attention over the appended cache equals attention over
 * contiguous K/V.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class AppendProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public AppendProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(
                new CaseProperty(s, "appendIsBitExact", "append writes exactly the expected bits, nothing else",
                        EITHER, b -> b, EnumSet.of(org.attn4j.spi.Feature.APPEND), this::bitExact),
                new CaseProperty(s, "appendIsBitExact", "", EITHER, b -> b,
                        EnumSet.of(org.attn4j.spi.Feature.APPEND), this::bitExact).withDistinctHeadDims(
                        "distinctHeadDimsAppendIsBitExact",
                        "append of K rows of Dqk and V rows of Dvo writes exactly the expected bits"),
                new CaseProperty(s, "appendThenAttendEqualsContiguous", "append then attend ≡ attend on contiguous K/V",
                        EITHER, b -> b, EnumSet.of(org.attn4j.spi.Feature.APPEND), this::thenAttend));
    }

    /** The input dtype of appended K/V: the cache's, or q's for FP8 caches (quantised on append). */
    private static DType inputDtype(AttentionCase c) {
        return c.kvDtype().isFp8() ? c.qDtype() : c.kvDtype();
    }

    /** Cache and full pool bits, attention over the cache, and each request's first appended position. */
    private record Appended(int[] cacheBits, int[] expectedBits, AttentionOutput attention, int[] from) {}

    private Appended appendAll(AttentionCase c, boolean attend) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0xA99E4DL);
        int batch = c.batchSize();
        int[] from = new int[batch];
        int[] indptr = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            from[b] = rng.nextInt(4) == 0 ? 0 : rng.nextInt(c.kvLen(b) + 1);
            indptr[b + 1] = indptr[b] + c.kvLen(b) - from[b];
        }
        int n = indptr[batch];
        int w = c.numKvHeads() * c.headDimQk();
        int wv = c.numKvHeads() * c.headDimVo(); // V rows have their own head dim (spec §5)
        float[] k = new float[n * w];
        float[] v = new float[n * wv];
        for (int b = 0; b < batch; b++) {
            int count = c.kvLen(b) - from[b];
            for (int i = 0; i < count * w; i++) {
                k[indptr[b] * w + i] = data.k(b)[from[b] * w + i] * c.kScale();
            }
            for (int i = 0; i < count * wv; i++) {
                v[indptr[b] * wv + i] = data.v(b)[from[b] * wv + i] * c.vScale();
            }
        }
        AttentionBackend be = s.backend();
        try (PagedPool full = PagedPool.of(data, Fill.GARBAGE);
             PagedPool partial = PagedPool.of(data, Fill.GARBAGE);
             DeviceScope scope = new DeviceScope(be)) {
            partial.scribble(from, c.seed() + 11);
            PagedKvCache cache = scope.cache(partial);
            if (n > 0) {
                DType in = inputDtype(c);
                Tensor kt = scope.upload(in, k, n, c.numKvHeads(), c.headDimQk());
                Tensor vt = scope.upload(in, v, n, c.numKvHeads(), c.headDimVo());
                be.appendPagedKv(kt, vt, AppendPositions.fromIndptr(indptr, partial.table()), cache, partial.table());
            }
            int[] actual = scope.bits(cache.k());
            int[] expected = new int[actual.length];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = full.k().getBits(i);
            }
            if (!full.combined()) {
                actual = concat(actual, scope.bits(cache.v()));
                int[] ev = new int[Math.toIntExact(full.v().elementCount())];
                for (int i = 0; i < ev.length; i++) {
                    ev[i] = full.v().getBits(i);
                }
                expected = concat(expected, ev);
            }
            AttentionOutput out = null;
            if (attend) {
                out = attention(be, data, partial, cache);
            }
            return new Appended(actual, expected, out, from);
        }
    }

    /** Attention over an already uploaded cache (the appended one). */
    private static AttentionOutput attention(AttentionBackend be, CaseData data, PagedPool pool, PagedKvCache cache) {
            AttentionCase c = data.kase();
            try (DeviceScope sc = new DeviceScope(be)) {
                Tensor q = sc.upload(c.qDtype(), data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
                Tensor o = sc.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
                Tensor lse = c.lse() ? sc.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
                try (var plan = c.isDecode()
                        ? be.planBatchDecode(pool.table(), c.heads(), c.options(), PlanOptions.DEFAULT)
                        : be.planBatchPrefill(c.qoIndptr(), pool.table(), c.heads(), c.options(), data.customMask(),
                                PlanOptions.DEFAULT)) {
                    plan.run(q, cache, o, lse);
                }
                return new AttentionOutput(sc.floats(o), lse == null ? null : sc.floats(lse), c.qDtype(),
                        c.totalQ(), c.numQoHeads(), c.headDimVo());
            }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private void bitExact(AttentionCase c) {
        Appended r = appendAll(c, false);
        Compare.bits("cache after appending from positions " + java.util.Arrays.toString(r.from())
                + " (K then V) vs a pool written in full", r.cacheBits(), r.expectedBits());
    }

    private void thenAttend(AttentionCase c) {
        Appended r = appendAll(c, true);
        CaseData data = CaseData.of(c);
        AttentionOutput contiguous = Operations.singles(s.backend(), data, c.layout(), c.isDecode());
        Compare.outputs("attention over the cache appended from positions " + java.util.Arrays.toString(r.from())
                + " vs contiguous K/V", r.attention(), contiguous,
                Tolerance.forOutput(c.qDtype()));
    }
}
