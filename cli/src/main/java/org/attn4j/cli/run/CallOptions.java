package org.attn4j.cli.run;

import java.io.IOException;
import java.util.Set;
import org.attn4j.cli.CliException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.CustomMask;
import org.attn4j.options.Llama31RopeScaling;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;

/** The option objects of a call spec: attention options, RoPE, plan options and masks. */
final class CallOptions {
    static final Set<String> ATTENTION_KEYS = Set.of("causal", "window_left", "logits_soft_cap", "sm_scale", "rope",
            "sinks", "alibi", "alibi_slopes");

    private CallOptions() {}

    /**
     * Attention options as a spec gives them. {@code "alibi": true} asks for the standard slopes,
     * which depend on the number of query heads, known only once q is read.
     */
    record Attention(AttentionOptions options, boolean standardAlibi) {
        /** The options for {@code hq} query heads. */
        AttentionOptions forHeads(int hq) {
            return standardAlibi ? options.withAlibiSlopes(AlibiSlopes.standard(hq)) : options;
        }
    }

    /**
     * {@code causal}, {@code window_left}, {@code logits_soft_cap}, {@code sm_scale}, {@code rope};
     * {@code sinks} and {@code alibi_slopes} (one value per query head, inline or a {@code <f4}
     * .npy) or {@code "alibi": true} (the standard slopes).
     */
    static Attention attention(SpecReader r) throws IOException {
        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(r.bool("causal", false))
                .withWindowLeft(r.integer("window_left", -1))
                .withLogitsSoftCap((float) r.number("logits_soft_cap", 0))
                .withSmScale((float) r.number("sm_scale", Double.NaN));
        if (r.has("rope")) {
            options = options.withRope(rope(r.object("rope")));
        }
        if (r.has("sinks")) {
            float[] sinks = r.floats("sinks");
            options = options.withSinks(made(r, "sinks", () -> AttentionSinks.of(sinks)));
        }
        boolean standard = r.bool("alibi", false);
        if (r.has("alibi_slopes")) {
            if (standard) {
                throw new CliException(r.where() + ": give \"alibi\": true (the standard slopes) or \"alibi_slopes\","
                        + " not both");
            }
            float[] slopes = r.floats("alibi_slopes");
            options = options.withAlibiSlopes(made(r, "alibi_slopes", () -> AlibiSlopes.of(slopes)));
        }
        return new Attention(options, standard);
    }

    /** Values made into their option, a rejected value reported under the spec's key. */
    private static <T> T made(SpecReader r, String key, java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (InvalidArgumentException e) {
            throw new CliException(r.where() + ": \"" + key + "\": " + e.getMessage());
        }
    }

    /**
     * {@code {"interleaved", "theta", "scale", "rotary_dim", "llama31": {...}}}, every key optional;
     * {@code rotary_dim} 0 or absent rotates the whole head.
     */
    static RopeOptions rope(SpecReader r) {
        r.allowOnly(Set.of("interleaved", "theta", "scale", "rotary_dim", "llama31"));
        RopeOptions whole = new RopeOptions(r.bool("interleaved", false), r.number("theta", 1e4),
                r.number("scale", 1), null);
        int rotaryDim = r.integer("rotary_dim", 0);
        RopeOptions rope = made(r, "rotary_dim", () -> whole.withRotaryDim(rotaryDim));
        if (r.has("llama31")) {
            SpecReader l = r.object("llama31");
            l.allowOnly(Set.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position"));
            Llama31RopeScaling d = Llama31RopeScaling.DEFAULT;
            rope = rope.withLlama31(new Llama31RopeScaling(l.number("factor", d.factor()),
                    l.number("low_freq_factor", d.lowFreqFactor()), l.number("high_freq_factor", d.highFreqFactor()),
                    l.integer("original_max_position", d.originalMaxPosition())));
        }
        return rope;
    }

    /** {@code "plan": {"deterministic": true, "max_split_chunk": 256}}; absent: the backend's default. */
    static PlanOptions plan(SpecReader r) {
        if (!r.has("plan")) {
            return PlanOptions.DEFAULT;
        }
        SpecReader p = r.object("plan");
        p.allowOnly(Set.of("deterministic", "max_split_chunk"));
        return new PlanOptions(p.bool("deterministic", false), p.integer("max_split_chunk", 0));
    }

    /**
     * {@code "mask"}: a boolean .npy file or an inline list (requests' {@code qoLen x kvLen}
     * matrices concatenated), or an object: {@code {"booleans": file|list, "offsets": [...]}} or
     * {@code {"packed": file|list, "bits": N, "offsets": [...]}} with bytes bit-packed
     * little-endian ({@code np.packbits(m, bitorder="little")}) and optional per-request bit offsets.
     */
    static CustomMask mask(SpecReader r) throws IOException {
        if (!r.has("mask")) {
            return null;
        }
        Object raw = r.raw("mask");
        if (raw instanceof String || raw instanceof java.util.List<?>) {
            return CustomMask.fromBooleans(r.booleans("mask"));
        }
        SpecReader m = r.object("mask");
        m.allowOnly(Set.of("booleans", "packed", "bits", "offsets"));
        if (m.has("booleans") == m.has("packed")) {
            throw new CliException(m.where() + ": give one of \"booleans\" and \"packed\"");
        }
        long[] offsets = m.has("offsets") ? m.longs("offsets") : null;
        if (m.has("booleans")) {
            if (m.has("bits")) {
                throw new CliException(m.where() + ": \"bits\" goes with \"packed\"; booleans count themselves");
            }
            boolean[] bools = m.booleans("booleans");
            if (offsets == null) {
                return CustomMask.fromBooleans(bools);
            }
            byte[] packed = CustomMask.fromBooleans(bools).packed();
            return CustomMask.fromPacked(packed, bools.length, offsets);
        }
        byte[] packed = m.bytes("packed");
        long bits = bitsOf(m, packed.length);
        return offsets == null ? CustomMask.fromPacked(packed, bits) : CustomMask.fromPacked(packed, bits, offsets);
    }

    private static long bitsOf(SpecReader m, int bytes) {
        if (!m.has("bits")) {
            return 8L * bytes;
        }
        Object v = m.raw("bits");
        if (!(v instanceof Long n) || n < 0) {
            throw m.mismatch("bits", "a bit count >= 0", v);
        }
        return n;
    }
}
