package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The prefill shape tuner: measures once, stores the choice, and later sessions take it from the file. */
class TileTunerTest {
    private static final HeadConfig HEADS = new HeadConfig(8, 2, 64);

    private static String prefillPlan(AttentionBackend backend) {
        int rows = 40; // 160 query items per KV head: a prefill-sized tile
        PageTable table = PageTable.of(16, new int[][] {{0, 1, 2}}, new int[] {rows});
        try (BatchAttentionPlan plan = backend.planBatchPrefill(new int[] {0, rows}, table, HEADS,
                AttentionOptions.DEFAULT.withCausal(true), null, PlanOptions.DEFAULT.withDtypes(DType.BF16, DType.BF16))) {
            return plan.describe();
        }
    }

    private static AttentionBackend open() {
        return AttentionBackend.of(new OpenClBackendProvider().open(
                new BackendOptions(Map.of("kernel", "tiled", "tune", "on"))));
    }

    @Test
    void measuresOnceThenReadsTheFile(@TempDir Path dir) throws Exception {
        KernelTestSupport.assumeOpenClDevice();
        Path file = dir.resolve("tiles.properties");
        String[] keys = {"attn4j.opencl.tuneCache", "attn4j.opencl.tuneRows", "attn4j.opencl.tuneKeys"};
        String[] saved = new String[keys.length];
        for (int i = 0; i < keys.length; i++) {
            saved[i] = System.getProperty(keys[i]);
        }
        System.setProperty(keys[0], file.toString());
        System.setProperty(keys[1], "32");
        System.setProperty(keys[2], "64");
        try {
            String first;
            try (AttentionBackend backend = open()) {
                first = prefillPlan(backend);
            }
            Properties stored = new Properties();
            try (InputStream in = Files.newInputStream(file)) {
                stored.load(in);
            }
            assertEquals(1, stored.size(), stored.toString());
            String key = stored.stringPropertyNames().iterator().next();
            TileConfig.Shape tuned = TileConfig.Shape.parse(stored.getProperty(key));
            assertNotNull(tuned);
            assertTrue(first.contains(tuned.tm() + " query items x " + tuned.tn() + " keys")
                    && first.contains(tuned.rm() + " items each"), first);

            // Another session reads the file instead of measuring: a different stored choice shows.
            TileConfig.Shape other = tuned.equals(new TileConfig.Shape(16, 32, 4)) ? new TileConfig.Shape(64, 64, 4)
                    : new TileConfig.Shape(16, 32, 4);
            stored.setProperty(key, other.toString());
            try (OutputStream out = Files.newOutputStream(file)) {
                stored.store(out, null);
            }
            try (AttentionBackend backend = open()) {
                String second = prefillPlan(backend);
                assertTrue(second.contains(other.tm() + " query items x " + other.tn() + " keys")
                        && second.contains(other.rm() + " items each"), second);
            }
        } finally {
            for (int i = 0; i < keys.length; i++) {
                if (saved[i] == null) {
                    System.clearProperty(keys[i]);
                } else {
                    System.setProperty(keys[i], saved[i]);
                }
            }
        }
    }
}
