package org.attn4j.cli.demo;

import java.util.concurrent.Callable;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.cli.Console;
import org.attn4j.cli.IntSpec;
import org.attn4j.cli.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code attn4j demo}: continuous batching on the best backend, checked against the reference. */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
        header = "a small continuous-batching session on the best backend, checked against the reference",
        description = {"A small continuous-batching session: requests arrive with prompts of a toy model (Hq 8, "
                + "Hkv 2, D 64, bf16, page 16), a PageManager hands out pages, prompt K/V are appended and prefilled "
                + "in a batch, then every step decodes one token per request over the growing paged cache while "
                + "requests finish and new ones arrive. The first prefill and one decode step are recomputed on the "
                + "reference backend: PASS, or FAIL with exit status 1."})
public final class DemoCommand implements Callable<Integer> {
    private final Console console;

    @Spec
    CommandSpec spec;

    @Option(names = "--backend", paramLabel = "ID", description = "backend id (default: the best available)")
    String backend;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "24", description = "scheduler steps [default: ${DEFAULT-VALUE}]")
    int steps;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "4", description = "requests at step 0 [default: ${DEFAULT-VALUE}]")
    int requests;

    @Option(names = "--arrival-rate", paramLabel = "P", defaultValue = "0.35",
            description = "chance of a new request at each later step [default: ${DEFAULT-VALUE}]")
    double arrivalRate;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "8", description = "most requests in flight [default: ${DEFAULT-VALUE}]")
    int maxBatch;

    @Option(names = "--prompt", paramLabel = "A..B", defaultValue = "16..96", converter = IntSpec.Converter.class,
            description = "prompt lengths [default: ${DEFAULT-VALUE}]")
    IntSpec prompt;

    @Option(names = "--generate", paramLabel = "A..B", defaultValue = "4..16", converter = IntSpec.Converter.class,
            description = "generated tokens per request [default: ${DEFAULT-VALUE}]")
    IntSpec generate;

    @Option(names = "--pages", paramLabel = "N", defaultValue = "256", description = "pages in the KV pool [default: ${DEFAULT-VALUE}]")
    int pages;

    @Option(names = "--check-step", paramLabel = "N",
            description = "decode step to check against the reference (default: steps / 2)")
    Integer checkStep;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "7", description = "seed [default: ${DEFAULT-VALUE}]")
    long seed;

    public DemoCommand(Console console) {
        this.console = console;
    }

    private ParameterException error(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    @Override
    public Integer call() {
        if (steps < 1) {
            throw error("--steps must be >= 1, actual " + steps);
        }
        if (!prompt.range() || prompt.lo() < 1 || !generate.range() || generate.lo() < 1) {
            throw error("--prompt and --generate take ranges A..B with A >= 1");
        }
        if (arrivalRate < 0 || arrivalRate > 1) {
            throw error("--arrival-rate must be in [0, 1], actual " + arrivalRate);
        }
        if (requests < 1 || maxBatch < 1 || pages < 1) {
            throw error("--requests, --max-batch and --pages must be >= 1");
        }
        DemoSettings s = new DemoSettings(steps, requests, arrivalRate, maxBatch, prompt.lo(), prompt.hi(),
                generate.lo(), generate.hi(), pages, checkStep != null ? checkStep : Math.max(1, steps / 2), seed);
        try (AttentionBackend b = backend != null ? Backends.open(backend) : Backends.openBest();
             AttentionBackend reference = Backends.open("reference");
             DemoSession session = new DemoSession(b, reference, s, console.out())) {
            boolean pass = session.run();
            if (session.checked() == 0) {
                console.out().println("FAIL: no step was checked against the reference (is --check-step past --steps?)");
                return 1;
            }
            console.out().println(pass ? "PASS" : "FAIL");
            return pass ? 0 : 1;
        }
    }
}
