package org.attn4j.cuda;

import org.attn4j.tensor.DType;

/** Kernel-name suffixes of dtypes, as kernels.cu spells them. */
final class CudaDtypes {
    private CudaDtypes() {}

    static String suffix(DType t) {
        return switch (t) {
            case F16 -> "f16";
            case BF16 -> "bf16";
            case FP8_E4M3 -> "e4m3";
            case FP8_E5M2 -> "e5m2";
            case F32 -> "f32";
            default -> throw new IllegalArgumentException("no CUDA kernels for " + t);
        };
    }
}
