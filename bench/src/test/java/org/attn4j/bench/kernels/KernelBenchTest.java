package org.attn4j.bench.kernels;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.options.AttentionOptions;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * The kernel benches' harness without a GPU: its cases are valid calls, and a comparison and a
 * timing run end to end on two reference backends standing in for the baseline and a candidate.
 */
class KernelBenchTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void everyCaseIsAValidCall() {
        try (AttentionBackend reference = Backends.open("reference")) {
            for (KernelBench.Family family : KernelBench.Family.values()) {
                for (KernelCase c : family.cases()) {
                    try (BatchAttentionPlan plan = c.plan(reference)) {
                        assertTrue(plan.describe() != null, c.name());
                    }
                }
            }
        }
    }

    @Test
    void sameInputsOnTwoBackendsCompareAndTime() {
        KernelCase c = new KernelCase(KernelCase.decode("tiny", DType.BF16, new int[] {0, 5, 33}, 4, 2, 32, 4,
                KvLayout.HND, AttentionOptions.DEFAULT.withLogitsSoftCap(20f), new KvScales(0.5f, 2f)).shape(),
                AttentionOptions.DEFAULT.withLogitsSoftCap(20f), false, new KvScales(0.5f, 2f), true);
        try (AttentionBackend a = Backends.open("reference"); AttentionBackend b = Backends.open("reference")) {
            assertTrue(new KernelBench(out, 2).compareAndTime(KernelBench.Family.DECODE, a, b, "mma", c), text());
        }
        String report = text();
        assertTrue(report.contains("PASS tiny mma") && report.contains("0 outside tolerance"), report);
        assertTrue(report.contains("NOTE tiny mma: the mma kernel was not chosen"), report);
        assertTrue(report.matches("(?s).*tiny +tc +[0-9.]+ us +[0-9.]+ TB/s \\| mma .*"), report);
    }

    @Test
    void aPrefillCandidateThatWasNotChosenFails() {
        KernelCase c = KernelCase.prefill("small", DType.F16, new int[] {3, 9}, new int[] {3, 20}, 2, 1, 16, 8,
                KvLayout.NHD, AttentionOptions.DEFAULT.withCausal(true), true, KvScales.ONE);
        try (AttentionBackend a = Backends.open("reference"); AttentionBackend b = Backends.open("reference")) {
            assertFalse(new KernelBench(out, 1).compareAndTime(KernelBench.Family.PREFILL, a, b, "fa2", c), text());
        }
        assertTrue(text().contains("FAIL small fa2: the fa2 kernel was not chosen"), text());
        assertTrue(text().contains("PASS small fa2"), "the outputs still agree: " + text());
    }

    @Test
    void withoutCudaTheBenchSaysSo() {
        assumeFalse(Backends.find("cuda").map(p -> p.probe().available()).orElse(false),
                "CUDA is available here, and this test checks what happens without it");
        var e = assertThrows(BackendUnavailableException.class,
                () -> new KernelBench(out, 1).run(KernelBench.Family.DECODE, List.of("stream")));
        assertTrue(e.getMessage().contains("cuda"), e.getMessage());
    }

    private String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
