package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.Llama31RopeScaling;
import org.attn4j.options.RopeOptions;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.tensor.DType;

/**
 * One call of {@code attn4j run}, as read from its JSON file.
 *
 * @param kvFile       a combined K/V file ({@code [pages, 2, ...]}) or null when k and v are separate
 * @param qoIndptr     prefill only
 * @param kvIndptr     page indptr (paged) or token indptr (ragged)
 * @param mask         custom mask booleans or null
 */
record CallSpec(Op op, String backend, Path q, DType qDtype, Path k, Path v, Path kvFile, DType kvDtype,
                KvLayout layout, KvScales scales, int[] qoIndptr, int[] kvIndptr, int[] kvIndices,
                int[] kvLastPageLen, AttentionOptions options, Path mask, boolean returnLse) {

    enum Op {
        DECODE, PREFILL, PREFILL_RAGGED, SINGLE_DECODE, SINGLE_PREFILL;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        boolean paged() {
            return this == DECODE || this == PREFILL;
        }
    }

    static final String HELP = """
            Runs one attention call on inputs from NumPy .npy files and writes o.npy (q's dtype; bf16 as raw
            '<u2', fp8 as raw '|u1') and lse.npy (float32, natural log) plus result.json into --out.

            The JSON object (file names relative to it; index arrays inline or as '<i4'/'<i8' .npy files):
              "op":              decode | prefill | prefill_ragged | single_decode | single_prefill
              "q":               q.npy: [B, Hq, D] (decode), [totalQ, Hq, D] (prefill), [Hq, D] / [qoLen, Hq, D] (single)
              "q_dtype":         f32 | f16 | bf16 (default: from the file; '<u2' needs it)
              "k", "v":          paged [pages, pageSize, Hkv, D] (NHD) / [pages, Hkv, pageSize, D] (HND);
                                 ragged [totalKv, Hkv, D]; single [kvLen, Hkv, D] (NHD) / [Hkv, kvLen, D] (HND)
              "kv":              instead of k and v: one paged file [pages, 2, ...], K first
              "kv_dtype":        f32 | f16 | bf16 | fp8_e4m3 | fp8_e5m2 (default: q's)
              "layout":          NHD (default) | HND
              "k_scale", "v_scale": dequantisation scales (default 1)
              "qo_indptr":       prefill and prefill_ragged
              "kv_indptr", "kv_indices", "kv_last_page_len": the page table (paged); kv_indptr alone for ragged
              "causal", "window_left", "logits_soft_cap", "sm_scale"
              "rope":            {"interleaved": false, "theta": 1e4, "scale": 1,
                                  "llama31": {"factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
                                              "original_max_position": 8192}}
              "mask":            booleans .npy ('|b1' or '|u1'), qoLen x kvLen per request, requests concatenated
              "return_lse":      true (default) | false
              "backend":         backend id (else --backend, else the best available)""";

    private static final Set<String> KEYS = Set.of("op", "backend", "q", "q_dtype", "k", "v", "kv", "kv_dtype",
            "layout", "k_scale", "v_scale", "qo_indptr", "kv_indptr", "kv_indices", "kv_last_page_len", "causal",
            "window_left", "logits_soft_cap", "sm_scale", "rope", "mask", "return_lse");

    static CallSpec read(SpecReader r) throws IOException {
        r.allowOnly(KEYS);
        Op op;
        String opName = r.string("op");
        try {
            op = Op.valueOf(opName.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CliException("\"op\": expected decode, prefill, prefill_ragged, single_decode or "
                    + "single_prefill, actual \"" + opName + "\"");
        }
        Path q = r.file("q");
        DType qDtype = r.has("q_dtype") ? Names.dtype(r.string("q_dtype"), "\"q_dtype\"") : null;
        Path k = null;
        Path v = null;
        Path kv = null;
        if (r.has("kv")) {
            if (!op.paged()) {
                throw new CliException("\"kv\" (one combined file) is only for paged ops; give \"k\" and \"v\"");
            }
            if (r.has("k") || r.has("v")) {
                throw new CliException("give either \"kv\" or \"k\" and \"v\", not both");
            }
            kv = r.file("kv");
        } else {
            k = r.file("k");
            v = r.file("v");
        }
        DType kvDtype = r.has("kv_dtype") ? Names.dtype(r.string("kv_dtype"), "\"kv_dtype\"") : null;
        KvLayout layout = Names.layout(r.string("layout", "NHD"), "\"layout\"");
        KvScales scales = new KvScales((float) r.number("k_scale", 1), (float) r.number("v_scale", 1));
        int[] qoIndptr = null;
        int[] kvIndptr = null;
        int[] kvIndices = null;
        int[] last = null;
        if (op == Op.PREFILL || op == Op.PREFILL_RAGGED) {
            qoIndptr = r.ints("qo_indptr");
        }
        if (op.paged()) {
            kvIndptr = r.ints("kv_indptr");
            kvIndices = r.ints("kv_indices");
            last = r.ints("kv_last_page_len");
        } else if (op == Op.PREFILL_RAGGED) {
            kvIndptr = r.ints("kv_indptr");
        }
        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(r.bool("causal", false))
                .withWindowLeft(r.integer("window_left", -1))
                .withLogitsSoftCap((float) r.number("logits_soft_cap", 0))
                .withSmScale((float) r.number("sm_scale", Double.NaN));
        if (r.has("rope")) {
            options = options.withRope(rope(r.object("rope")));
        }
        Path mask = r.has("mask") ? r.file("mask") : null;
        return new CallSpec(op, r.has("backend") ? r.string("backend") : null, q, qDtype, k, v, kv, kvDtype, layout,
                scales, qoIndptr, kvIndptr, kvIndices, last, options, mask, r.bool("return_lse", true));
    }

    private static RopeOptions rope(SpecReader r) {
        r.allowOnly(Set.of("interleaved", "theta", "scale", "llama31"));
        RopeOptions rope = new RopeOptions(r.bool("interleaved", false), r.number("theta", 1e4),
                r.number("scale", 1), null);
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
}
