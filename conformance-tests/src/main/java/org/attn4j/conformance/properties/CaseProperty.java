package org.attn4j.conformance.properties;

import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCases;
import org.attn4j.conformance.harness.Property;
import org.attn4j.spi.Feature;

/**
 * A property over {@link AttentionCase}s: the shared generator and shrinker, narrowed by an
 * adapter to the cases the property is about (e.g. no RoPE for a cascade), and the features the
 * operation needs besides those the case's options use.
 */
final class CaseProperty implements Property<AttentionCase> {
    /** Which query shapes a property draws. */
    enum Shape { DECODE, PREFILL, EITHER }

    private final Subject subject;
    private final String key;
    private final String description;
    private final Shape shape;
    private final UnaryOperator<AttentionCase.Builder> adapter;
    private final EnumSet<Feature> needed;
    private final Consumer<AttentionCase> check;
    /** Draws cases whose V and o rows differ in length from q and K rows ({@code Dvo != Dqk}). */
    private final boolean distinctHeadDims;

    CaseProperty(Subject subject, String key, String description, Shape shape,
                 UnaryOperator<AttentionCase.Builder> adapter, EnumSet<Feature> needed, Consumer<AttentionCase> check) {
        this(subject, key, description, shape, adapter, needed, check, false);
    }

    /**
     * The same property over cases with {@code Dvo != Dqk} (spec §2), for backends with
     * {@link Feature#DISTINCT_VO_HEAD_DIM}.
     */
    CaseProperty withDistinctHeadDims(String newKey, String newDescription) {
        EnumSet<Feature> need = EnumSet.copyOf(needed);
        need.add(Feature.DISTINCT_VO_HEAD_DIM);
        return new CaseProperty(subject, newKey, newDescription, shape, adapter, need, check, true);
    }

    private CaseProperty(Subject subject, String key, String description, Shape shape,
                 UnaryOperator<AttentionCase.Builder> adapter, EnumSet<Feature> needed, Consumer<AttentionCase> check,
                 boolean distinctHeadDims) {
        this.distinctHeadDims = distinctHeadDims;
        this.subject = subject;
        this.key = key;
        this.description = description;
        this.shape = shape;
        this.adapter = adapter;
        this.needed = needed;
        this.check = check;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public String description() {
        return description;
    }

    private AttentionCase adapt(AttentionCase c, boolean decode) {
        return AttentionCases.repair(adapter.apply(c.toBuilder()), decode);
    }

    @Override
    public List<AttentionCase> edgeCases(SplittableRandom rng) {
        if (distinctHeadDims) {
            List<AttentionCase> raw = switch (shape) {
                case DECODE -> AttentionCases.distinctHeadDims(true, rng, 0);
                case PREFILL -> AttentionCases.distinctHeadDims(false, rng, 0);
                case EITHER -> java.util.stream.Stream.concat(AttentionCases.distinctHeadDims(false, rng, 0).stream(),
                        AttentionCases.distinctHeadDims(true, rng, 0).stream().limit(4)).toList();
            };
            return raw.stream().map(c -> adapt(c, c.isDecode() && shape != Shape.PREFILL)).filter(Objects::nonNull)
                    .toList();
        }
        List<AttentionCase> raw = switch (shape) {
            case DECODE -> AttentionCases.edgeCases(true, rng);
            case PREFILL -> AttentionCases.edgeCases(false, rng);
            case EITHER -> java.util.stream.Stream.concat(AttentionCases.edgeCases(false, rng).stream(),
                    AttentionCases.edgeCases(true, rng).stream().limit(6)).toList();
        };
        return raw.stream().map(c -> adapt(c, c.isDecode() && shape != Shape.PREFILL)).filter(Objects::nonNull)
                .toList();
    }

    @Override
    public AttentionCase randomCase(SplittableRandom rng) {
        boolean decode = shape == Shape.DECODE || (shape == Shape.EITHER && rng.nextInt(3) == 0);
        for (int tries = 0; ; tries++) {
            AttentionCase c = adapt(distinctHeadDims ? AttentionCases.randomDistinctHeadDims(decode, rng)
                    : AttentionCases.random(decode, rng), decode);
            if (c != null || tries > 100) {
                return c;
            }
        }
    }

    @Override
    public List<AttentionCase> shrink(AttentionCase c) {
        boolean decode = c.isDecode() && shape != Shape.PREFILL;
        return AttentionCases.shrink(c).stream().map(x -> adapt(x, decode)).filter(Objects::nonNull).toList();
    }

    @Override
    public String unsupported(AttentionCase c) {
        EnumSet<Feature> need = EnumSet.copyOf(needed);
        if (shape == Shape.EITHER) {
            need.add(c.isDecode() ? Feature.DECODE : Feature.PREFILL);
        }
        return Support.reason(subject, c, need);
    }

    @Override
    public void check(AttentionCase c) {
        check.accept(c);
    }

    @Override
    public String toJava(AttentionCase c) {
        return c.toJava();
    }
}
