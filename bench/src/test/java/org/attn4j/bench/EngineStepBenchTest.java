package org.attn4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.options.HeadConfig;
import org.junit.jupiter.api.Test;

/** The engine step's shape as spec §10 names it, and a small step measured on the reference backend. */
class EngineStepBenchTest {
    @Test
    void theNamedShapeIsTheSpecs() {
        EngineStepBench.Shape s = Workloads.engineStep();
        assertEquals(64, s.batch());
        assertEquals(4096, s.kvLen());
        assertEquals(32, s.layers());
        assertEquals(8, s.pools());
        assertEquals(new HeadConfig(32, 8, 128), s.heads());
        assertEquals(16, s.pageSize());
    }

    @Test
    void measuresAnEagerStepWhereNoGraphsAre() {
        EngineStepBench.Shape small = new EngineStepBench.Shape(3, 21, 2, 2, 2, new HeadConfig(4, 2, 16), 4);
        try (AttentionBackend reference = Backends.open("reference")) {
            EngineStepBench.Result r = EngineStepBench.measure(reference, small);
            assertFalse(r.graph(), "the reference backend captures no graphs");
            assertTrue(r.stepUs() > 0 && Double.isFinite(r.stepUs()), "step time " + r.stepUs());
            assertTrue(r.ropeUs() > 0 && r.appendUs() > 0 && r.decodeUs() > 0, r.toString());
            assertEquals(2 * (r.ropeUs() + r.appendUs() + r.decodeUs()), r.kernelsUs(), 1e-9);
            BenchRow row = r.row("reference", Double.NaN);
            assertTrue(row.check().startsWith("eager; no graph; "), row.check());
            assertEquals(2L * 2 * 3 * (21 + 2) * 2 * 16 * 2, row.bytes());
            assertEquals(0, r.replan().deviceAllocations(), "re-planning after warm-up allocates nothing");
            assertTrue(r.replan().medianUs() > 0, r.replan().toString());
        }
    }
}
