package org.attn4j.tensor;

/** Element types of attn4j tensors (spec §1). Stores round to nearest even; FP8 stores saturate. */
public enum DType {
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    /** OCP e4m3fn: no infinities, max 448, NaN = S.1111.111. */
    FP8_E4M3(1, true),
    /** OCP e5m2. */
    FP8_E5M2(1, true),
    I32(4, false);

    private final int byteSize;
    private final boolean floating;

    DType(int byteSize, boolean floating) {
        this.byteSize = byteSize;
        this.floating = floating;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floating;
    }

    public boolean isFp8() {
        return this == FP8_E4M3 || this == FP8_E5M2;
    }
}
