package org.attn4j.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.attn4j.bench.kernels.KernelBench;
import org.attn4j.cli.Console;
import org.attn4j.cli.Main;
import org.attn4j.cli.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code attn4j bench-kernels}: the CUDA backend's candidate kernels against its Tensor Core kernel. */
@Command(name = "bench-kernels", mixinStandardHelpOptions = true, versionProvider = Version.class,
        sortOptions = false,
        header = "CUDA kernels against the Tensor Core kernel: outputs compared, then timed",
        description = {"Opens the CUDA backend once with the Tensor Core attention kernel forced (backend setting "
                + "decodeKernel or prefillKernel = tc) and once per candidate kernel, runs every case on the same "
                + "inputs on both, compares the outputs (o within 1.6e-2 + 1.6e-2 |ref|, LSE within 1e-3 (1 + |ref|)), "
                + "then times the spec §10 workloads with CUDA events. Option cases (window, soft cap, scales, "
                + "custom mask, page sizes, HND, f16, head dims 64 and 256) are compared only.",
            "Exit status 1 when a comparison fails, a prefill candidate was not chosen, or CUDA is unavailable."})
public final class BenchKernelsCommand implements Callable<Integer> {
    private final Console console;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "decode|prefill", arity = "0..*",
            description = "the kernel families to run (default: both)")
    List<String> families = new ArrayList<>();

    @Option(names = "--decode-kernels", paramLabel = "LIST", split = ",",
            description = "decode candidates: stream, mma, tc, auto [default: stream,mma]")
    List<String> decodeKernels = new ArrayList<>(KernelBench.Family.DECODE.defaultCandidates());

    @Option(names = "--prefill-kernels", paramLabel = "LIST", split = ",",
            description = "prefill candidates: fa2, wgmma, tc [default: fa2,wgmma]")
    List<String> prefillKernels = new ArrayList<>(KernelBench.Family.PREFILL.defaultCandidates());

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "30",
            description = "timed samples per kernel and workload [default: ${DEFAULT-VALUE}]")
    int iterations;

    public BenchKernelsCommand(Console console) {
        this.console = console;
    }

    @Override
    public Integer call() {
        KernelBench bench = new KernelBench(console.out(), iterations);
        List<KernelBench.Family> chosen = families.isEmpty() ? List.of(KernelBench.Family.values())
                : families.stream().map(this::family).toList();
        boolean ok = true;
        for (KernelBench.Family family : chosen) {
            List<String> kernels = family == KernelBench.Family.DECODE ? decodeKernels : prefillKernels;
            ok &= bench.run(family, kernels.stream().map(String::strip).toList());
        }
        return ok ? 0 : Main.FAILED;
    }

    /** {@code decode} or {@code prefill}, in any case. */
    private KernelBench.Family family(String name) {
        try {
            return KernelBench.Family.valueOf(name.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "unknown kernel family '" + name
                    + "' (expected decode or prefill)");
        }
    }
}
