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
        assumeFalse(Backends.find("cuda").map(p -> p.probe().available()).orElse(false),
                "CUDA is available here, and this test checks what happens without it");
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

    /** On an OpenCL device (PoCL included) the decode bench runs; without one it says why in one line. */
    @Test
    void openClDecodeRunsOrSaysWhyNot() {
        boolean openCl = Backends.find("opencl").map(p -> p.probe().available()).orElse(false);
        CliRunner r = CliRunner.run("bench-kernels", "--backend", "opencl", "--batch", "2", "--kv-len", "40",
                "--iterations", "1", "--baseline", "reference", "--decode-kernels", "tiled");
        if (openCl) {
            assertEquals(0, r.status(), r.out() + r.err());
            assertTrue(r.out().contains("decode B 2 kvLen 40 Hq 32 Hkv 8 D 128 bf16 page 16, 1 rounds"), r.out());
            assertTrue(r.out().contains("PASS opencl tiled against reference: 0 of 8192 outputs outside tolerance"),
                    r.out());
            assertTrue(r.out().endsWith("ALL PASS" + System.lineSeparator()), r.out());
        } else {
            assertEquals(Main.FAILED, r.status(), r.out() + r.err());
            assertTrue(r.err().startsWith("attn4j bench-kernels: backend 'opencl' is unavailable: "), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
        }
    }

    @Test
    void theOpenClBenchHasDecodeOnly() {
        CliRunner r = CliRunner.run("bench-kernels", "--backend", "opencl", "prefill");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("the OpenCL kernel bench runs decode only"), r.err());
        r = CliRunner.run("bench-kernels", "--backend", "opencl", "--prefill-kernels", "fa2");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--prefill-kernels applies to --backend cuda only"), r.err());
    }

    @Test
    void anUnknownOpenClFlavourIsAUsageMistake() {
        CliRunner r = CliRunner.run("bench-kernels", "--backend", "opencl", "--decode-kernels", "mma");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--decode-kernels: unknown OpenCL kernel flavour 'mma' "
                + "(expected auto, tiled, serial, decode-stream)"), r.err());
        r = CliRunner.run("bench-kernels", "--backend", "opencl", "--baseline", "tc");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("or reference)"), r.err());
    }

    @Test
    void openClOptionsAreMistakesOnCuda() {
        CliRunner r = CliRunner.run("bench-kernels", "--kv-len", "64");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--kv-len applies to --backend opencl only"), r.err());
    }

    @Test
    void anUnknownBackendOrNoIterationsIsAUsageMistake() {
        CliRunner r = CliRunner.run("bench-kernels", "--backend", "reference");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown backend 'reference' (expected cuda or opencl)"), r.err());
        r = CliRunner.run("bench-kernels", "--backend", "opencl", "--iterations", "0");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--iterations: expected at least 1, actual 0"), r.err());
    }
}
