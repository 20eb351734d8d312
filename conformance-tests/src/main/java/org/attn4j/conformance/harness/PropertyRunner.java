package org.attn4j.conformance.harness;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.TestReporter;
import org.opentest4j.AssertionFailedError;

/**
 * Runs a {@link Property} over its edge cases and then {@link Settings#cases()} random cases.
 * Cases the backend cannot take are skipped with their reason; the first failure is shrunk and
 * the test fails with the seed, the case id and a ready-to-paste reproduction. A property whose
 * every case was skipped is aborted (a visible skip), never passed.
 *
 * <p>Runs on the caller's thread. Not for concurrent use: run one property at a time.
 */
public final class PropertyRunner {
    private static final int MAX_SHRINK_ATTEMPTS = 400;
    private final String backendId;
    private final Settings settings;
    private final Summary summary;

    /**
     * A runner for one backend.
     *
     * @param backendId names the backend in messages
     * @param settings  the master seed and the number of random cases
     * @param summary   where each property's report goes, written after every property
     */
    public PropertyRunner(String backendId, Settings settings, Summary summary) {
        this.backendId = backendId;
        this.settings = settings;
        this.summary = summary;
    }

    /**
     * Runs a property over its edge cases, then its random cases, stopping at the first failure.
     *
     * @param <C> the case type
     * @param p   the property
     * @throws org.opentest4j.AssertionFailedError on a failing case, shrunk, with a reproduction
     * @throws org.opentest4j.TestAbortedException when every case was skipped
     */
    public <C> void run(Property<C> p) {
        run(p, null);
    }

    /**
     * As {@link #run(Property)}, publishing the case counts and skip reasons to the test report.
     *
     * @param <C>      the case type
     * @param p        the property
     * @param reporter the current test's reporter, or null to publish nothing
     * @throws org.opentest4j.AssertionFailedError on a failing case, shrunk, with a reproduction
     * @throws org.opentest4j.TestAbortedException when every case was skipped
     */
    public <C> void run(Property<C> p, TestReporter reporter) {
        try {
            runCases(p);
        } finally {
            summary.write();
            PropertyReport r = summary.reports().stream().filter(x -> x.key().equals(p.key())).reduce((a, b) -> b)
                    .orElse(null);
            if (reporter != null && r != null) {
                reporter.publishEntry(java.util.Map.of("backend", backendId, "cases passed",
                        String.valueOf(r.passed()), "cases skipped", String.valueOf(r.skipped()), "skip reasons",
                        r.skipText().isEmpty() ? "none" : r.skipText(), "seed", settings.seedText()));
            }
        }
    }

    private <C> void runCases(Property<C> p) {
        PropertyReport report = summary.start(p.key(), p.description());
        long start = System.nanoTime();
        List<C> edges = p.edgeCases(new SplittableRandom(settings.propertySeed(p.key())));
        int total = edges.size() + settings.cases();
        for (int i = 0; i < total; i++) {
            C c = i < edges.size() ? edges.get(i)
                    : p.randomCase(new SplittableRandom(settings.caseSeed(p.key(), i)));
            String reason = p.unsupported(c);
            if (reason != null) {
                report.skip(reason);
                report.caseLine(i, "SKIPPED", c + " (" + reason + ")");
                continue;
            }
            Throwable failure;
            try {
                failure = attempt(p, c);
            } catch (CaseSkipped s) {
                report.skip(s.reason());
                report.caseLine(i, "SKIPPED", c + " (" + s.reason() + ")");
                continue;
            }
            if (failure == null) {
                report.pass();
                report.caseLine(i, "PASSED", c);
                continue;
            }
            report.caseLine(i, "FAILED", c);
            String message = failureMessage(p, i, i < edges.size(), c, failure);
            report.finish(PropertyReport.Status.FAILED, message, elapsed(start));
            throw new AssertionFailedError(message, failure);
        }
        if (report.passed() == 0) {
            String why = "[" + backendId + "] " + p.key() + ": all " + total + " cases skipped: " + report.skipText();
            report.finish(PropertyReport.Status.SKIPPED, null, elapsed(start));
            Assumptions.abort(why);
        }
        report.finish(PropertyReport.Status.PASSED, null, elapsed(start));
    }

    private static long elapsed(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }

    /** Null when the case passes; the failure otherwise. {@link CaseSkipped} propagates. */
    private static <C> Throwable attempt(Property<C> p, C c) {
        try {
            p.check(c);
            return null;
        } catch (CaseSkipped s) {
            throw s;
        } catch (VirtualMachineError e) {
            if (e instanceof StackOverflowError) {
                return e;
            }
            throw e;
        } catch (Throwable t) {
            return t;
        }
    }

    /** Where shrinking ended: the smallest failing case, its failure, steps taken and candidates checked. */
    record Shrunk<C>(C kase, Throwable failure, int steps, int attempts) {}

