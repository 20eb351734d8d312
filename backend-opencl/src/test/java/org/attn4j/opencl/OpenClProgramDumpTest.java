package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.attn4j.spi.BackendOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** -Dattn4j.opencl.dumpPrograms writes each program the session builds, with its options and log. */
class OpenClProgramDumpTest {

    @Test
    void aBuiltProgramIsDumpedWithItsOptionsAndLog(@TempDir Path dir) throws IOException {
        KernelTestSupport.assumeOpenClDevice();
        String before = System.getProperty("attn4j.opencl.dumpPrograms");
        System.setProperty("attn4j.opencl.dumpPrograms", dir.toString());
        try (OpenClSession session = (OpenClSession) new OpenClBackendProvider().open(
                new BackendOptions(Map.of()))) {
            session.kernel("merge.cl", "merge_pair", "-DOT=1");
        } finally {
            if (before == null) {
                System.clearProperty("attn4j.opencl.dumpPrograms");
            } else {
                System.setProperty("attn4j.opencl.dumpPrograms", before);
            }
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.toList();
        }
        Path bin = files.stream().filter(f -> f.getFileName().toString().matches("merge-[0-9a-f]+\\.bin"))
                .findFirst().orElseThrow(() -> new AssertionError("no merge program binary in " + files));
        assertTrue(Files.size(bin) > 0, bin + " is empty");
        Path log = Path.of(bin.toString().replace(".bin", ".log"));
        assertTrue(Files.readString(log).contains("-DOT=1"), "the log names the build options: " + log);
    }
}
