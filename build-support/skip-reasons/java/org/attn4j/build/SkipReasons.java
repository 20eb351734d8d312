package org.attn4j.build;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Prints why tests were skipped, once per test class and reason: Surefire's console shows only
 * how many were. Registered for every module's tests by the parent POM (a test source and a
 * {@code META-INF/services} entry), found by the JUnit Platform's listener auto-registration.
 * A skip without a reason is printed as such, so it stands out.
 */
public final class SkipReasons implements TestExecutionListener {
    private static final String NONE = "(no reason given)";

    private TestPlan plan;
    /** Class name to (reason to count), in the order seen. */
    private final Map<String, Map<String, Integer>> skipped = new LinkedHashMap<>();

    @Override
    public synchronized void testPlanExecutionStarted(TestPlan testPlan) {
        plan = testPlan;
    }

    @Override
    public synchronized void executionSkipped(TestIdentifier id, String reason) {
        record(id, reason);
        if (isClass(id)) {
            print(className(id));
        }
    }

    @Override
    public synchronized void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
            record(id, result.getThrowable().map(Throwable::getMessage).orElse(null));
        }
        if (isClass(id)) {
            print(className(id));
        }
    }

    @Override
    public synchronized void testPlanExecutionFinished(TestPlan testPlan) {
        for (String c : skipped.keySet().toArray(String[]::new)) {
            print(c);
        }
    }

    private void record(TestIdentifier id, String reason) {
        String why = reason == null || reason.isBlank() ? NONE : reason.replaceFirst("^Assumption failed: ", "");
        skipped.computeIfAbsent(className(id), k -> new LinkedHashMap<>()).merge(why, 1, Integer::sum);
    }

    private void print(String className) {
        Map<String, Integer> reasons = skipped.remove(className);
        if (reasons == null) {
            return;
        }
        String simple = className.substring(className.lastIndexOf('.') + 1);
        reasons.forEach((why, n) -> System.out.println(
                "skipped in " + simple + ", " + n + (n == 1 ? " test: " : " tests: ") + why));
    }

    private static boolean isClass(TestIdentifier id) {
        return id.getSource().filter(ClassSource.class::isInstance).isPresent();
    }

    /** The test class {@code id} belongs to (itself, or its nearest class ancestor); else its display name. */
    private String className(TestIdentifier id) {
        TestIdentifier at = id;
        while (at != null) {
            Optional<String> c = at.getSource().filter(ClassSource.class::isInstance)
                    .map(s -> ((ClassSource) s).getClassName());
            if (c.isPresent()) {
                return c.get();
            }
            at = plan == null ? null : plan.getParent(at).orElse(null);
        }
        return id.getDisplayName();
    }
}
