package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Numerics;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every FP8 code through the kernels' decoders: with one key, attention returns V itself, so an
 * F32 output holds the decoded values, compared with core-api's tables bit for bit (zeros up to
 * sign: the weighted sum adds -0 to +0). Head dims
 * 16, 4 and 3 take the 16-wide, 4-wide and scalar load paths of the tiled and serial flavours;
 * the streaming decode's 8-wide loads run at head dims 16 and 8.
 */
class OpenClFp8DecodeTest {

    @ParameterizedTest(name = "{0}, D {1}, {2} kernel")
    @CsvSource({
        "FP8_E4M3, 16, serial", "FP8_E4M3, 4, serial", "FP8_E4M3, 3, serial",
        "FP8_E5M2, 16, serial", "FP8_E5M2, 4, serial", "FP8_E5M2, 3, serial",
        "FP8_E4M3, 16, tiled", "FP8_E4M3, 3, tiled", "FP8_E5M2, 4, tiled", "FP8_E5M2, 3, tiled",
        "FP8_E4M3, 16, decode-stream", "FP8_E5M2, 16, decode-stream", "FP8_E4M3, 8, decode-stream",
    })
    void everyCodeDecodes(DType fp8, int d, String kernel) {
        KernelTestSupport.assumeOpenClDevice();
        int heads = (256 + d - 1) / d;
        try (AttentionBackend b = AttentionBackend.of(new OpenClBackendProvider().open(
                new BackendOptions(Map.of("kernel", kernel))));
             HostTensor vh = HostTensor.allocate(fp8, 1, 1, heads, d);
             HostTensor kh = HostTensor.allocate(fp8, 1, 1, heads, d);
             HostTensor qh = HostTensor.allocate(DType.F32, 1, heads, d)) {
            for (int i = 0; i < heads * d; i++) {
                vh.setBits(i, i & 0xFF);
            }
            PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {1}, 1);
            try (Tensor k = b.upload(kh); Tensor v = b.upload(vh); Tensor q = b.upload(qh);
                 Tensor o = b.allocate(DType.F32, 1, heads, d);
                 BatchAttentionPlan plan = b.planBatchDecode(table, new HeadConfig(heads, heads, d),
                         AttentionOptions.DEFAULT, PlanOptions.DEFAULT)) {
                plan.run(q, PagedKvCache.separate(k, v, KvLayout.NHD), o, null);
                try (HostTensor out = b.download(o)) {
                    for (int i = 0; i < heads * d; i++) {
                        float expected = Numerics.decode(fp8, i & 0xFF);
                        float actual = out.getFloat(i);
                        if (expected == 0f) {
                            assertEquals(0f, Math.abs(actual), "code 0x" + Integer.toHexString(i & 0xFF)); // 0 + p * -0 = +0
                        } else if (Float.isNaN(expected)) {
                            assertEquals(Float.NaN, actual, "code 0x" + Integer.toHexString(i & 0xFF));
                        } else {
                            assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(actual),
                                    "code 0x" + Integer.toHexString(i & 0xFF) + ": " + expected + " vs " + actual);
                        }
                    }
                }
            }
        }
    }
}
