package org.attn4j.cli.run;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.attn4j.cli.CliException;

/** One public operation of the core API as {@code attn4j run} reads it from a JSON spec. */
interface Operation {
    /** Keys every spec may have. */
    Set<String> COMMON_KEYS = Set.of("op", "backend");

    /** The op's name in the spec. */
    String op();

    /** Runs the call on {@code in}'s backend; returns the host copies of what it wrote. */
    RunResult run(Inputs in) throws IOException;

    /** Every op name, for messages and help. */
    List<String> NAMES = List.of("decode", "prefill", "prefill_ragged", "single_decode", "single_prefill", "cascade",
            "merge_state", "merge_state_in_place", "merge_states", "append_kv", "rope", "mla_decode", "mla_prefill");

    static Operation read(SpecReader r) throws IOException {
        String op = r.string("op").toLowerCase(Locale.ROOT);
        return switch (op) {
            case "decode", "prefill", "prefill_ragged", "single_decode", "single_prefill" -> AttentionOp.read(op, r);
            case "cascade" -> CascadeOp.read(r);
            case "merge_state", "merge_state_in_place", "merge_states" -> MergeOp.read(op, r);
            case "append_kv" -> AppendOp.read(r);
            case "rope" -> RopeOp.read(r);
            case "mla_decode", "mla_prefill" -> MlaOp.read(op, r);
            default -> throw new CliException(r.where() + ": \"op\": expected one of " + String.join(", ", NAMES)
                    + ", actual \"" + r.string("op") + "\"");
        };
    }

    /** The union of key sets, for {@link SpecReader#allowOnly}. */
    @SafeVarargs
    static Set<String> keys(Set<String>... sets) {
        Set<String> all = new TreeSet<>();
        for (Set<String> s : sets) {
            all.addAll(s);
        }
        return all;
    }
}
