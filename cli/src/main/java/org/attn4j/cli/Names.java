package org.attn4j.cli;

import java.util.Locale;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

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

    /** The name attn4j prints for a dtype: f32, f16, bf16, fp8_e4m3, fp8_e5m2, i32. */
    public static String dtypeName(DType dtype) {
        return dtype.name().toLowerCase(Locale.ROOT);
    }

    public static KvLayout layout(String name, String what) {
        return switch (name.trim().toUpperCase(Locale.ROOT)) {
            case "NHD" -> KvLayout.NHD;
            case "HND" -> KvLayout.HND;
            default -> throw new CliException(what + ": unknown layout '" + name + "' (expected NHD or HND)");
        };
    }

    /** picocli converter for dtype options. */
    public static final class DTypeConverter implements ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            try {
                return dtype(value, "dtype");
            } catch (CliException e) {
                throw new TypeConversionException("unknown dtype '" + value
                        + "' (expected f32, f16, bf16, fp8_e4m3 or fp8_e5m2)");
            }
        }
    }

    /** picocli converter for layout options. */
    public static final class LayoutConverter implements ITypeConverter<KvLayout> {
        @Override
        public KvLayout convert(String value) {
            try {
                return layout(value, "layout");
            } catch (CliException e) {
                throw new TypeConversionException("unknown layout '" + value + "' (expected NHD or HND)");
            }
        }
    }
}
