package org.attn4j.cli.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
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
    void errorsNameLineAndColumn() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Json.parse("{\n  \"a\": 1,\n  \"b\" 2\n}"));
        assertTrue(e.getMessage().startsWith("JSON line 3, column 7"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1, \"a\": 2}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
        e = assertThrows(IllegalArgumentException.class, () -> Json.parse("\"\\uZZ12\""));
        assertTrue(e.getMessage().startsWith("JSON line 1, column 4: bad \\u escape '\\uZZ12'"), e.getMessage());
    }

    @Test
    void integersBeyondLongStayNumbers() {
        assertEquals(9223372036854775807L, Json.parse("9223372036854775807"));
        assertEquals(1e20, Json.parse("100000000000000000000"));
        assertEquals(-3L, Json.parse("-3"));
    }
}
