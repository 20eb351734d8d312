package org.attn4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.options.HeadConfig;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A backend without {@link Feature#MERGE} must reject a multi-level cascade before it plans any
 * level, so no kernel plan (and the device memory it may hold) is left open behind the exception.
 */
class CascadeWithoutMergeTest {
    @Test
    void multiLevelCascadeIsRejectedWithoutLeavingPlansOpen() {
        CountingSession session = new CountingSession();
        try (AttentionBackend attn = AttentionBackend.of(session)) {
            PageTable shared = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
            PageTable own = new PageTable(new int[] {0, 1, 2}, new int[] {1, 2}, new int[] {1, 1}, 2);
            List<CascadeLevel> levels = List.of(new CascadeLevel(new int[] {0, 2}, shared),
                    new CascadeLevel(new int[] {0, 1, 2}, own));
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> attn.planCascade(levels,
                    new HeadConfig(1, 1, 2), AttentionOptions.DEFAULT, PlanOptions.DEFAULT));
            assertTrue(e.getMessage().contains("does not support MERGE"), e.getMessage());
            assertEquals(0, session.openPlans.get(), "plans left open after the rejection");
        }
    }

    @Test
    void nullLevelIsRejectedByName() {
        try (AttentionBackend attn = AttentionBackend.of(new CountingSession())) {
            PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
            List<CascadeLevel> levels = java.util.Arrays.asList(new CascadeLevel(new int[] {0, 1}, table), null);
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> attn.planCascade(levels,
                    new HeadConfig(1, 1, 2), AttentionOptions.DEFAULT, PlanOptions.DEFAULT));
            assertTrue(e.getMessage().startsWith("levels[1]: is null"), e.getMessage());
        }
    }

    /** The reference session, minus MERGE, counting the kernel plans that are open. */
    private static final class CountingSession extends DelegatingSession {
        private final AtomicInteger openPlans = new AtomicInteger();
        private final Capabilities capabilities;

        CountingSession() {
            Capabilities c = delegate.capabilities();
            EnumSet<Feature> features = EnumSet.allOf(Feature.class);
            features.remove(Feature.MERGE);
            capabilities = new Capabilities(c.qDtypes(), c.kvDtypes(), c.minHeadDim(), c.maxHeadDim(),
                    c.headDimStep(), c.layouts(), features);
        }

        @Override
        public KernelPlan plan(AttentionProblem problem) {
            KernelPlan plan = delegate.plan(problem);
            openPlans.incrementAndGet();
            return new KernelPlan() {
                @Override
                public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
                    plan.run(q, kv, o, lse);
                }

                @Override
                public void close() {
                    openPlans.decrementAndGet();
                    plan.close();
                }
            };
        }

        @Override
        public Capabilities capabilities() {
            return capabilities;
        }
    }
}
