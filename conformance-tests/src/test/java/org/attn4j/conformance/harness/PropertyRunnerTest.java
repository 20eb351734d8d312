package org.attn4j.conformance.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** The harness on integer cases: edge cases first, reasoned skips, shrinking, reproductions. */
class PropertyRunnerTest {
    private static final Settings SETTINGS = new Settings(0x1234L, 30, true);

    /**
     * Integers 0..999; fails where {@code bad} holds, with the error {@code failure} makes; skips odd
     * numbers when {@code skipOdd}.
     */
    private record IntProperty(IntPredicate bad, boolean skipOdd, List<Integer> seen,
                               java.util.function.IntFunction<RuntimeException> failure) implements Property<Integer> {
        /** Fails with an assertion error naming the case. */
        IntProperty(IntPredicate bad, boolean skipOdd, List<Integer> seen) {
            this(bad, skipOdd, seen, null);
        }

        @Override
        public String key() {
            return "ints";
        }

        @Override
        public String description() {
            return "integers";
        }

        @Override
        public List<Integer> edgeCases(SplittableRandom rng) {
            return List.of(0, 1, 2);
        }

        @Override
        public Integer randomCase(SplittableRandom rng) {
            return rng.nextInt(1000);
        }

        @Override
        public List<Integer> shrink(Integer c) {
            return c == 0 ? List.of() : List.of(c / 2, c - 1);
        }

        @Override
        public String unsupported(Integer c) {
            return skipOdd && c % 2 == 1 ? "odd" : null;
        }

        @Override
        public void check(Integer c) {
            seen.add(c);
            if (bad.test(c)) {
                if (failure != null) {
                    throw failure.apply(c);
                }
                throw new AssertionError("bad " + c);
            }
        }

        @Override
        public String toJava(Integer c) {
            return String.valueOf(c);
        }
    }

    @Test
    void passingPropertyChecksEdgeCasesFirstThenRandomOnes() {
        Summary summary = new Summary("test", SETTINGS);
        List<Integer> seen = new ArrayList<>();
        new PropertyRunner("test", SETTINGS, summary).run(new IntProperty(c -> false, false, seen));
        assertEquals(List.of(0, 1, 2), seen.subList(0, 3));
        assertEquals(33, seen.size());
        PropertyReport r = summary.reports().get(0);
        assertEquals(PropertyReport.Status.PASSED, r.status());
        assertEquals(33, r.passed());
    }

    @Test
    void sameSeedSameCases() {
        List<Integer> a = new ArrayList<>();
        List<Integer> b = new ArrayList<>();
        new PropertyRunner("t", SETTINGS, new Summary("t", SETTINGS)).run(new IntProperty(c -> false, false, a));
        new PropertyRunner("t", SETTINGS, new Summary("t", SETTINGS)).run(new IntProperty(c -> false, false, b));
        assertEquals(a, b);
    }

