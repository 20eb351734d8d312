package org.attn4j.conformance.harness;

import java.util.List;
import java.util.SplittableRandom;

/**
 * A law every backend must keep, checked over generated cases of type {@code C}.
 *
 * @param <C> the case type; its {@code toString} is a short description
 */
public interface Property<C> {
    /** Stable key (the test method's name), used in reports and to replay a case. */
    String key();

    /** What the property says, for display names and reports. */
    String description();

    /** Cases always checked first (spec §9's edge cases), drawn from {@code rng} where they need values. */
    List<C> edgeCases(SplittableRandom rng);

    C randomCase(SplittableRandom rng);

    /** Smaller variants of a failing case, most aggressive first. */
    List<C> shrink(C c);

    /** Why the backend under test or the oracle cannot take the case, or null. */
    String unsupported(C c);

    /** Checks the property on one case: returns normally, throws {@link AssertionError}, or {@link CaseSkipped}. */
    void check(C c) throws Exception;

    /** The case as a Java expression for a reproduction. */
    String toJava(C c);
}
