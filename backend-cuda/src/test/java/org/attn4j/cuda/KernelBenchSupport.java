package org.attn4j.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * What the kernel benches ({@link CudaDecodeBench}, {@link CudaPrefillBench}) share: page
 * tables laid out like a serving pool (the tests use its contiguous page tables too), random
 * 16-bit fills of the same values into two backends, each opened with a kernel setting, CUDA-event timing and the output
 * comparison with its one-line report.
 */
final class KernelBenchSupport {
    private static final ValueLayout.OfShort BITS = ValueLayout.JAVA_SHORT_UNALIGNED;

    private KernelBenchSupport() {}

    /** Page ids of each request, the requests' pages interleaved as a serving pool hands them out. */
    static int[][] interleavedPages(int[] kvLens, int pageSize) {
        int batch = kvLens.length;
        int[][] pages = new int[batch][];
        int maxPages = 0;
        for (int b = 0; b < batch; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            maxPages = Math.max(maxPages, pages[b].length);
        }
        int next = 0;
        for (int i = 0; i < maxPages; i++) {
            for (int b = 0; b < batch; b++) {
                if (i < pages[b].length) {
                    pages[b][i] = next++;
                }
            }
        }
        return pages;
    }

    /** Page ids of each request, request after request, the first page of the pool first. */
    static int[][] contiguousPages(int[] kvLens, int pageSize) {
        int[][] pages = new int[kvLens.length][];
        int next = 0;
        for (int b = 0; b < kvLens.length; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = next++;
            }
        }
        return pages;
    }

    static int pageCount(int[][] pages) {
        int n = 0;
        for (int[] p : pages) {
            n += p.length;
        }
        return n;
    }

    /** Shape of a K or V pool of {@code numPages} pages (at least one, so an all-empty batch allocates). */
    static long[] kvShape(KvLayout layout, int numPages, int pageSize, int hkv, int d) {
        return layout == KvLayout.NHD ? new long[] {Math.max(1, numPages), pageSize, hkv, d}
                : new long[] {Math.max(1, numPages), hkv, pageSize, d};
    }

    /** The CUDA backend with one kernel setting, {@code key} = {@code kernel}. */
    static AttentionBackend openWithKernel(String key, String kernel) {
        return Backends.open("cuda", BackendOptions.DEFAULT.with(key, kernel));
    }

    /** Calls one timed sample queues back to back. */
    static final int QUEUED_CALLS = 8;

    /** Median milliseconds per call over {@code iterations} timed samples after {@code warmUp} untimed calls. */
    static double time(BatchAttentionPlan plan, Tensor q, PagedKvCache cache, Tensor o, Tensor lse,
                       DeviceTimer timer, int warmUp, int iterations) {
        for (int i = 0; i < warmUp; i++) {
            plan.run(q, cache, o, lse);
        }
        // Each sample queues QUEUED_CALLS calls back to back, so the host's launch latency overlaps
        // device work (as in an engine) instead of sitting between the start event and the kernel.
        double[] ms = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            timer.start();
            for (int c = 0; c < QUEUED_CALLS; c++) {
                plan.run(q, cache, o, lse);
            }
            timer.stop();
            ms[i] = timer.elapsedMillis() / QUEUED_CALLS;
        }
        Arrays.sort(ms);
        return ms[iterations / 2];
    }

    /**
     * Uniform values in [-amplitude, amplitude), rounded down to the 16-bit type, filled in parallel,
     * into {@code t} of {@code cuda} and {@code same} (a tensor of the same shape on another backend).
     */
    static void fillRandom(AttentionBackend cuda, Tensor t, AttentionBackend other, Tensor same, long seed,
                           float amplitude) {
        try (HostTensor host = HostTensor.allocate(t.dtype(), t.shape())) {
            MemorySegment seg = host.segment();
            long n = host.elementCount();
            int chunks = (int) Math.min(1024, Math.max(1, n >> 16));
            boolean bf16 = t.dtype() == DType.BF16;
            IntStream.range(0, chunks).parallel().forEach(c -> {
                long from = n * c / chunks;
                long to = n * (c + 1) / chunks;
                long x = seed * 0x9E3779B97F4A7C15L + c * 0xBF58476D1CE4E5B9L + 1;
                for (long i = from; i < to; i++) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    float f = (Float.intBitsToFloat(0x3F800000 | (int) (x >>> 41)) * 2f - 3f) * amplitude;
                    short bits = bf16 ? (short) (Float.floatToRawIntBits(f) >>> 16) : Float.floatToFloat16(f);
                    seg.set(BITS, 2 * i, bits);
                }
            });
            cuda.upload(host, t);
            other.upload(host, same);
        }
    }

    /**
     * Compares two outputs (tolerance 1.6e-2 + 1.6e-2 |ref|; LSE 1e-3 (1 + |ref|), equal values such
     * as two -inf pass), prints one PASS/FAIL line with the name padded to {@code nameWidth} and
     * says whether every element passed. A NaN difference counts as infinite in the maxima.
     */
    static boolean compare(AttentionBackend refBackend, AttentionBackend newBackend, String name, int nameWidth,
                           Tensor oRef, Tensor lseRef, Tensor oNew, Tensor lseNew) {
        float[] a = toFloats(refBackend, oRef);
        float[] b = toFloats(newBackend, oNew);
        float[] la = toFloats(refBackend, lseRef);
        float[] lb = toFloats(newBackend, lseNew);
        double maxO = 0;
        double maxL = 0;
        int bad = 0;
        for (int i = 0; i < a.length; i++) {
            double diff = Math.abs(a[i] - b[i]);
            maxO = Math.max(maxO, Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            if (!(diff <= 1.6e-2 + 1.6e-2 * Math.abs(a[i]))) {
                bad++;
            }
        }
        for (int i = 0; i < la.length; i++) {
            boolean same = la[i] == lb[i];
            double diff = same ? 0 : Math.abs(la[i] - lb[i]);
            maxL = Math.max(maxL, Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            if (!(diff <= 1e-3 * (1 + Math.abs(la[i])))) {
                bad++;
            }
        }
        System.out.printf("%s %-" + nameWidth + "s max |o diff| %.3g, max |lse diff| %.3g, %d outside tolerance%n",
                bad == 0 ? "PASS" : "FAIL", name, maxO, maxL, bad);
        return bad == 0;
    }

    private static float[] toFloats(AttentionBackend cuda, Tensor t) {
        try (HostTensor h = cuda.download(t)) {
            return h.toFloatArray();
        }
    }
}
