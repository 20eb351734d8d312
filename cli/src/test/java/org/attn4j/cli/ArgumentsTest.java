package org.attn4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ArgumentsTest {
    private final ArgSpec spec = new ArgSpec("t", "test").option("batch", "N", "requests", "1")
            .repeatable("workload", "NAME", "w").flag("causal", "causal").option("kv-len", "N|A..B", "lengths");

    @Test
    void parsesValuesFlagsRepeatsAndDefaults() {
        ParsedArgs a = spec.parse(new String[] {"--workload", "x", "--workload=y,z", "--causal", "--kv-len", "5..9"});
        assertEquals(1, a.integer("batch", 0));
        assertEquals(java.util.List.of("x", "y", "z"), a.list("workload"));
        assertTrue(a.flag("causal"));
        assertArrayEquals(new int[] {5, 9}, a.intList("kv-len"));
    }

    @Test
    void mistakesNameTheOptionAndSuggest() {
        UsageException e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--bacth", "2"}));
        assertTrue(e.getMessage().contains("unknown option --bacth (did you mean --batch?)"), e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--batch"}));
        assertTrue(e.getMessage().contains("--batch needs a value"), e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--batch", "1", "--batch", "2"}));
        assertTrue(e.getMessage().contains("given twice"), e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--batch", "two"}).integer("batch", 0));
        assertTrue(e.getMessage().contains("--batch: expected an integer, actual 'two'"), e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--kv-len", "9..5"}).intList("kv-len"));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"--kv-len", "1,3..5"}).intList("kv-len"));
        assertTrue(e.getMessage().contains("--kv-len: expected one range a..b or a list of integers, actual '1,3..5'"),
                e.getMessage());
        e = assertThrows(UsageException.class, () -> spec.parse(new String[] {"stray"}));
        assertTrue(e.getMessage().contains("unexpected argument 'stray'"));
        assertThrows(HelpRequested.class, () -> spec.parse(new String[] {"--batch", "3", "--help"}));
    }

    @Test
    void exitStatusesOfTheCommandLine() {
        CliRunner r = CliRunner.run();
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("commands:"));
        r = CliRunner.run("frobnicate");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown command 'frobnicate'"));
        for (String command : new String[] {"info", "demo", "bench", "run"}) {
            r = CliRunner.run(command, "--help");
            assertEquals(0, r.status(), command);
            assertTrue(r.out().startsWith("usage: attn4j " + command), r.out());
        }
        r = CliRunner.run("bench", "--workload", "decode-nope");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("unknown workload 'decode-nope'"), r.err());
        r = CliRunner.run("bench", "--op", "decode", "--hq", "6", "--hkv", "4");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("numQoHeads % numKvHeads"), r.err());
        r = CliRunner.run("run", "--spec", "missing.json");
        assertEquals(Main.USAGE, r.status());
        assertTrue(r.err().contains("--spec and --out are required"), r.err());
    }

    @Test
    void infoListsEveryProvider() {
        CliRunner r = CliRunner.run("info", "--no-open");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("reference") && r.out().contains("available"), r.out());
    }
}
