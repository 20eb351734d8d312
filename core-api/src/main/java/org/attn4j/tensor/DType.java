package org.attn4j.tensor;

/**
 * Element types of attn4j tensors (spec §1). Stores round to nearest even; FP8 stores saturate.
 * Immutable and thread-safe.
 */
public enum DType {
    /** IEEE binary32. */
    F32(4, true),
    /** IEEE binary16. */
    F16(2, true),
    /** bfloat16: the upper 16 bits of binary32. */
    BF16(2, true),
    /** OCP e4m3fn: no infinities, max 448, NaN = S.1111.111. */
    FP8_E4M3(1, true),
    /** OCP e5m2. */
    FP8_E5M2(1, true),
    /** 32-bit signed integers: indices, page tables, positions. */
    I32(4, false);

    private final int byteSize;
    private final boolean floating;

    DType(int byteSize, boolean floating) {
        this.byteSize = byteSize;
        this.floating = floating;
    }

    /**
     * Bytes one element takes.
     *
     * @return 1, 2 or 4
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Whether the type holds real numbers.
     *
     * @return true for every type but {@link #I32}
     */
    public boolean isFloatingPoint() {
        return floating;
    }

    /**
     * Whether the type is one of the 8-bit floats.
     *
     * @return true for {@link #FP8_E4M3} and {@link #FP8_E5M2}
     */
    public boolean isFp8() {
        return this == FP8_E4M3 || this == FP8_E5M2;
    }
}