    @Test
    void failureIsShrunkToTheSmallestFailingCaseAndPrintedWithTheSeed() {
        Summary summary = new Summary("test", SETTINGS);
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> new PropertyRunner("test", SETTINGS,
                summary).run(new IntProperty(c -> c >= 37, false, new ArrayList<>())));
        String m = e.getMessage();
        assertTrue(m.contains("seed 0x1234"), m);
        assertTrue(m.contains("check(\"ints\", 37);"), m);
        assertTrue(m.contains("error:    bad 37"), m);
        assertEquals(PropertyReport.Status.FAILED, summary.reports().get(0).status());
        assertTrue(summary.render().contains("FAILED  ints"), summary.render());
    }

    @Test
    void failureWrappingItsCauseShowsTheWrappersLinesSuchAsACompilerLog() {
        Property<Integer> p = new IntProperty(c -> true, false, new ArrayList<>(), c -> new IllegalStateException(
                "build failed; build log:\nline 3: unknown type 'halfx'\n1 error",
                new RuntimeException("CL_BUILD_PROGRAM_FAILURE")));
        AssertionFailedError e = assertThrows(AssertionFailedError.class,
                () -> new PropertyRunner("test", SETTINGS, new Summary("test", SETTINGS)).run(p));
        String m = e.getMessage();
        assertTrue(m.contains("error:    java.lang.RuntimeException: CL_BUILD_PROGRAM_FAILURE"), m);
        assertTrue(m.contains("line 3: unknown type 'halfx'"), m);
    }

    /** A property over ints whose shrinker is given: every case fails. */
    private static Property<Integer> alwaysFailing(java.util.function.Function<Integer, List<Integer>> shrinker,
                                                   List<Integer> checked) {
        IntProperty base = new IntProperty(c -> true, false, checked);
        return new Property<>() {
            @Override
            public String key() {
                return "loop";
            }

            @Override
            public String description() {
                return "shrinks in circles";
            }

            @Override
            public List<Integer> edgeCases(SplittableRandom rng) {
                return List.of(50);
            }

            @Override
            public Integer randomCase(SplittableRandom rng) {
                return 50;
            }

            @Override
            public List<Integer> shrink(Integer c) {
                return shrinker.apply(c);
            }

            @Override
            public String unsupported(Integer c) {
                return null;
            }

            @Override
            public void check(Integer c) {
                base.check(c);
            }

            @Override
            public String toJava(Integer c) {
                return String.valueOf(c);
            }
        };
    }

    @Test
    void shrinkingNeverRetriesACaseAlreadyTried() {
        PropertyRunner runner = new PropertyRunner("test", SETTINGS, new Summary("test", SETTINGS));
        // an adapter that maps every smaller candidate back onto the case itself
        List<Integer> checked = new ArrayList<>();
        PropertyRunner.Shrunk<Integer> same = runner.shrink(alwaysFailing(c -> List.of(c, c, c), checked), 50,
                new AssertionError("bad 50"));
        assertEquals(50, same.kase());
        assertEquals(0, same.steps());
        assertEquals(0, same.attempts());
        assertTrue(checked.isEmpty(), checked.toString());
        // two steps that undo each other
        checked.clear();
        PropertyRunner.Shrunk<Integer> cycle = runner.shrink(alwaysFailing(c -> List.of(c == 50 ? 49 : 50, c),
                checked), 50, new AssertionError("bad 50"));
        assertEquals(49, cycle.kase());
        assertEquals(1, cycle.steps());
        assertEquals(List.of(49), checked);
        // real progress still goes all the way down
        PropertyRunner.Shrunk<Integer> down = runner.shrink(alwaysFailing(c -> c == 0 ? List.of() : List.of(c, c - 1),
                new ArrayList<>()), 50, new AssertionError("bad 50"));
        assertEquals(0, down.kase());
        assertEquals(50, down.attempts());
    }

    @Test
    void skippedCasesAreCountedWithTheirReason() {
        Summary summary = new Summary("test", SETTINGS);
        new PropertyRunner("test", SETTINGS, summary).run(new IntProperty(c -> false, true, new ArrayList<>()));
        PropertyReport r = summary.reports().get(0);
        assertTrue(r.skipped() > 0);
        assertEquals(r.skipped(), r.skipReasons().get("odd"));
        assertEquals(33, r.passed() + r.skipped());
        assertTrue(summary.render().contains("x odd"), summary.render());
    }

    @Test
    void propertyWithEveryCaseSkippedIsAbortedNotPassed() {
        Summary summary = new Summary("test", SETTINGS);
        IntProperty all = new IntProperty(c -> false, false, new ArrayList<>());
        Property<Integer> skipping = new Property<>() {
            @Override
            public String key() {
                return "none";
            }

            @Override
            public String description() {
                return "never runs";
            }

            @Override
            public List<Integer> edgeCases(SplittableRandom rng) {
                return all.edgeCases(rng);
            }

            @Override
            public Integer randomCase(SplittableRandom rng) {
                return all.randomCase(rng);
            }

            @Override
            public List<Integer> shrink(Integer c) {
                return List.of();
            }

            @Override
            public String unsupported(Integer c) {
                return "feature X absent";
            }

            @Override
            public void check(Integer c) {
                throw new AssertionError("must not run");
            }

            @Override
            public String toJava(Integer c) {
                return "" + c;
            }
        };
        TestAbortedException e = assertThrows(TestAbortedException.class,
                () -> new PropertyRunner("test", SETTINGS, summary).run(skipping));
        assertTrue(e.getMessage().contains("feature X absent"), e.getMessage());
        assertEquals(PropertyReport.Status.SKIPPED, summary.reports().get(0).status());
    }

    @Test
    void replayFailsOnTheGivenCase() {
        PropertyRunner runner = new PropertyRunner("test", SETTINGS, new Summary("test", SETTINGS));
        IntProperty p = new IntProperty(c -> c == 5, false, new ArrayList<>());
        runner.replay(p, 4);
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> runner.replay(p, 5));
        assertTrue(e.getMessage().contains("bad 5"), e.getMessage());
    }

    @Test
    void seedsParseAndDeriveStably() {
        System.setProperty("attn4j.seed", "0xff");
        System.setProperty("attn4j.cases", "0");
        try {
            Settings s = Settings.fromSystemProperties();
            assertEquals(255L, s.seed());
            assertEquals(Settings.DEFAULT_CASES, s.cases());
            assertEquals(s.caseSeed("p", 3), new Settings(255L, 7, true).caseSeed("p", 3));
            assertTrue(s.caseSeed("p", 3) != s.caseSeed("p", 4));
        } finally {
            System.clearProperty("attn4j.seed");
            System.clearProperty("attn4j.cases");
        }
    }
}
