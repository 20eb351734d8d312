package org.attn4j.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.attn4j.bench.kernels.KernelBench;
import org.attn4j.bench.kernels.OpenClDecodeBench;
import org.attn4j.cli.Console;
import org.attn4j.cli.Main;
import org.attn4j.cli.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code attn4j bench-kernels}: a backend's attention kernels against a baseline on the same
 * inputs. CUDA (the default): the candidate kernels against its Tensor Core kernel. OpenCL: a batch
 * decode kernel flavour against the reference backend or another flavour.
 */
@Command(name = "bench-kernels", mixinStandardHelpOptions = true, versionProvider = Version.class,
        sortOptions = false,
        header = "A backend's kernels against a baseline on the same inputs: outputs compared, then timed",
        description = {"--backend cuda (default): opens the CUDA backend once with the Tensor Core attention kernel "
                + "forced (backend setting decodeKernel or prefillKernel = tc) and once per candidate kernel, runs "
                + "every case on the same inputs on both, compares the outputs (o within 1.6e-2 + 1.6e-2 |ref|, LSE "
                + "within 1e-3 (1 + |ref|)), then times the spec §10 workloads with CUDA events. Option cases "
                + "(window, soft cap, scales, custom mask, page sizes, HND, f16, head dims 64 and 256) are compared "
                + "only.",
            "--backend opencl: batch decode (bf16, Hq 32, Hkv 8, D 128, page 16; --batch and --kv-len set the "
                + "lengths) on the OpenCL backend with each --decode-kernels flavour forced (backend setting "
                + "kernel; default: the backend's own choice) against --baseline on the same inputs. Runs of the "
                + "two alternate round by round; medians are reported, and the outputs compared (o within "
                + "1.6e-2 + 1.6e-2 |baseline|).",
            "Exit status 1 when a comparison fails, a prefill candidate was not chosen, or the backend is "
                + "unavailable."})
public final class BenchKernelsCommand implements Callable<Integer> {
    /** Timed samples per kernel and workload on CUDA. */
    static final int CUDA_ITERATIONS = 30;
    /** Timed rounds on OpenCL. */
    static final int OPENCL_ROUNDS = 9;

