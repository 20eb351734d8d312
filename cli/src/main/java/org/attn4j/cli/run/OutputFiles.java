package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.cli.CliException;
import org.attn4j.cli.npy.Npy;
import org.attn4j.tensor.HostTensor;

/**
 * Writes a call's outputs all or nothing: each file goes to a temporary name in the output
 * directory first, and only when every one is complete are they renamed into place. A failure
 * leaves no partial file behind, and no output directory when this call created it.
 */
final class OutputFiles {
    private OutputFiles() {}

    /** Refuses an output that would replace one of the call's inputs. */
    static void checkNotInputs(Path dir, Iterable<String> names, List<Path> inputs) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (String name : names) {
            Path target = dir.resolve(name);
            if (!Files.exists(target)) {
                continue;
            }
            for (Path in : inputs) {
                if (Files.exists(in) && Files.isSameFile(target, in)) {
                    throw new CliException("--out: writing " + target + " would replace the input " + in
                            + "; choose another directory");
                }
            }
        }
    }

    /** Writes {@code tensors} as {@code <name>.npy} and {@code texts} as given, then moves them into {@code dir}. */
    static void commit(Path dir, Map<String, HostTensor> tensors, Map<String, String> texts) throws IOException {
        boolean created = !Files.exists(dir);
        Files.createDirectories(dir);
        Map<Path, Path> staged = new LinkedHashMap<>();
        boolean done = false;
        try {
            for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
                Path tmp = Files.createTempFile(dir, "." + e.getKey() + ".npy.", ".partial");
                staged.put(tmp, dir.resolve(e.getKey() + ".npy"));
                Npy.write(tmp, e.getValue());
            }
            for (Map.Entry<String, String> e : texts.entrySet()) {
                Path tmp = Files.createTempFile(dir, "." + e.getKey() + ".", ".partial");
                staged.put(tmp, dir.resolve(e.getKey()));
                Files.writeString(tmp, e.getValue(), StandardCharsets.UTF_8);
            }
            List<Path> moved = new ArrayList<>();
            for (Map.Entry<Path, Path> e : staged.entrySet()) {
                move(e.getKey(), e.getValue());
                moved.add(e.getKey());
            }
            done = true;
        } finally {
            if (!done) {
                for (Path tmp : staged.keySet()) {
                    Files.deleteIfExists(tmp);
                }
                if (created) {
                    try (var left = Files.list(dir)) {
                        if (left.findAny().isEmpty()) {
                            Files.deleteIfExists(dir);
                        }
                    }
                }
            }
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
