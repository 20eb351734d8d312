package org.attn4j.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The suite's oracle stays independent of core-api's numeric helpers, which every backend calls:
 * a mistake there must show as a disagreement, not move backends and oracle together. Every
 * source file of this module (code, not comments or strings) is scanned for a use of them.
 */
class OracleIndependenceTest {
    /** What the suite must compute itself, and the helper that would do it instead. */
    private record Ban(Pattern pattern, String why) {
        static Ban of(String regex, String why) {
            return new Ban(Pattern.compile(regex), why);
        }
    }

    private static final List<Ban> BANS = List.of(
            Ban.of("\\bNumerics\\b", "org.attn4j.tensor.Numerics: formats are check.SpecFormats"),
            Ban.of("\\.\\s*frequencies\\s*\\(", "RopeOptions.frequencies: RoPE is check.SpecRope"),
            Ban.of("\\.\\s*(first|second)\\s*\\(", "RopeOptions.first/second: pairs are check.SpecRope"),
            Ban.of("\\.\\s*rescale\\s*\\(", "Llama31RopeScaling.rescale: Llama 3.1 is check.SpecRope"),
            Ban.of("\\bresolvedSmScale\\b", "AttentionOptions.resolvedSmScale: the oracle takes 1/sqrt(D) itself"),
            Ban.of("\\.\\s*(getFloat|setFloat|toFloatArray)\\s*\\(",
                    "HostTensor.getFloat/setFloat/toFloatArray: values cross as bits through check.SpecFormats"),
            Ban.of("\\bHostTensor\\s*\\.\\s*of\\s*\\(", "HostTensor.of encodes with Numerics: use DeviceScope.host"));

    @Test
    void noSourceOfTheSuiteCallsCoreApisNumericHelpers() throws IOException {
        List<Path> roots = List.of(Path.of("src/main/java"), Path.of("src/test/java"));
        int files = 0;
        List<String> found = new ArrayList<>();
        for (Path root : roots) {
            assertTrue(Files.isDirectory(root), "run from the conformance-tests module: no " + root.toAbsolutePath());
            try (Stream<Path> walk = Files.walk(root)) {
                for (Path p : walk.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                    files++;
                    found.addAll(violations(p.toString(), Files.readString(p)));
                }
            }
        }
        assertTrue(files > 20, "scanned only " + files + " sources");
        assertTrue(found.isEmpty(), "the suite must compute these itself:\n  " + String.join("\n  ", found));
    }

    @Test
    void theScanFindsAUseAndIgnoresCommentsAndStrings() {
        String source = """
                import org.attn4j.tensor.Numerics; // formats
                /* rope.frequencies(d) in a comment */
                class X {
                    String s = "Numerics.roundTo(t, x) in a string";
                    double[] f(org.attn4j.options.RopeOptions r) { return r.frequencies(64); }
                    float g(org.attn4j.options.AttentionOptions o) { return o.resolvedSmScale(64); }
                    float h(org.attn4j.tensor.HostTensor t) { return t.getFloat(0); }
                    int i(org.attn4j.options.RopeOptions r) { return r.second(1, 8); }
                }
                """;
        List<String> v = violations("X.java", source);
        assertEquals(5, v.size(), String.join("\n", v));
        assertTrue(v.get(0).startsWith("X.java:1:"), v.get(0));
        assertTrue(v.get(1).startsWith("X.java:5:"), v.get(1));
        assertTrue(violations("Y.java", "class Y { int a = stream.findFirst().get(); }").isEmpty());
    }

    /** {@code file:line: code — why} for each banned use outside comments and literals. */
    static List<String> violations(String file, String source) {
        String code = stripCommentsAndLiterals(source);
        List<String> out = new ArrayList<>();
        for (Ban ban : BANS) {
            Matcher m = ban.pattern().matcher(code);
            while (m.find()) {
                int line = 1;
                for (int i = 0; i < m.start(); i++) {
                    line += code.charAt(i) == '\n' ? 1 : 0;
                }
                out.add(file + ":" + line + ": " + m.group().trim() + " — " + ban.why());
            }
        }
        out.sort(java.util.Comparator.comparingInt(s -> Integer.parseInt(s.split(":")[1])));
        return out;
    }

    /** The source with comments, string, text-block and char literals blanked (newlines kept). */
    static String stripCommentsAndLiterals(String s) {
        StringBuilder b = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (s.startsWith("//", i)) {
                while (i < n && s.charAt(i) != '\n') {
                    i++;
                }
            } else if (s.startsWith("/*", i)) {
                int end = s.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                blank(s, i, end, b);
                i = end;
            } else if (s.startsWith("\"\"\"", i)) {
                int end = s.indexOf("\"\"\"", i + 3);
                end = end < 0 ? n : end + 3;
                blank(s, i, end, b);
                i = end;
            } else if (c == '"' || c == '\'') {
                int j = i + 1;
                while (j < n && s.charAt(j) != c && s.charAt(j) != '\n') {
                    j += s.charAt(j) == '\\' ? 2 : 1;
                }
                int end = Math.min(n, j + 1);
                blank(s, i, end, b);
                i = end;
            } else {
                b.append(c);
                i++;
            }
        }
        return b.toString();
    }

    private static void blank(String s, int from, int to, StringBuilder b) {
        for (int k = from; k < to; k++) {
            b.append(s.charAt(k) == '\n' ? '\n' : ' ');
        }
    }
}
