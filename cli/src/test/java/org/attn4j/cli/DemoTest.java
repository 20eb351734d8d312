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
    void theTableSaysWhatItsTimesHoldAndLeavesKernelBuildsOut() {
        CliRunner r = CliRunner.run("demo", "--backend", "reference", "--steps", "2");
        assertEquals(0, r.status(), r.out() + r.err());
        String out = r.out();
        int warm = out.indexOf("warm-up:");
        int header = out.indexOf("step  arrived");
        assertTrue(warm > 0 && header > warm, out);
        assertTrue(out.contains("columns: arrived") && out.contains("the step's attention call alone"), out);
    }

    @Test
    void checkStepPastTheEndStillChecksTheFirstPrefill() {
        CliRunner r = CliRunner.run("demo", "--backend", "reference", "--steps", "3", "--check-step", "9");
        // the first prefill is always checked, so this still passes; a check step past the end is ignored
        assertEquals(0, r.status(), r.out());
    }

    @Test
    void badRangesAreCommandLineMistakes() {
        CliRunner r = CliRunner.run("demo", "--prompt", "16");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--prompt and --generate take ranges"), r.err());
    }
}
