package org.attn4j.opencl;

import org.attn4j.tensor.DType;

/** Type codes the kernels use for the element formats (see {@code common.cl}). */
final class OpenClTypes {
    private OpenClTypes() {}

    static int code(DType dtype) {
        return switch (dtype) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            case FP8_E4M3 -> 3;
            case FP8_E5M2 -> 4;
            case I32 -> throw new IllegalArgumentException("I32 is not an element format of the kernels");
        };
    }

    /** An unsigned storage word of the dtype's size, for bit copies. */
    static String bitsType(DType dtype) {
        return switch (dtype.byteSize()) {
            case 1 -> "uchar";
            case 2 -> "ushort";
            default -> "uint";
        };
    }
}
