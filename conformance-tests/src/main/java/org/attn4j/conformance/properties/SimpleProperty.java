package org.attn4j.conformance.properties;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import org.attn4j.conformance.harness.Property;

/** A property assembled from functions, for case types without a shared generator class. */
record SimpleProperty<C>(String key, String description, Function<SplittableRandom, List<C>> edges,
                         Function<SplittableRandom, C> random, Function<C, List<C>> shrinker,
                         Function<C, String> unsupportedReason, Consumer<C> checker, Function<C, String> java)
        implements Property<C> {

    @Override
    public List<C> edgeCases(SplittableRandom rng) {
        return edges.apply(rng);
    }

    @Override
    public C randomCase(SplittableRandom rng) {
        return random.apply(rng);
    }

    @Override
    public List<C> shrink(C c) {
        return shrinker.apply(c);
    }

    @Override
    public String unsupported(C c) {
        return unsupportedReason.apply(c);
    }

    @Override
    public void check(C c) {
        checker.accept(c);
    }

    @Override
    public String toJava(C c) {
        return java.apply(c);
    }
}
