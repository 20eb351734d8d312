package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;
import java.util.Arrays;
import org.attn4j.internal.check.Args;

/**
 * Per-request {@code qoLen x kvLen} boolean masks, row-major, requests concatenated, held
 * bit-packed little-endian (bit {@code k} of byte {@code m} is element {@code 8m + k}).
 * Per-request bit offsets may be given; when absent they are derived from the lengths as the
 * running sum of {@code qoLen_b * kvLen_b}.
 *
 * <p>Immutable (arrays are copied in and out) and thread-safe.
 */
public final class CustomMask {
    private final byte[] packed;
    private final long bitCount;
    private final long[] offsets; // null: derived

    private CustomMask(byte[] packed, long bitCount, long[] offsets) {
        this.packed = packed;
        this.bitCount = bitCount;
        this.offsets = offsets;
    }

    /**
     * From booleans, requests concatenated; offsets derived.
     *
     * @param mask true where a key is allowed
     * @return the packed mask
     */
    public static CustomMask fromBooleans(boolean[] mask) {
        Args.notNull(mask, "mask");
        byte[] packed = new byte[(mask.length + 7) / 8];
        for (int i = 0; i < mask.length; i++) {
            if (mask[i]) {
                packed[i >>> 3] |= (byte) (1 << (i & 7));
            }
        }
        return new CustomMask(packed, mask.length, null);
    }

    /**
     * From bit-packed little-endian bytes holding {@code bitCount} elements; offsets derived.
     *
     * @param packed   the bits, at least {@code (bitCount + 7) / 8} bytes
     * @param bitCount the elements the bytes hold
     * @return the mask
     */
    public static CustomMask fromPacked(byte[] packed, long bitCount) {
        Args.notNull(packed, "mask");
        if (bitCount < 0 || bitCount > 8L * packed.length) {
            throw InvalidArgumentException.expected("mask", "at least " + ((bitCount + 7) / 8) + " bytes for "
                    + bitCount + " bits", packed.length + " bytes");
        }
        return new CustomMask(packed.clone(), bitCount, null);
    }

    /**
     * From bit-packed bytes with the bit offset of each request's matrix given.
     *
     * @param packed         the bits, at least {@code (bitCount + 7) / 8} bytes
     * @param bitCount       the elements the bytes hold
     * @param requestOffsets the first bit of each request's matrix
     * @return the mask
     */
    public static CustomMask fromPacked(byte[] packed, long bitCount, long[] requestOffsets) {
        Args.notNull(requestOffsets, "requestOffsets");
        CustomMask m = fromPacked(packed, bitCount);
        return new CustomMask(m.packed, bitCount, requestOffsets.clone());
    }

    /**
     * The elements the mask holds.
     *
     * @return its bit count
     */
    public long bitCount() {
        return bitCount;
    }

    /**
     * One element of the mask.
     *
     * @param index the element's index, below {@link #bitCount()}
     * @return whether the key is allowed
     */
    public boolean bit(long index) {
        return ((packed[(int) (index >>> 3)] >>> (index & 7)) & 1) != 0;
    }

    /**
     * The packed bytes.
     *
     * @return a copy
     */
    public byte[] packed() {
        return packed.clone();
    }

    /**
     * Given offsets, or null when they are derived from the lengths.
     *
     * @return a copy, or null
     */
    public long[] givenOffsets() {
        return offsets == null ? null : offsets.clone();
    }

    /**
     * The bit offset of each request's matrix for these lengths, checked against the mask's
     * size; {@code offsets[b] + qoLen_b * kvLen_b <= bitCount}.
     *
     * @param qoLens each request's query rows
     * @param kvLens each request's keys
     * @return each request's first bit
     * @throws InvalidArgumentException when the mask does not fit the lengths
     */
    public long[] resolveOffsets(int[] qoLens, int[] kvLens) {
        int batch = qoLens.length;
        long[] out = new long[batch];
        long running = 0;
        for (int b = 0; b < batch; b++) {
            long need = (long) qoLens[b] * kvLens[b];
            if (offsets != null) {
                if (offsets.length != batch) {
                    throw InvalidArgumentException.expected("mask.offsets.length", batch, offsets.length);
                }
                out[b] = offsets[b];
                if (out[b] < 0 || out[b] > bitCount - need) {
                    throw new InvalidArgumentException("mask.offsets[" + b + "]", "request " + b + " needs bits ["
                            + out[b] + ", " + (out[b] + need) + ") inside [0, " + bitCount + ")");
                }
            } else {
                out[b] = running;
            }
            running += need;
        }
        if (offsets == null && running != bitCount) {
            throw InvalidArgumentException.expected("mask.length",
                    running + " bits (sum of qoLen*kvLen over requests)", bitCount);
        }
        return out;
    }

    @Override
    public String toString() {
        return "CustomMask[" + bitCount + " bits" + (offsets == null ? "" : ", offsets " + Arrays.toString(offsets)) + "]";
    }
}
