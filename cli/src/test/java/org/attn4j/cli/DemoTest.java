package org.attn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DemoTest {
    @Test
    void demoOnTheReferencePassesItsChecks() {
        CliRunner r = CliRunner.run("demo", "--backend", "reference", "--steps", "10");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("check of step 0's prefill against the reference"), r.out());
        assertTrue(r.out().contains("check of step 5's decode against the reference"), r.out());
        assertTrue(r.out().strip().endsWith("PASS"), r.out());
    }

    @Test
    void checkStepPastTheEndStillChecksTheFirstPrefill() {
        CliRunner r = CliRunner.run("demo", "--backend", "reference", "--steps", "3", "--check-step", "9");
        // the first prefill is always checked, so this still passes; a check step past the end is ignored
        assertEquals(0, r.status(), r.out());
    }
}
