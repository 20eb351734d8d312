package org.attn4j.cli.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.cli.CliException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonTest {
    @TempDir
    Path dir;

    @Test
    void parsesAndWritesBack() {
        Object v = Json.parse("{\"op\": \"decode\", \"n\": [0, 3, -2], \"x\": 1.5e1, \"ok\": true, \"z\": null,"
                + " \"s\": \"a\\\"b\\u0041\"}");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals("decode", m.get("op"));
        assertEquals(List.of(0L, 3L, -2L), m.get("n"));
        assertEquals(15.0, m.get("x"));
        assertEquals(Boolean.TRUE, m.get("ok"));
        assertTrue(m.containsKey("z") && m.get("z") == null);
        assertEquals("a\"bA", m.get("s"));
        assertEquals(v, Json.parse(Json.write(v)));
    }

    @Test
    void writesArraysAndNonFiniteNumbersAsJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("shape", new long[] {8, 4, 16});
        m.put("nan", Double.NaN);
        m.put("inf", Float.POSITIVE_INFINITY);
        String text = Json.write(m);
        assertTrue(text.contains("\"shape\": [") && !text.contains("[J@"), text);
        Map<?, ?> back = (Map<?, ?>) Json.parse(text);
        assertEquals(List.of(8L, 4L, 16L), back.get("shape"));
        assertTrue(back.containsKey("nan") && back.get("nan") == null, text);
        assertTrue(back.containsKey("inf") && back.get("inf") == null, text);
    }

    @Test
    void errorsNameLineAndColumn() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Json.parse("{\n  \"a\": 1,\n  \"b\" 2\n}"));
        assertTrue(e.getMessage().startsWith("JSON line 3, column "), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1, \"a\": 2}"));
        assertTrue(e.getMessage().contains("Duplicate"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{} {}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("\"\\uZZ12\""));
    }

    @Test
    void deepNestingIsRejectedWithoutAStackOverflow() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse(deep));
        assertEquals("JSON nested deeper than " + Json.MAX_DEPTH + " levels", e.getMessage());
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        Json.parse(ok);
    }

    @Test
    void filesMustBeUtf8() throws Exception {
        Path latin1 = dir.resolve("latin1.json");
        Files.write(latin1, new byte[] {'{', '"', 'a', '"', ':', '"', (byte) 0xE9, '"', '}'});
        CliException e = assertThrows(CliException.class, () -> Json.readFile(latin1));
        assertTrue(e.getMessage().contains("not UTF-8") && e.getMessage().contains("offset 6"), e.getMessage());
        Path bom = dir.resolve("bom.json");
        Files.write(bom, ("\uFEFF{\"a\": \"\u00e9\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(Map.of("a", "\u00e9"), Json.readFile(bom));
    }

    @Test
    void integersBeyondLongStayNumbers() {
        assertEquals(9223372036854775807L, Json.parse("9223372036854775807"));
        assertEquals(new BigInteger("100000000000000000000"), Json.parse("100000000000000000000"));
        assertEquals(-3L, Json.parse("-3"));
    }
}
