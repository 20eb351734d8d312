package org.attn4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.EnumSet;
import java.util.Set;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** decode-mla: DeepSeek-V3's absorbed decode, its cache bytes as the rate, checked against the reference. */
class MlaDecodeBenchTest {
    private static Progress quiet() {
        return new Progress(new PrintStream(OutputStream.nullOutputStream()), 1, false);
    }

    @Test
    void theDataFileHoldsDeepSeekV3sAbsorbedDecode() {
        MlaDecodeBench.Shape s = Workloads.mlaDecode();
        assertEquals(64, s.batch());
        assertEquals(4096, s.kvLen());
        assertEquals(new MlaHeadConfig(128, 512, 64), s.heads());
        assertEquals(64, s.pageSize());
        assertEquals((float) (1 / Math.sqrt(192)), s.smScale());
        assertEquals(DType.BF16, s.qDtype());
        assertEquals(DType.BF16, s.kvDtype());
        assertEquals(64L * 4096 * (512 + 64) * 2, s.cacheBytes());
        assertEquals("decode-mla[bf16/bf16/NHD]", s.label());
        assertEquals("decode-mla[bf16/fp8_e4m3/NHD] x0.03125",
                s.withDtypes(DType.BF16, DType.FP8_E4M3).scaled(1.0 / 32).label());
        assertEquals(128, s.scaled(1.0 / 32).kvLen());
        assertNull(Workloads.byName(MlaDecodeBench.NAME), "measured apart, not a named workload");
    }

    @Test
    void aReducedShapeRunsCheckedOnTheReferenceAndReportsCacheBytes() {
        // the data file's shape at 1/16 of its heads and 1/128 of its keys, pages of 8 so requests span pages
        MlaDecodeBench.Shape shape = new MlaDecodeBench.Shape(6, 4096, new MlaHeadConfig(8, 512, 64), 8, 192,
                DType.BF16, DType.BF16, 1.0);
        BenchSettings settings = new BenchSettings(1.0, 1.0 / 128, 2, 3, 0.01, 0, 1 << 20, 1L << 30, 4, 4.49e12,
                790e12, true, 7);
        try (AttentionBackend ref = Backends.open("reference")) {
            assertNull(MlaDecodeBench.unsupported(ref));
            BenchRow row = MlaDecodeBench.measure(new BenchRunner(settings, ref), shape, ref, quiet());
            assertEquals("decode-mla[bf16/bf16/NHD] x0.0078125", row.workload());
            assertEquals("mla_decode", row.op());
            assertEquals("kv 32, dCkv 512 + dKpe 64", row.lengths());
            assertEquals(6L * 32 * 576 * 2, row.bytes());
            assertEquals(8, row.hq());
            assertEquals(1, row.hkv());
            assertEquals(576, row.headDim());
            assertTrue(row.check().startsWith("ok"), row.check());
            assertTrue(row.medianUs() > 0 && row.reps() >= 2, row.toString());
            assertEquals("TB/s", row.metric());
            assertEquals(row.bytes() / (row.medianUs() * 1e-6) / 1e12, row.rate(), 1e-9 * row.rate());
            assertEquals(100 * row.rate() * 1e12 / 4.49e12, row.pctCeiling(), 1e-9 * row.pctCeiling());
        }
    }

    /** The reference with MLA taken out of its capabilities, as a backend without it (CUDA today) reports them. */
    private static AttentionBackend withoutMla() {
        BackendSession session = Backends.find("reference").orElseThrow().open(BackendOptions.DEFAULT);
        Capabilities c = session.capabilities();
        Set<Feature> features = EnumSet.copyOf(c.features());
        features.remove(Feature.MLA);
        Capabilities without = new Capabilities(c.qDtypes(), c.kvDtypes(), c.minHeadDim(), c.maxHeadDim(),
                c.headDimStep(), c.layouts(), features, c.externalMemory(), c.minAlignment());
        InvocationHandler h = (proxy, m, args) -> {
            if (m.getName().equals("capabilities") && m.getParameterCount() == 0) {
                return without;
            }
            if (m.getName().equals("backendId") && m.getParameterCount() == 0) {
                return "no-mla";
            }
            try {
                return m.invoke(session, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return AttentionBackend.of((BackendSession) Proxy.newProxyInstance(BackendSession.class.getClassLoader(),
                new Class<?>[] {BackendSession.class}, h));
    }

    @Test
    void aBackendWithoutMlaIsRefusedWithTheReason() {
        try (AttentionBackend b = withoutMla(); AttentionBackend ref = Backends.open("reference")) {
            assertEquals("backend 'no-mla' does not support MLA (spec §13)", MlaDecodeBench.unsupported(b));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MlaDecodeBench.measure(
                    new BenchRunner(BenchSettings.DEFAULT, ref), Workloads.mlaDecode(), b, quiet()));
            assertEquals("backend 'no-mla' does not support MLA (spec §13)", e.getMessage());
        }
    }
}
