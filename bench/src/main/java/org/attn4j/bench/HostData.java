package org.attn4j.bench;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * Fast random host tensors: a random block of odd length tiled over the tensor.
 *
 * <p>Stateless and thread-safe.
 */
public final class HostData {
    /** Elements in the random block; odd, so the tiling does not line up with heads or pages. */
    private static final int BLOCK = (1 << 20) + 7;

    private HostData() {}

    /**
     * A tensor of values uniform in [-1, 1), rounded to {@code dtype}.
     *
     * @param dtype the element type
     * @param seed  the generator's seed; the same seed gives the same values
     * @param shape the tensor's dimensions
     * @return a new host tensor, owned by the caller
     */
    public static HostTensor uniform(DType dtype, long seed, long... shape) {
        HostTensor t = HostTensor.allocate(dtype, shape);
        long n = t.elementCount();
        int block = (int) Math.min(n, BLOCK);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < block; i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 2 - 1));
        }
        MemorySegment seg = t.segment();
        long blockBytes = (long) block * dtype.byteSize();
        for (long done = blockBytes; done < t.byteSize(); ) {
            long len = Math.min(done, t.byteSize() - done); // doubling copies: log(n) calls
            MemorySegment.copy(seg, 0, seg, done, len);
            done += len;
        }
        return t;
    }
}
