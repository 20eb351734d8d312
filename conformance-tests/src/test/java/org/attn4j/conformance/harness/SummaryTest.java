package org.attn4j.conformance.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.Test;

/** The summary's first line says which device ran the suite, or why nothing ran. */
class SummaryTest {
    private static final Settings SETTINGS = new Settings(0x1234L, 30, true);

    @Test
    void anUnavailableBackendSaysWhyItWasSkippedNotOnWhichDevice() {
        Summary summary = new Summary("cuda", SETTINGS);
        summary.unavailable("backend 'cuda' is unavailable: built without kernels");
        String first = summary.render().lines().findFirst().orElseThrow();
        assertEquals("attn4j conformance: backend 'cuda' skipped, every property: backend 'cuda' is unavailable:"
                + " built without kernels", first);
        assertFalse(summary.render().contains(" on ?"), summary.render());
    }

    @Test
    void anAvailableBackendNamesItsDevice() {
        Summary summary = new Summary("opencl", SETTINGS);
        summary.device("PoCL CPU");
        assertEquals("attn4j conformance: backend 'opencl' on PoCL CPU", summary.render().lines().findFirst().orElseThrow());
    }
}
