package org.attn4j.examples;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md and docs/*.md compiles, as written, against core-api
 * and the reference backend; README blocks with a {@code main} method also run. A block must be a
 * complete compilation unit: its imports and one top-level public type. A failure names the file
 * and line of the block and of each compiler error.
 */
class DocSnippetsTest {
    private static final Pattern TYPE = Pattern.compile(
            "^public\\s+(?:(?:final|abstract|sealed|non-sealed|strictfp)\\s+)*(?:class|record|interface|enum)\\s+(\\w+)",
            Pattern.MULTILINE);
    private static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+)\\s*;", Pattern.MULTILINE);

    @TempDir
    Path work;

    /** A fenced Java block: where it is and what it says. */
    record Block(Path file, int firstLine, String code) {
        String where() {
            return docsRoot().relativize(file) + ":" + firstLine;
        }
    }

    static Path docsRoot() {
        String root = System.getProperty("attn4j.docs.root");
        if (root == null) {
            // Run from an IDE without Maven: the working directory is examples/.
            return Path.of("..").toAbsolutePath().normalize();
        }
        return Path.of(root).toAbsolutePath().normalize();
    }

    static List<Path> documents() {
        List<Path> docs = new ArrayList<>();
        docs.add(docsRoot().resolve("README.md"));
        try (Stream<Path> s = Files.list(docsRoot().resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return docs;
    }

    /** The {@code ```java} blocks of {@code file}; {@code firstLine} is the 1-based line of the block's first code line. */
    static List<Block> javaBlocks(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Block> blocks = new ArrayList<>();
        int start = -1;
        String fence = null;
        StringBuilder code = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            String trimmed = line.strip();
            if (fence == null) {
                if (trimmed.startsWith("```") || trimmed.startsWith("~~~")) {
                    fence = trimmed.substring(0, 3);
                    String info = trimmed.substring(3).strip().toLowerCase(Locale.ROOT);
                    start = info.equals("java") || info.startsWith("java ") ? i + 2 : 0;
                    code.setLength(0);
                }
            } else if (trimmed.startsWith(fence)) {
                if (start > 0) {
                    blocks.add(new Block(file, start, code.toString()));
                }
                fence = null;
            } else if (start > 0) {
                code.append(line).append('\n');
            }
        }
        if (fence != null) {
            fail(file + ": a code fence opened and never closed");
        }
        return blocks;
    }

    static String classPath() {
        // Surefire runs the tests from a manifest-only jar; the real test class path is here.
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /** Compiles {@code block} into {@code out}; returns the public type's binary name. */
    static String compile(Block block, Path src, Path out) throws IOException {
        Matcher type = TYPE.matcher(block.code());
        if (!type.find()) {
            fail(block.where() + ": a ```java block must be a complete compilation unit (its imports and a public"
                    + " top-level class, record, interface or enum) so that readers can copy it as it is");
        }
        Matcher pkg = PACKAGE.matcher(block.code());
        String packageName = pkg.find() ? pkg.group(1) : "";
        String name = type.group(1);
        Path dir = packageName.isEmpty() ? src : src.resolve(packageName.replace('.', File.separatorChar));
        Files.createDirectories(dir);
        Files.createDirectories(out);
        Path source = dir.resolve(name + ".java");
        Files.writeString(source, block.code(), StandardCharsets.UTF_8);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertTrue(javac != null, "no system Java compiler: run the tests on a JDK");
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ROOT,
                StandardCharsets.UTF_8)) {
            List<String> options = List.of("-proc:none", "-Xlint:all", "-classpath", classPath(), "-d",
                    out.toString());
            boolean ok = javac.getTask(null, files, diagnostics, options, null,
                    files.getJavaFileObjects(source)).call();
            StringBuilder report = new StringBuilder();
            for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                long line = d.getLineNumber() < 1 ? block.firstLine() : block.firstLine() + d.getLineNumber() - 1;
                report.append(docsRoot().relativize(block.file())).append(':').append(line).append(": ")
                        .append(d.getKind().toString().toLowerCase(Locale.ROOT)).append(": ")
                        .append(d.getMessage(Locale.ROOT)).append('\n');
            }
            if (!ok) {
                fail("the ```java block at " + block.where() + " does not compile:\n" + report);
            }
            if (!report.isEmpty()) {
                System.out.print(report);
            }
        }
        return packageName.isEmpty() ? name : packageName + "." + name;
    }

    @TestFactory
    Stream<DynamicTest> everyJavaBlockCompiles() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path doc : documents()) {
            List<Block> blocks = javaBlocks(doc);
            for (int i = 0; i < blocks.size(); i++) {
                Block b = blocks.get(i);
                Path dir = work.resolve(doc.getFileName() + "-" + i);
                tests.add(DynamicTest.dynamicTest(b.where(), () -> compile(b, dir.resolve("src"), dir.resolve("classes"))));
            }
        }
        return tests.stream();
    }

    @Test
    void readmeHasAQuickStartAndItRunsOnTheReferenceBackend() throws Exception {
        List<Block> runnable = javaBlocks(docsRoot().resolve("README.md")).stream()
                .filter(b -> b.code().contains("public static void main(String[] args)")).toList();
        assertFalse(runnable.isEmpty(), "README.md has no ```java block with a main method (the quick start)");
        for (int i = 0; i < runnable.size(); i++) {
            Block b = runnable.get(i);
            Path dir = work.resolve("run-" + i);
            String type = compile(b, dir.resolve("src"), dir.resolve("classes"));
            String printed = runMain(type, dir.resolve("classes"));
            assertFalse(printed.isBlank(), b.where() + ": the quick start printed nothing");
            System.out.print(b.where() + " printed: " + printed);
        }
    }

    /** Runs {@code type}'s main, returns what it printed. */
    private static String runMain(String type, Path classes) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()},
                DocSnippetsTest.class.getClassLoader())) {
            Method main = loader.loadClass(type).getMethod("main", String[].class);
            assertTrue(Modifier.isStatic(main.getModifiers()), type + ".main is not static");
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            main.invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }
}
