package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.attn4j.cuda.driver.CudaException;
import org.attn4j.cuda.driver.TensorMapEncoder;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Probe;
import org.junit.jupiter.api.Test;

/**
 * The tensor-copy descriptor binding: bound where the driver has the symbol, else unavailable with
 * a reason and nothing thrown; where bound, a box the Hopper MLA kernel uses encodes and arguments
 * the driver rejects come back as a {@link CudaException}.
 */
class TensorMapEncoderTest {
    private static final long ALIGNED = 1L << 32;  // encoding reads no memory: any 16-byte aligned address

    @Test
    void bindsOrSaysWhyNot() {
        assertEquals(TensorMapEncoder.get() == null, TensorMapEncoder.unavailableReason() != null,
                String.valueOf(TensorMapEncoder.unavailableReason()));
    }

    @Test
    void encodesTheMlaKernelsBoxAndReportsWhatTheDriverRejects() {
        Probe p = new CudaBackendProvider().probe();
        assumeTrue(p.available(), () -> "cuda unavailable: " + p.reasons());
        TensorMapEncoder e = TensorMapEncoder.get();
        assumeTrue(e != null, TensorMapEncoder.unavailableReason());
        // The driver encodes for the current context, as the MLA plan's run makes it.
        try (CudaSession session = (CudaSession) new CudaBackendProvider().open(BackendOptions.DEFAULT)) {
            session.context().makeCurrent();
            encodeAndReject(e);
        }
    }

    private static void encodeAndReject(TensorMapEncoder e) {
        byte[] map = e.encode16(ALIGNED, new long[] {512, 64, 1000}, new long[] {1024, 64 * 1024}, new int[] {64, 64, 1},
                TensorMapEncoder.SWIZZLE_128B, TensorMapEncoder.L2_PROMOTION_256B);
        assertEquals(TensorMapEncoder.DESCRIPTOR_BYTES, map.length);
        boolean any = false;
        for (byte b : map) {
            any |= b != 0;
        }
        assertTrue(any, "an all-zero descriptor");
        // A slot stride that is not a multiple of 16 bytes, and a box wider than the 128-byte swizzle.
        CudaException stride = assertThrows(CudaException.class, () -> e.encode16(ALIGNED, new long[] {512, 64, 1000},
                new long[] {1000, 64 * 1024}, new int[] {64, 64, 1}, TensorMapEncoder.SWIZZLE_128B, 0));
        assertTrue(stride.getMessage().contains("cuTensorMapEncodeTiled"), stride.getMessage());
        assertThrows(CudaException.class, () -> e.encode16(ALIGNED, new long[] {512, 64, 1000},
                new long[] {1024, 64 * 1024}, new int[] {128, 64, 1}, TensorMapEncoder.SWIZZLE_128B, 0));
        assertThrows(IllegalArgumentException.class, () -> e.encode16(ALIGNED, new long[] {512, 64},
                new long[] {1024, 64 * 1024}, new int[] {64, 64}, TensorMapEncoder.SWIZZLE_128B, 0));
    }
}
