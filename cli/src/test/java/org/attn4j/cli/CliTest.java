package org.attn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line itself: help, version, exit statuses and the one-line form of every mistake. */
class CliTest {
    @TempDir
    Path dir;

    @Test
    void withoutACommandTheUsageGoesToStderrWithStatus2() {
        CliRunner r = CliRunner.run();
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("Commands:") && r.err().contains("bench"), r.err());
    }

    @Test
    void everyCommandHasHelpOnStdout() {
        for (String command : new String[] {"info", "demo", "bench", "bench-kernels", "run"}) {
            CliRunner r = CliRunner.run(command, "--help");
            assertEquals(0, r.status(), command);
            assertTrue(r.out().contains("Usage: attn4j " + command), r.out());
            assertTrue(r.err().isEmpty(), r.err());
        }
        assertTrue(CliRunner.run("bench", "--help").out().contains("decode-llama8b"), "named workloads are listed");
    }

    @Test
    void versionComesFromTheBuild() {
        CliRunner r = CliRunner.run("--version");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("attn4j "), r.out());
        assertFalse(r.out().contains("${"), r.out());
        assertTrue(r.out().contains("Java "), r.out());
        assertEquals(r.out(), CliRunner.run("run", "--version").out());
    }

    @Test
    void commandLineMistakesAreOneLineAndStatus2() {
        CliRunner r = CliRunner.run("frobnicate");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().startsWith("attn4j: unknown command 'frobnicate'"), r.err());

        r = CliRunner.run("bench", "--bacth", "2");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("'--bacth'") && r.err().contains("did you mean --batch"), r.err());
        assertEquals(2, r.err().lines().count(), r.err());

        r = CliRunner.run("bench", "--batch", "two");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--batch") && r.err().contains("'two'"), r.err());

        r = CliRunner.run("bench", "--op", "decode", "--kv-len", "9..5");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("range 9..5 is empty"), r.err());

        r = CliRunner.run("bench", "--workload", "decode-nope");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown workload 'decode-nope'"), r.err());

        r = CliRunner.run("bench", "--op", "decode", "--hq", "6", "--hkv", "4");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("numQoHeads % numKvHeads"), r.err());

        r = CliRunner.run("bench", "--kv-dtype", "int4");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown dtype 'int4'"), r.err());

        r = CliRunner.run("run", "--spec", "missing.json");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("Missing required option: '--out=DIR'"), r.err());
    }

    @Test
    void userErrorsAreOneLineStatus1AndVerboseAddsTheTrace() throws Exception {
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("missing.json").toString(), "--out", out.toString());
        assertEquals(Main.FAILED, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("attn4j run: --spec: no such file: "), r.err());
        assertFalse(Files.exists(out));

        r = CliRunner.run("run", "--verbose", "--spec", dir.resolve("missing.json").toString(), "--out",
                out.toString());
        assertEquals(Main.FAILED, r.status());
        assertTrue(r.err().lines().count() > 3 && r.err().contains("\tat org.attn4j.cli.run.RunCommand"), r.err());

        r = CliRunner.run("demo", "--backend", "no-such-backend");
        assertEquals(Main.FAILED, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("no backend 'no-such-backend'"), r.err());
    }

    @Test
    void unexpectedFailuresAreNamedAndPointAtVerbose() {
        String line = Console.describe(new IllegalStateException("boom\nsecond line"));
        assertEquals("internal error: java.lang.IllegalStateException: boom", line);
        assertTrue(Console.describe(new StackOverflowError()).contains("nested too deeply"));
        assertTrue(Console.describe(new OutOfMemoryError("Java heap space")).startsWith("out of memory (Java heap"));
    }

    @Test
    void infoListsEveryProvider() {
        CliRunner r = CliRunner.run("info", "--no-open");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("reference") && r.out().contains("available"), r.out());
    }
}
