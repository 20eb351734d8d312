package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendOptions;
import org.junit.jupiter.api.Test;

/** Kernel settings come from the backend's options, and a wrong one is named with what it may be. */
class CudaKernelSettingsTest {
    @Test
    void unsetSettingsKeepTheDefaults() {
        assertEquals(CudaKernelSettings.DEFAULT, CudaKernelSettings.of(BackendOptions.DEFAULT));
        assertEquals(CudaKernelSettings.DEFAULT, CudaKernelSettings.of(null));
    }

    @Test
    void settingsChooseTheKernels() {
        BackendOptions o = new BackendOptions(Map.of("decodeKernel", "stream", "prefillKernel", " FA2 ",
                "streamWaves", "4", "mlaKernel", "wgmma"));
        assertEquals(new CudaKernelSettings(CudaKernelSettings.DecodeKernel.STREAM,
                CudaKernelSettings.PrefillKernel.FA2, 4, CudaKernelSettings.MlaKernel.WGMMA), CudaKernelSettings.of(o));
    }

    @Test
    void aWrongKernelNamesTheSettingTheChoicesAndTheValue() {
        var e = assertThrows(InvalidArgumentException.class, () -> CudaKernelSettings.of(
                new BackendOptions(Map.of("decodeKernel", "fast"))));
        assertEquals("cuda setting decodeKernel (attn4j.cuda.decodeKernel): expected one of auto, tc, stream, mma,"
                + " actual 'fast'", e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> CudaKernelSettings.of(
                new BackendOptions(Map.of("prefillKernel", "flash"))));
        assertTrue(e.getMessage().contains("expected one of wgmma, fa2, tc, actual 'flash'"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> CudaKernelSettings.of(
                new BackendOptions(Map.of("mlaKernel", "flash"))));
        assertTrue(e.getMessage().contains("mlaKernel") && e.getMessage().contains("expected one of mma, wgmma"),
                e.getMessage());
    }

    @Test
    void streamWavesIsAPositiveInteger() {
        for (String bad : new String[] {"0", "-1", "two"}) {
            var e = assertThrows(InvalidArgumentException.class, () -> CudaKernelSettings.of(
                    new BackendOptions(Map.of("streamWaves", bad))));
            assertEquals("cuda setting streamWaves (attn4j.cuda.streamWaves): expected a positive integer, actual '"
                    + bad + "'", e.getMessage());
        }
    }

    @Test
    void openingRejectsAWrongSettingOnAnyHost() {
        assertThrows(InvalidArgumentException.class, () -> new CudaBackendProvider().open(
                BackendOptions.DEFAULT.with("prefillKernel", "none")));
    }
}
