package org.attn4j.conformance.properties;

import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.cases.RopeCase;
import org.attn4j.conformance.cases.StateCase;
import org.attn4j.conformance.cases.StateCase.State;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.SpecRope;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/** spec §4's merge laws and operations, and the standalone RoPE of §3 (partial rotary included). *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class StateProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public StateProperties(Subject subject) {
        this.s = subject;
    }

    private Property<StateCase> merge(String key, String description, Consumer<StateCase> check) {
        return new SimpleProperty<>(key, description, StateCase::edgeCases, StateCase::random, StateCase::shrink,
                c -> Support.reason(s, c.dtype(), EnumSet.of(Feature.MERGE)), check, StateCase::toJava);
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(
                merge("mergeMatchesOracle", "mergeState ≈ spec §4 (and the oracle)", this::mergeVsOracle),
                merge("mergeIsCommutative", "merge(a, b) ≈ merge(b, a)", this::commutative),
                merge("mergeIsAssociative", "merge(merge(a, b), c) ≈ merge(a, merge(b, c))", this::associative),
                merge("mergeIdentity", "(0, -inf) is merge's identity", this::identity),
                merge("mergeStatesMatchesOracle", "mergeStates of n states ≈ spec §4", this::mergeStates),
                merge("mergeInPlaceRespectsRowMask", "mergeStateInPlace merges masked rows, leaves the others",
                        this::inPlace),
                new SimpleProperty<RopeCase>("standaloneRopeMatchesOracle", "applyRope ≈ spec §3's rotation",
                        RopeCase::edgeCases, RopeCase::random, RopeCase::shrink,
                        c -> Support.reason(s, c.dtype(), EnumSet.of(Feature.STANDALONE_ROPE)), this::rope,
                        RopeCase::toJava),
                partialRope("partialRopeMatchesOracle", "applyRope over the first R < D dims ≈ spec §3's rotation",
                        this::rope),
                partialRope("partialRopeLeavesTheRestExact",
                        "applyRope with rotary dim R leaves dims ≥ R bit for bit; R = D ≡ rotary dim 0, bitwise",
                        this::partialExact));
    }

    private Property<RopeCase> partialRope(String key, String description, Consumer<RopeCase> check) {
        return new SimpleProperty<>(key, description, RopeCase::partialEdgeCases, RopeCase::randomPartial,
                c -> c.shrink().stream().map(RopeCase::partial).toList(),
                c -> Support.reason(s, c.dtype(), EnumSet.of(Feature.STANDALONE_ROPE)), check, RopeCase::toJava);
    }

    private static AttentionOutput out(StateCase c, State st) {
        return new AttentionOutput(st.o(), st.s(), c.dtype(), c.rows(), c.heads(), c.headDim());
    }

    private static AttentionOutput identityState(StateCase c) {
        float[] s = new float[c.rows() * c.heads()];
        java.util.Arrays.fill(s, Float.NEGATIVE_INFINITY);
        return new AttentionOutput(new float[c.rows() * c.heads() * c.headDim()], s, c.dtype(), c.rows(), c.heads(),
                c.headDim());
    }

    private AttentionOutput mergeOn(AttentionBackend be, AttentionOutput a, AttentionOutput b) {
        return Operations.merge(be, a, b);
    }

    private void mergeVsOracle(StateCase c) {
        List<State> st = c.states();
        AttentionOutput a = out(c, st.get(0));
        AttentionOutput b = out(c, st.get(1));
        AttentionOutput actual = mergeOn(s.backend(), a, b);
        AttentionOutput spec = SpecOracle.merge(a.o(), a.lse(), b.o(), b.lse(), c.dtype(), c.rows(), c.heads(),
                c.headDim());
        Compare.outputs("mergeState vs spec §4", actual, spec, Tolerance.forOutput(c.dtype()));
        if (s.hasOracleBackend()) {
            Compare.outputs("mergeState vs oracle", actual, mergeOn(s.oracle(), a, b), Tolerance.forOutput(c.dtype()));
        }
    }

    private void commutative(StateCase c) {
        List<State> st = c.states();
        AttentionOutput a = out(c, st.get(0));
        AttentionOutput b = out(c, st.get(1));
        Compare.outputs("merge(b, a) vs merge(a, b)", mergeOn(s.backend(), b, a), mergeOn(s.backend(), a, b),
                Tolerance.forOutput(c.dtype()));
    }

    private void associative(StateCase c) {
        List<State> st = c.states();
        AttentionOutput a = out(c, st.get(0));
        AttentionOutput b = out(c, st.get(1));
        AttentionOutput d = out(c, st.get(2));
        AttentionOutput left = mergeOn(s.backend(), mergeOn(s.backend(), a, b), d);
        AttentionOutput right = mergeOn(s.backend(), a, mergeOn(s.backend(), b, d));
        // two roundings of o to the dtype on each side: twice the tolerance
        Tolerance t = Tolerance.forOutput(c.dtype());
        Compare.outputs("merge(a, merge(b, c)) vs merge(merge(a, b), c)", right, left,
                new Tolerance(2 * t.atol(), 2 * t.rtol()));
    }

    private void identity(StateCase c) {
        AttentionOutput a = out(c, c.states().get(0));
        AttentionOutput e = identityState(c);
        Compare.outputs("merge(a, (0, -inf)) vs a", mergeOn(s.backend(), a, e), a, Tolerance.forOutput(c.dtype()));
        Compare.outputs("merge((0, -inf), a) vs a", mergeOn(s.backend(), e, a), a, Tolerance.forOutput(c.dtype()));
        AttentionOutput ee = mergeOn(s.backend(), e, e);
        Compare.outputs("merge((0, -inf), (0, -inf)) vs (0, -inf)", ee, e, Tolerance.EXACT);
    }

    private void mergeStates(StateCase c) {
        List<State> st = c.states();
        int n = c.n();
        int rh = c.rows() * c.heads();
        int d = c.headDim();
        float[] v = new float[rh * n * d];
        float[] sv = new float[rh * n];
        float[] so = new float[rh];
        float[] o = new float[rh * d];
        for (int row = 0; row < c.rows(); row++) {
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < c.heads(); h++) {
                    int src = row * c.heads() + h;
                    int dst = (row * n + i) * c.heads() + h;
                    sv[dst] = st.get(i).s()[src];
                    System.arraycopy(st.get(i).o(), src * d, v, dst * d, d);
                }
            }
        }
        for (int r = 0; r < rh; r++) {
            double m = Double.NEGATIVE_INFINITY;
            for (State x : st) {
                m = Math.max(m, x.s()[r]);
            }
            if (m == Double.NEGATIVE_INFINITY) {
                so[r] = Float.NEGATIVE_INFINITY;
                continue;
            }
            double sum = 0;
            double[] acc = new double[d];
            for (State x : st) {
                double w = Math.exp(x.s()[r] - m);
                sum += w;
                for (int t = 0; t < d; t++) {
                    acc[t] += w * x.o()[r * d + t];
                }
            }
            for (int t = 0; t < d; t++) {
                o[r * d + t] = SpecFormats.round(c.dtype(), acc[t] / sum);
            }
            so[r] = (float) (m + Math.log(sum));
        }
        AttentionOutput spec = new AttentionOutput(o, so, c.dtype(), c.rows(), c.heads(), d);
        AttentionOutput actual = mergeStatesOn(s.backend(), c, v, sv);
        Compare.outputs("mergeStates vs spec §4", actual, spec, Tolerance.forOutput(c.dtype()));
        if (s.hasOracleBackend()) {
            Compare.outputs("mergeStates vs oracle", actual, mergeStatesOn(s.oracle(), c, v, sv),
                    Tolerance.forOutput(c.dtype()));
        }
    }

    private static AttentionOutput mergeStatesOn(AttentionBackend be, StateCase c, float[] v, float[] sv) {
        try (DeviceScope sc = new DeviceScope(be)) {
            Tensor vt = sc.upload(c.dtype(), v, c.rows(), c.n(), c.heads(), c.headDim());
            Tensor st = sc.upload(DType.F32, sv, c.rows(), c.n(), c.heads());
            Tensor o = sc.allocate(c.dtype(), c.rows(), c.heads(), c.headDim());
            Tensor so = sc.allocate(DType.F32, c.rows(), c.heads());
            be.mergeStates(vt, st, o, so);
            return new AttentionOutput(sc.floats(o), sc.floats(so), c.dtype(), c.rows(), c.heads(), c.headDim());
        }
    }

    private void inPlace(StateCase c) {
        List<State> st = c.states();
        AttentionOutput a = out(c, st.get(0));
        AttentionOutput b = out(c, st.get(1));
        boolean[] mask = new boolean[c.rows()];
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x3A5CL);
        for (int r = 0; r < mask.length; r++) {
            mask[r] = rng.nextBoolean();
        }
        AttentionOutput merged = SpecOracle.merge(a.o(), a.lse(), b.o(), b.lse(), c.dtype(), c.rows(), c.heads(),
                c.headDim());
        AttentionOutput actual;
        try (DeviceScope sc = new DeviceScope(s.backend())) {
            Tensor o = sc.upload(c.dtype(), a.o(), c.rows(), c.heads(), c.headDim());
            Tensor so = sc.upload(DType.F32, a.lse(), c.rows(), c.heads());
            Tensor ob = sc.upload(c.dtype(), b.o(), c.rows(), c.heads(), c.headDim());
            Tensor sb = sc.upload(DType.F32, b.lse(), c.rows(), c.heads());
            s.backend().mergeStateInPlace(o, so, ob, sb, mask);
            actual = new AttentionOutput(sc.floats(o), sc.floats(so), c.dtype(), c.rows(), c.heads(), c.headDim());
        }
        for (int r = 0; r < c.rows(); r++) {
            AttentionOutput got = actual.rows(r, r + 1);
            if (mask[r]) {
                Compare.outputs("in-place merge, row " + r + " (mask true)", got, merged.rows(r, r + 1),
                        Tolerance.forOutput(c.dtype()));
            } else {
                Compare.bitwise("in-place merge, row " + r + " (mask false) o", got.o(), a.rows(r, r + 1).o(),
                        c.heads() * c.headDim());
                Compare.bitwise("in-place merge, row " + r + " (mask false) lse", got.lse(), a.rows(r, r + 1).lse(),
                        c.heads());
            }
        }
    }

    private void rope(RopeCase c) {
        int[] pos = c.positions();
        float[] q = c.values(c.qHeads(), 1);
        float[] k = c.withK() ? c.values(c.kHeads(), 2) : null;
        float[][] actual = ropeOn(s.backend(), c, q, k, pos);
        float[][] expected;
        if (s.hasOracleBackend()) {
            expected = ropeOn(s.oracle(), c, q, k, pos);
        } else {
            expected = new float[][] {rotate(c, q, c.qHeads(), pos), k == null ? null : rotate(c, k, c.kHeads(), pos)};
        }
        Tolerance t = Tolerance.forOutput(c.dtype());
        compare("rotated q", actual[0], expected[0], t, c.headDim());
        if (k != null) {
            compare("rotated k", actual[1], expected[1], t, c.headDim());
        }
        if (s.hasOracleBackend()) {
            compare("rotated q vs spec formula", actual[0], rotate(c, q, c.qHeads(), pos), t, c.headDim());
        }
    }

    /**
     * spec §3: dims from R on pass through the standalone op unchanged, and R = D is the whole-head
     * rotation itself (same pairs, same frequencies), so both hold bit for bit.
     */
    private void partialExact(RopeCase c) {
        int[] pos = c.positions();
        float[] q = c.values(c.qHeads(), 1);
        float[] k = c.withK() ? c.values(c.kHeads(), 2) : null;
        float[][] rotated = ropeOn(s.backend(), c, q, k, pos, c.options());
        untouched("q", c, q, rotated[0]);
        if (k != null) {
            untouched("k", c, k, rotated[1]);
        }
        RopeOptions whole = c.options().withRotaryDim(0);
        float[][] zero = ropeOn(s.backend(), c, q, k, pos, whole);
        float[][] full = ropeOn(s.backend(), c, q, k, pos, whole.withRotaryDim(c.headDim()));
        Compare.bitwise("q rotated with rotary dim D = " + c.headDim() + " vs rotary dim 0", full[0], zero[0],
                c.headDim());
        if (k != null) {
            Compare.bitwise("k rotated with rotary dim D = " + c.headDim() + " vs rotary dim 0", full[1], zero[1],
                    c.headDim());
        }
    }

    private static void untouched(String what, RopeCase c, float[] before, float[] after) {
        int d = c.headDim();
        int r = c.rotaryDim();
        int heads = before.length / d / c.n();
        for (int row = 0; row < before.length / d; row++) {
            for (int t = r; t < d; t++) {
                int i = row * d + t;
                if (Float.floatToRawIntBits(before[i]) != Float.floatToRawIntBits(after[i])) {
                    throw new AssertionError(what + " row " + row / heads + ", head " + row % heads + ", dim " + t
                            + " (rotary dim " + r + ") must pass through unchanged: before " + before[i] + ", after "
                            + after[i]);
                }
            }
        }
    }

    private static void compare(String what, float[] actual, float[] expected, Tolerance t, int d) {
        Compare.outputs(what, new AttentionOutput(actual, null, DType.F32, actual.length / d, 1, d),
                new AttentionOutput(expected, null, DType.F32, expected.length / d, 1, d), t);
    }

    private static float[] rotate(RopeCase c, float[] x, int heads, int[] pos) {
        SpecRope rope = c.spec();
        int d = c.headDim();
        double[] freq = rope.frequencyTable(d);
        float[] out = new float[x.length];
        for (int t = 0; t < c.n(); t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * d;
                double[] v = new double[d];
                for (int i = 0; i < d; i++) {
                    v[i] = x[base + i];
                }
                double[] r = rope.rotate(v, pos[t], freq);
                for (int i = 0; i < d; i++) {
                    out[base + i] = SpecFormats.round(c.dtype(), r[i]);
                }
            }
        }
        return out;
    }

    private static float[][] ropeOn(AttentionBackend be, RopeCase c, float[] q, float[] k, int[] pos) {
        return ropeOn(be, c, q, k, pos, c.options());
    }

    private static float[][] ropeOn(AttentionBackend be, RopeCase c, float[] q, float[] k, int[] pos,
                                    RopeOptions options) {
        try (DeviceScope sc = new DeviceScope(be)) {
            Tensor qt = sc.upload(c.dtype(), q, c.n(), c.qHeads(), c.headDim());
            Tensor kt = k == null ? null : sc.upload(c.dtype(), k, c.n(), c.kHeads(), c.headDim());
            be.applyRope(qt, kt, pos, options);
            return new float[][] {sc.floats(qt), kt == null ? null : sc.floats(kt)};
        }
    }
}
