package org.attn4j.conformance.cases;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The split-KV, FP8-code and FP8-append generators make what their properties promise. */
class NewCaseGeneratorsTest {
    private static List<SplitCase> splitCases() {
        List<SplitCase> all = new ArrayList<>(SplitCase.edgeCases(new SplittableRandom(1)));
        SplittableRandom rng = new SplittableRandom(2);
        for (int i = 0; i < 400; i++) {
            all.add(SplitCase.random(rng));
        }
        return all;
    }

    private static void onBoundaries(SplitCase c) {
        assertNull(c.kase().invalidReason(), c.toString());
        for (int b = 0; b < c.kase().batchSize(); b++) {
            int[] kd = c.boundary(b);
            assertTrue(kd[0] >= 1 && Math.abs(kd[1]) <= 1, c.toString());
            assertEquals(c.kase().kvLen(b), kd[0] * c.chunk() + kd[1], c.toString());
        }
        assertTrue(c.maxSplitChunk() == 0 || c.maxSplitChunk() == c.chunk(), c.toString());
    }

    @Test
    void splitCasesSitOnChunkBoundariesAndShrinkAlongThem() {
        List<SplitCase> all = splitCases();
        Set<Integer> offsets = new HashSet<>();
        Set<String> modes = new HashSet<>();
        for (SplitCase c : all) {
            onBoundaries(c);
            for (int b = 0; b < c.kase().batchSize(); b++) {
                offsets.add(c.boundary(b)[1]);
            }
            modes.add(c.maxSplitChunk() > 0 ? "capped" : c.deterministic() ? "deterministic" : "automatic");
            if (c.maxSplitChunk() == 0 && !c.deterministic()) {
                // automatic splits need a small grid and more than 512 keys (see SplitCase)
                assertEquals(1, c.kase().batchSize(), c.toString());
                assertTrue(c.kase().kvLen(0) > 512 && c.kase().kvLen(0) <= 1025, c.toString());
            }
            for (SplitCase s : c.shrink()) {
                onBoundaries(s);
            }
        }
        assertEquals(Set.of(-1, 0, 1), offsets);
        assertEquals(Set.of("capped", "deterministic", "automatic"), modes);
        assertTrue(all.stream().anyMatch(c -> c.kase().isDecode()));
        assertTrue(all.stream().anyMatch(SplitCase::ragged));
    }

    @Test
    void fp8AppendValuesReachEveryKindOfInput() {
        for (DType f : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
            for (DType in : new DType[] {DType.F16, DType.BF16, DType.F32}) {
                Fp8AppendCase c = new Fp8AppendCase(f, in, new int[] {50}, new int[] {0}, 1, 64, 16,
                        org.attn4j.kv.KvLayout.NHD, false, 1f, 1f, 3L);
                boolean nanPos = false;
                boolean nanNeg = false;
                boolean inf = false;
                boolean beyond = false;
                boolean tie = false;
                boolean tiny = false;
                double max = SpecFormats.maxFinite(f);
                for (int bits : c.values(4000, 1f, 9L)) {
                    float x = SpecFormats.value(in, bits);
                    nanPos |= Float.isNaN(x) && !SpecFormats.negative(in, bits);
                    nanNeg |= Float.isNaN(x) && SpecFormats.negative(in, bits);
                    inf |= Float.isInfinite(x);
                    beyond |= Float.isFinite(x) && Math.abs(x) > max;
                    tiny |= x != 0 && Math.abs(x) < SpecFormats.value(f, 1);
                    if (Float.isFinite(x) && Math.abs(x) <= max) {
                        int lo = SpecFormats.encode(f, x);
                        float a = SpecFormats.value(f, lo);
                        tie |= a != x && SpecFormats.encode(f, 2.0 * x - a) != lo; // x sits halfway between codes
                    }
                }
                String what = in + " -> " + f;
                assertTrue(nanPos && nanNeg, what + ": NaN of both signs");
                assertTrue(inf, what + ": infinities");
                assertTrue(beyond || in == DType.F16 && f == DType.FP8_E5M2, what + ": finite values past the range");
                assertTrue(tie, what + ": exact ties");
                assertTrue(tiny, what + ": values below the smallest subnormal");
            }
        }
    }

    @Test
    void fp8CodeCasesShrinkToValidCases() {
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < 200; i++) {
            Fp8CodesCase c = Fp8CodesCase.random(rng);
            for (Fp8CodesCase s : c.shrink()) {
                assertTrue(s.headDim() >= 16 && s.headDim() % 2 == 0, s.toString());
                assertTrue(!s.toJava().equals(c.toJava()), s.toString());
            }
        }
    }
}
