package org.attn4j.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps core-api's packages free of import cycles: value packages sit below the SPI, the SPI
 * below validation, validation below the front door. Dependencies are read from the sources
 * (imports and fully qualified names), so the test needs no bytecode library.
 */
class PackageCycleTest {
    private static final Path SOURCES = Path.of("src/main/java");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("\\b(org\\.attn4j(?:\\.[a-z]\\w*)*)\\.[A-Z]\\w*");

    /** Package to the attn4j packages its sources name. */
    static Map<String, Set<String>> dependencies() {
        Map<String, Set<String>> graph = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String text = stripComments(Files.readString(f));
                Matcher pm = PACKAGE.matcher(text);
                if (!pm.find()) {
                    continue; // module-info
                }
                String pkg = pm.group(1);
                Set<String> deps = graph.computeIfAbsent(pkg, k -> new TreeSet<>());
                Matcher rm = REFERENCE.matcher(text);
                while (rm.find()) {
                    if (!rm.group(1).equals(pkg)) {
                        deps.add(rm.group(1));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return graph;
    }

    private static String stripComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    }

    @Test
    void corePackagesHaveNoCycle() {
        Map<String, Set<String>> graph = dependencies();
        assertTrue(graph.size() >= 6, "found packages " + graph.keySet());
        List<List<String>> cycles = stronglyConnected(graph).stream().filter(c -> c.size() > 1).toList();
        assertEquals(List.of(), cycles, "core-api packages that import each other in a circle; graph: " + graph);
    }

    @Test
    void leafPackagesStayLeaves() {
        Map<String, Set<String>> graph = dependencies();
        assertEquals(Set.of(), graph.get("org.attn4j.error"), "the exceptions depend on nothing");
        assertEquals(Set.of("org.attn4j.error"), graph.get("org.attn4j.internal.check"),
                "leaf argument checks depend only on the exceptions");
        for (String pkg : List.of("org.attn4j.tensor", "org.attn4j.kv", "org.attn4j.options", "org.attn4j.spi")) {
            for (String dep : graph.getOrDefault(pkg, Set.of())) {
                assertTrue(!dep.equals("org.attn4j") && !dep.equals("org.attn4j.internal"),
                        pkg + " must not depend on the front door or session-aware validation, but names " + dep);
            }
        }
    }

    /** Tarjan's algorithm, iteratively deep enough for a handful of packages. */
    private static List<List<String>> stronglyConnected(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] counter = {0};
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) {
                visit(v, graph, index, low, stack, onStack, out, counter);
            }
        }
        return out;
    }

    private static void visit(String v, Map<String, Set<String>> graph, Map<String, Integer> index,
                              Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                              List<List<String>> out, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]++);
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!graph.containsKey(w)) {
                continue;
            }
            if (!index.containsKey(w)) {
                visit(w, graph, index, low, stack, onStack, out, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> component = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            out.add(component);
        }
    }
}