    private final Console console;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "decode|prefill", arity = "0..*",
            description = "the kernel families to run (default: both on cuda, decode on opencl)")
    List<String> families = new ArrayList<>();

    @Option(names = "--backend", paramLabel = "cuda|opencl", defaultValue = KernelBench.BACKEND,
            description = "whose kernels [default: ${DEFAULT-VALUE}]")
    String backend;

    @Option(names = "--decode-kernels", paramLabel = "LIST", split = ",",
            description = "decode candidates; cuda: stream, mma, tc, auto [default: stream,mma]; opencl: "
                    + "auto, tiled, serial, decode-stream [default: the backend's own choice, auto or "
                    + "-Dattn4j.opencl.kernel]")
    List<String> decodeKernels = new ArrayList<>();

    @Option(names = "--prefill-kernels", paramLabel = "LIST", split = ",",
            description = "cuda prefill candidates: fa2, wgmma, tc [default: fa2,wgmma]")
    List<String> prefillKernels = new ArrayList<>();

    @Option(names = "--baseline", paramLabel = "NAME",
            description = "opencl: what the flavours are compared with, reference or a flavour "
                    + "[default: reference]")
    String baseline;

    @Option(names = "--batch", paramLabel = "N", description = "opencl: requests [default: 8]")
    Integer batch;

    @Option(names = "--kv-len", paramLabel = "N", description = "opencl: keys per request [default: 1024]")
    Integer kvLen;

    @Option(names = "--iterations", paramLabel = "N",
            description = "cuda: timed samples per kernel and workload [default: " + CUDA_ITERATIONS + "]; "
                    + "opencl: timed rounds [default: " + OPENCL_ROUNDS + "]")
    Integer iterations;

    /**
     * The command, printing to {@code console}.
     *
     * @param console where the report and failures go
     */
    public BenchKernelsCommand(Console console) {
        this.console = console;
    }

    @Override
    public Integer call() {
        if (iterations != null && iterations < 1) {
            throw usage("--iterations: expected at least 1, actual " + iterations);
        }
        return switch (backend.strip().toLowerCase(Locale.ROOT)) {
            case KernelBench.BACKEND -> cuda();
            case OpenClDecodeBench.BACKEND -> openCl();
            default -> throw usage("unknown backend '" + backend + "' (expected " + KernelBench.BACKEND + " or "
                    + OpenClDecodeBench.BACKEND + ")");
        };
    }

    private int cuda() {
        for (String[] option : new String[][] {{"--baseline", baseline}, {"--batch", str(batch)},
                {"--kv-len", str(kvLen)}}) {
            if (option[1] != null) {
                throw usage(option[0] + " applies to --backend opencl only (the CUDA bench compares with the "
                        + KernelBench.BASELINE + " kernel on the spec §10 workloads)");
            }
        }
        KernelBench bench = new KernelBench(console.out(), iterations == null ? CUDA_ITERATIONS : iterations);
        List<KernelBench.Family> chosen = families.isEmpty() ? List.of(KernelBench.Family.values())
                : families.stream().map(this::family).toList();
        boolean ok = true;
        for (KernelBench.Family family : chosen) {
            List<String> named = family == KernelBench.Family.DECODE ? decodeKernels : prefillKernels;
            List<String> kernels = named.isEmpty() ? family.defaultCandidates() : named;
            ok &= bench.run(family, kernels.stream().map(String::strip).toList());
        }
        return ok ? 0 : Main.FAILED;
    }

    private int openCl() {
        if (families.stream().map(this::family).anyMatch(f -> f != KernelBench.Family.DECODE)) {
            throw usage("the OpenCL kernel bench runs decode only");
        }
        if (!prefillKernels.isEmpty()) {
            throw usage("--prefill-kernels applies to --backend cuda only (the OpenCL kernel bench runs decode only)");
        }
        String base = baseline == null ? OpenClDecodeBench.REFERENCE : baseline.strip().toLowerCase(Locale.ROOT);
        if (!base.equals(OpenClDecodeBench.REFERENCE)) {
            flavour(base, "--baseline");
        }
        List<String> kernels = new ArrayList<>();
        for (String k : decodeKernels) {
            kernels.add(flavour(k.strip().toLowerCase(Locale.ROOT), "--decode-kernels"));
        }
        if (kernels.isEmpty()) {
            kernels.add(null); // the backend's own choice
        }
        OpenClDecodeBench.Shape shape;
        try {
            shape = OpenClDecodeBench.Shape.DEFAULT.withLengths(batch == null ? OpenClDecodeBench.Shape.DEFAULT.batch()
                    : batch, kvLen == null ? OpenClDecodeBench.Shape.DEFAULT.kvLen() : kvLen);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        OpenClDecodeBench bench = new OpenClDecodeBench(console.out(), iterations == null ? OPENCL_ROUNDS : iterations);
        boolean ok = true;
        for (String kernel : kernels) {
            ok &= bench.run(shape, base, kernel);
        }
        console.out().println(ok ? "ALL PASS" : "SOME FAILED");
        return ok ? 0 : Main.FAILED;
    }

    /** {@code name} when the OpenCL backend knows it as a flavour, else a usage mistake. */
    private String flavour(String name, String option) {
        if (!OpenClDecodeBench.FLAVOURS.contains(name)) {
            throw usage(option + ": unknown OpenCL kernel flavour '" + name + "' (expected "
                    + String.join(", ", OpenClDecodeBench.FLAVOURS)
                    + (option.equals("--baseline") ? " or " + OpenClDecodeBench.REFERENCE : "") + ")");
        }
        return name;
    }

    /** {@code decode} or {@code prefill}, in any case. */
    private KernelBench.Family family(String name) {
        try {
            return KernelBench.Family.valueOf(name.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw usage("unknown kernel family '" + name + "' (expected decode or prefill)");
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private static String str(Integer value) {
        return value == null ? null : value.toString();
    }
}
