package org.attn4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.attn4j.AttentionBackend;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * What a backend cannot run is a capability core-api checks before the backend is asked: a
 * device backend never sees a plan below its alignment or caller memory off an element boundary.
 */
class CapabilityRulesTest {
    private static final PageTable TABLE = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {3}, 4);
    private static final HeadConfig HEADS = new HeadConfig(2, 1, 16);

    @Test
    void planBelowTheKernelsAlignmentIsRejectedBeforeTheBackendPlans() {
        StrictSession session = new StrictSession();
        try (AttentionBackend attn = AttentionBackend.of(session)) {
            PlanOptions four = PlanOptions.DEFAULT.withDtypes(DType.BF16, DType.BF16).withAlignment(4);
            var e = assertThrows(InvalidArgumentException.class,
                    () -> attn.planBatchDecode(TABLE, HEADS, AttentionOptions.DEFAULT, four));
            assertEquals("plan.alignment: backend 'reference' reads rows as 8-byte vectors, so q, o and K/V views "
                    + "must keep at least 8-byte alignment; actual 4", e.getMessage());
            assertThrows(InvalidArgumentException.class,
                    () -> attn.decodeWorkspaceBytes(TABLE, HEADS, AttentionOptions.DEFAULT, four));
            assertEquals(0, session.plans.get(), "the backend was asked to plan");
            attn.planBatchDecode(TABLE, HEADS, AttentionOptions.DEFAULT, four.withAlignment(8)).close();
            assertEquals(1, session.plans.get());
        }
    }

    @Test
    void deviceMemoryOffAnElementBoundaryIsRejectedBeforeTheBackendWraps() {
        try (AttentionBackend attn = AttentionBackend.of(new StrictSession())) {
            var cuda = assertThrows(InvalidArgumentException.class,
                    () -> attn.wrap(new ExternalMemory.CudaDevicePointer(0x1001, 64), DType.BF16, 4));
            assertEquals("memory.address: expected a multiple of 2 (one BF16), actual 0x1001", cuda.getMessage());
            var opencl = assertThrows(InvalidArgumentException.class,
                    () -> attn.wrap(new ExternalMemory.OpenClBuffer(7, 6, 64), DType.F32, 4));
            assertEquals("memory.byteOffset: expected a multiple of 4 bytes (one F32), actual 6", opencl.getMessage());
        }
    }

    /** The reference session declaring a device backend's rules: 8-byte alignment, device memory. */
    private static final class StrictSession extends DelegatingSession {
        private final AtomicInteger plans = new AtomicInteger();
        private final Capabilities capabilities;

        StrictSession() {
            Capabilities c = delegate.capabilities();
            capabilities = new Capabilities(c.qDtypes(), c.kvDtypes(), c.minHeadDim(), c.maxHeadDim(),
                    c.headDimStep(), c.layouts(), c.features(), Set.of(ExternalMemory.Kind.CUDA_DEVICE_POINTER,
                    ExternalMemory.Kind.OPENCL_BUFFER), 8);
        }

        @Override
        public KernelPlan plan(AttentionProblem problem) {
            plans.incrementAndGet();
            return delegate.plan(problem);
        }

        @Override
        public Tensor wrap(ExternalMemory memory, DType dtype, long[] shape) {
            throw new AssertionError("the backend was asked to wrap " + memory);
        }

        @Override
        public Capabilities capabilities() {
            return capabilities;
        }
    }
}
