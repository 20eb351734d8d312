package org.attn4j.cli;

import java.util.Locale;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/** Parses the dtype and layout names users type: bf16, fp16/f16, f32, fp8/e4m3, e5m2; nhd, hnd. */
public final class Names {
    private Names() {}

    public static DType dtype(String name, String what) {
        String s = name.trim().toLowerCase(Locale.ROOT).replace("-", "_");
        return switch (s) {
            case "f32", "fp32", "float32", "float" -> DType.F32;
            case "f16", "fp16", "float16", "half" -> DType.F16;
            case "bf16", "bfloat16" -> DType.BF16;
            case "fp8", "e4m3", "fp8_e4m3", "float8_e4m3fn", "e4m3fn" -> DType.FP8_E4M3;
            case "e5m2", "fp8_e5m2", "float8_e5m2" -> DType.FP8_E5M2;
            case "i32", "int32" -> DType.I32;
            default -> throw new CliException(what + ": unknown dtype '" + name
                    + "' (expected f32, f16, bf16, fp8_e4m3, fp8_e5m2 or i32)");
        };
    }

    public static KvLayout layout(String name, String what) {
        return switch (name.trim().toUpperCase(Locale.ROOT)) {
            case "NHD" -> KvLayout.NHD;
            case "HND" -> KvLayout.HND;
            default -> throw new CliException(what + ": unknown layout '" + name + "' (expected NHD or HND)");
        };
    }
}