    /**
     * Greedy: take the first smaller variant that still fails, until none does. A candidate equal
     * to a case already tried (as its reproduction, {@link Property#toJava}, says) is passed over
     * unchecked: a shrink step that an adapter maps back onto the same case, or two steps that
     * undo each other, would otherwise loop until the try cap.
     */
    <C> Shrunk<C> shrink(Property<C> p, C c, Throwable failure) {
        C current = c;
        Throwable currentFailure = failure;
        int steps = 0;
        int attempts = 0;
        java.util.Set<String> tried = new java.util.HashSet<>();
        tried.add(p.toJava(c));
        boolean improved = true;
        while (improved && attempts < MAX_SHRINK_ATTEMPTS) {
            improved = false;
            for (C candidate : p.shrink(current)) {
                if (!tried.add(p.toJava(candidate))) {
                    continue;
                }
                if (++attempts > MAX_SHRINK_ATTEMPTS) {
                    break;
                }
                if (p.unsupported(candidate) != null) {
                    continue;
                }
                Throwable f;
                try {
                    f = attempt(p, candidate);
                } catch (CaseSkipped s) {
                    continue;
                }
                if (f != null) {
                    current = candidate;
                    currentFailure = f;
                    steps++;
                    improved = true;
                    break;
                }
            }
        }
        return new Shrunk<>(current, currentFailure, steps, attempts);
    }

    private <C> String failureMessage(Property<C> p, int index, boolean edge, C c, Throwable failure) {
        Shrunk<C> s = shrink(p, c, failure);
        StringBuilder sb = new StringBuilder();
        sb.append("[").append(backendId).append("] property ").append(p.key()).append(" (").append(p.description())
                .append(") failed on ").append(edge ? "edge" : "random").append(" case #").append(index)
                .append(", seed ").append(settings.seedText()).append('\n');
        sb.append("  case:     ").append(c).append('\n');
        sb.append("  error:    ").append(describe(failure)).append('\n');
        sb.append("  shrunk in ").append(s.steps()).append(" steps (").append(s.attempts()).append(" tries) to:\n");
        sb.append("  case:     ").append(s.kase()).append('\n');
        sb.append("  error:    ").append(describe(s.failure())).append('\n');
        String detail = detail(s.failure());
        if (!detail.isEmpty()) {
            sb.append("  detail:   ").append(detail).append('\n');
        }
        sb.append("  reproduce: -Dattn4j.seed=").append(settings.seedText()).append(" (case #").append(index)
                .append("), or paste into a test of this backend's suite subclass:\n");
        sb.append("    check(\"").append(p.key()).append("\", ").append(p.toJava(s.kase())).append(");");
        return sb.toString();
    }

    /** Lines a one-line description drops: the first wrapper message that says more than its cause, such
     * as a kernel compiler's log; at most {@value #DETAIL_LINES} lines, empty when there is none. */
    private static String detail(Throwable t) {
        if (t instanceof AssertionError) {
            return "";
        }
        for (Throwable e = t; e != null && e.getCause() != e; e = e.getCause()) {
            String m = e.getMessage();
            Throwable cause = e.getCause();
            if (cause != null && m != null && m.lines().count() > 1 && !m.equals(cause.toString())) {
                List<String> lines = m.lines().toList();
                String shown = String.join("\n            ", lines.subList(0, Math.min(lines.size(), DETAIL_LINES)));
                return lines.size() > DETAIL_LINES ? shown + "\n            (" + (lines.size() - DETAIL_LINES)
                        + " more lines)" : shown;
            }
        }
        return "";
    }

    private static final int DETAIL_LINES = 30;

    private static String describe(Throwable t) {
        if (t instanceof AssertionError) {
            String m = t.getMessage();
            return m == null ? "assertion failed" : m.lines().findFirst().orElse("");
        }
        // exceptions rethrown across threads often lose their message: report the innermost cause
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage() != null ? root.getMessage() : t.getMessage();
        String first = m == null ? "" : m.lines().findFirst().orElse("");
        StackTraceElement top = root.getStackTrace().length > 0 ? root.getStackTrace()[0] : null;
        StackTraceElement backend = null; // the first frame in a backend, past the JDK and core helpers
        for (StackTraceElement e : root.getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("org.attn4j.") && !c.startsWith("org.attn4j.conformance.")
                    && !c.startsWith("org.attn4j.tensor.")) {
                backend = e;
                break;
            }
        }
        String where = top == null ? "" : " at " + top + (backend == null || backend == top ? "" : " via " + backend);
        return root.getClass().getName() + ": " + first + where;
    }

    /**
     * Checks one case directly, for a pasted reproduction; fails with the case and its error.
     *
     * @param <C> the case type
     * @param p   the property
     * @param c   the case, not shrunk
     * @throws org.opentest4j.AssertionFailedError when the case fails
     * @throws org.opentest4j.TestAbortedException when the case is unsupported
     * @throws CaseSkipped when the check itself skips the case
     */
    public <C> void replay(Property<C> p, C c) {
        String reason = p.unsupported(c);
        if (reason != null) {
            Assumptions.abort("[" + backendId + "] " + p.key() + ": case unsupported: " + reason);
        }
        Throwable f = attempt(p, c);
        if (f != null) {
            throw new AssertionFailedError("[" + backendId + "] " + p.key() + " fails on " + c + ": " + describe(f), f);
        }
    }
}
