package org.attn4j.conformance.properties;

import java.util.EnumSet;
import java.util.List;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.cases.SplitCase;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.spi.Feature;

/**
 * spec §6's split-KV, where it breaks: requests whose lengths are one short of, exactly, or one
 * past a multiple of the chunk the backend splits them into (with a small {@code maxSplitChunk},
 * a deterministic plan's fixed chunk, or an automatic split of a small grid; see
 * {@link SplitCase}), against the spec oracle. A split path that drops, repeats or misplaces the
 * last chunk, or the key at a chunk's edge, fails here.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class SplitProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public SplitProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(new SimpleProperty<>("splitKvBoundariesMatchOracle",
                "split-KV at kvLen = k·chunk − 1, k·chunk, k·chunk + 1 (capped, deterministic, automatic) "
                        + "≈ spec oracle", SplitCase::edgeCases, SplitCase::random, SplitCase::shrink,
                this::unsupported, this::check, SplitCase::toJava));
    }

    /** Batch decode for one query row per request and no mask (a mask is prefill's), else prefill. */
    private static boolean decode(SplitCase c) {
        return !c.ragged() && Operations.runsAsDecode(c.kase());
    }

    private String unsupported(SplitCase c) {
        EnumSet<Feature> need = EnumSet.of(decode(c) ? Feature.DECODE : Feature.PREFILL);
        if (c.deterministic()) {
            need.add(Feature.DETERMINISTIC);
        }
        return Support.reason(s.capabilities(), c.kase(), need);
    }

    private void check(SplitCase c) {
        AttentionCase k = c.kase();
        CaseData data = CaseData.of(k);
        AttentionOutput actual;
        String what;
        if (c.ragged()) {
            actual = Operations.ragged(s.backend(), data, c.planOptions());
            what = "ragged prefill";
        } else {
            try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                actual = Operations.batch(s.backend(), data, pool, decode(c), c.planOptions());
            }
            what = decode(c) ? "batch decode" : "batch prefill";
        }
        AttentionOutput expected = SpecOracle.attention(data);
        Compare.outputs(what + " with " + c.planOptions() + " vs spec oracle", actual, expected,
                Tolerance.forOutput(k.qDtype()));
    }
}
