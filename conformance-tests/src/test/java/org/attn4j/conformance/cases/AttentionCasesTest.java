package org.attn4j.conformance.cases;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The generators make valid cases, cover spec §9's edges, and shrink toward smaller ones. */
class AttentionCasesTest {
    @Test
    void edgeCasesAreValidAndCoverSpecEdges() {
        for (boolean decode : new boolean[] {true, false}) {
            List<AttentionCase> edges = AttentionCases.edgeCases(decode, new SplittableRandom(1));
            edges.forEach(c -> assertNull(c.invalidReason(), c.toString()));
            assertTrue(edges.stream().anyMatch(c -> c.kvLen(0) == 0));
            assertTrue(edges.stream().anyMatch(c -> c.kvLen(0) == 1));
            assertTrue(edges.stream().anyMatch(c -> c.kvLen(0) == c.pageSize()));
            assertTrue(edges.stream().anyMatch(c -> c.kvLen(0) == c.pageSize() + 1));
            assertTrue(edges.stream().anyMatch(c -> c.kvLen(0) == c.pageSize() - 1));
            assertTrue(edges.stream().anyMatch(c -> c.pageSize() == 1));
            assertTrue(edges.stream().anyMatch(c -> c.pageSize() == 7));
            for (int d : new int[] {32, 64, 128, 256}) {
                assertTrue(edges.stream().anyMatch(c -> c.headDimQk() == d), "D " + d);
            }
            for (int g : new int[] {1, 4, 8}) {
                assertTrue(edges.stream().anyMatch(c -> c.numQoHeads() / c.numKvHeads() == g), "g " + g);
            }
            assertTrue(edges.stream().anyMatch(c -> c.numKvHeads() == 1 && c.numQoHeads() > 1));
            assertTrue(edges.stream().anyMatch(c -> c.windowLeft() == 0));
            assertTrue(edges.stream().anyMatch(c -> c.windowLeft() > c.kvLen(0)));
            assertTrue(edges.stream().anyMatch(c -> c.data() == AttentionCase.DataKind.LARGE_LOGITS));
            if (!decode) {
                assertTrue(edges.stream().anyMatch(c -> c.causal() && c.qoLen(0) == c.kvLen(0) && c.qoLen(0) > 1));
            }
        }
    }

    @Test
    void randomCasesAreValidAndShrinkToValidSmallerCases() {
        SplittableRandom rng = new SplittableRandom(7);
        for (int i = 0; i < 500; i++) {
            boolean decode = i % 3 == 0;
            AttentionCase c = AttentionCases.random(decode, rng);
            assertNull(c.invalidReason(), c.toString());
            if (decode) {
                assertTrue(c.isDecode(), c.toString());
            }
            for (AttentionCase s : AttentionCases.shrink(c)) {
                assertNull(s.invalidReason(), s.toString());
                assertTrue(s.work() <= c.work() || s.pageSize() < c.pageSize() || s.extraPages() < c.extraPages()
                        || !s.combinedCache(), c + " -> " + s);
            }
        }
    }

    @Test
    void largeLogitsAreExactAndNearTenThousand() {
        AttentionCase c = AttentionCases.edgeCases(false, new SplittableRandom(3)).stream()
                .filter(x -> x.data() == AttentionCase.DataKind.LARGE_LOGITS).findFirst().orElseThrow();
        CaseData data = CaseData.of(c);
        int d = c.headDimQk();
        float maxAbs = 0;
        for (int j = 0; j < c.kvLen(0); j++) {
            float dot = 0; // in float: exact because every product is a multiple of 1/64 with few bits
            double exact = 0;
            for (int t = 0; t < d; t++) {
                dot += data.q()[t] * data.k(0)[j * c.numKvHeads() * d + t];
                exact += (double) data.q()[t] * data.k(0)[j * c.numKvHeads() * d + t];
            }
            assertEquals(exact, dot, 0.0);
            maxAbs = Math.max(maxAbs, Math.abs(dot * c.smScale()));
        }
        assertTrue(maxAbs > 5000 && maxAbs < 20000, "max |logit| " + maxAbs);
    }

    @Test
    void storedValuesAreExactlyRepresentable() {
        for (AttentionCase c : AttentionCases.edgeCases(false, new SplittableRandom(5))) {
            CaseData data = CaseData.of(c);
            for (float x : data.q()) {
                assertEquals(x, SpecFormats.round(c.qDtype(), x), 0f);
            }
            for (int b = 0; b < c.batchSize(); b++) {
                for (float x : data.k(b)) {
                    assertEquals(x, SpecFormats.round(c.kvDtype(), x), 0f);
                }
            }
        }
    }

    @Test
    void pagedPoolPlacesEveryTokenAndFillsTheRestWithGarbage() {
        AttentionCase c = AttentionCases.edgeCases(false, new SplittableRandom(9)).get(4).toBuilder()
                .lengths(new int[] {2, 3}, new int[] {17, 5}).build();
        AttentionCase.Builder b = c.toBuilder();
        b.layout = KvLayout.HND;
        b.pageSize = 4;
        b.extraPages = 2;
        c = b.build();
        CaseData data = CaseData.of(c);
        try (PagedPool pool = PagedPool.of(data, PagedPool.Fill.GARBAGE)) {
            PageTable t = pool.table();
            assertEquals(17, t.kvLen(0));
            assertEquals(5, t.kvLen(1));
            assertEquals(5 + 2 + 2, pool.numPages());
            int hkv = c.numKvHeads();
            int d = c.headDimQk();
            boolean nonFinite = false;
            for (int r = 0; r < 2; r++) {
                for (int j = 0; j < t.kvLen(r); j++) {
                    for (int h = 0; h < hkv; h++) {
                        long at = ((long) (t.pageOf(r, j) * hkv + h) * 4 + j % 4) * d;
                        for (int i = 0; i < d; i++) {
                            assertEquals(data.k(r)[(j * hkv + h) * d + i],
                                    SpecFormats.value(c.kvDtype(), pool.k().getBits(at + i)), 0f);
                        }
                    }
                }
            }
            for (long i = 0; i < pool.k().elementCount(); i++) {
                nonFinite |= !Float.isFinite(SpecFormats.value(c.kvDtype(), pool.k().getBits(i)));
            }
            assertTrue(nonFinite, "garbage holds NaN or Inf");
            assertFalse(c.combinedCache());
        }
        assertEquals(DType.F16, c.qDtype());
    }
}
