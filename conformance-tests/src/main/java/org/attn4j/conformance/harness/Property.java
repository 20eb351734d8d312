package org.attn4j.conformance.harness;

import java.util.List;
import java.util.SplittableRandom;

/**
 * A law every backend must keep, checked over generated cases of type {@code C}.
 *
 * <p>{@link PropertyRunner} calls one property from one thread at a time; an implementation need
 * not be thread-safe, and generation must depend on the given random source alone so that a seed
 * reproduces a case.
 *
 * @param <C> the case type; its {@code toString} is a short description
 */
public interface Property<C> {
    /**
     * Stable key, used in reports and to replay a case.
     *
     * @return the name of the suite's test method that runs the property
     */
    String key();

    /**
     * What the property says, for display names and reports.
     *
     * @return a short phrase
     */
    String description();

    /**
     * Cases always checked first (spec §9's edge cases).
     *
     * @param rng the source of the values those cases need, seeded per property
     * @return the cases, in the order they are checked
     */
    List<C> edgeCases(SplittableRandom rng);

    /**
     * One random case.
     *
     * @param rng the source of randomness, seeded from the master seed, the key and the case's index
     * @return a new case
     */
    C randomCase(SplittableRandom rng);

    /**
     * Smaller variants of a failing case, most aggressive first.
     *
     * @param c a failing case
     * @return candidates, each simpler than {@code c}; empty when {@code c} is as simple as it gets
     */
    List<C> shrink(C c);

    /**
     * Why the backend under test or the oracle cannot take the case; checked before every
     * {@link #check}, so a skipped case costs nothing.
     *
     * @param c a case
     * @return the reason, or null when the case can run
     */
    String unsupported(C c);

    /**
     * Checks the property on one case: returns normally, throws {@link AssertionError}, or {@link CaseSkipped}.
     *
     * @param c a case {@link #unsupported} accepted
     * @throws CaseSkipped when it turns out only while running that the case cannot be taken
     * @throws Exception   any other failure, which fails the case like an {@link AssertionError}
     */
    void check(C c) throws Exception;

    /**
     * The case as a Java expression for a reproduction; equal expressions mean equal cases.
     *
     * @param c a case
     * @return an expression that rebuilds {@code c}
     */
    String toJava(C c);
}
