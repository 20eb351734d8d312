package org.attn4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import org.attn4j.Backends;
import org.attn4j.cli.CliRunner;
import org.attn4j.cli.Main;
import org.junit.jupiter.api.Test;

class BenchKernelsTest {
    @Test
    void withoutCudaItSaysWhyInOneLineAndFails() {
        assumeFalse(Backends.find("cuda").map(p -> p.probe().available()).orElse(false), "CUDA is available");
        CliRunner r = CliRunner.run("bench-kernels", "decode", "--iterations", "1");
        assertEquals(Main.FAILED, r.status(), r.out() + r.err());
        assertTrue(r.err().startsWith("attn4j bench-kernels: backend 'cuda' is unavailable: "), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void anUnknownFamilyIsAUsageMistake() {
        CliRunner r = CliRunner.run("bench-kernels", "append");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown kernel family 'append' (expected decode or prefill)"), r.err());
    }
}
