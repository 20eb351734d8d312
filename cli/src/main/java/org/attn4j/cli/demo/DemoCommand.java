package org.attn4j.cli.demo;

import java.io.PrintStream;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.Command;
import org.attn4j.cli.ParsedArgs;

/** {@code attn4j demo}: continuous batching on the best backend, checked against the reference. */
public final class DemoCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("demo", "A small continuous-batching session: requests arrive with prompts of a toy model "
                + "(Hq 8, Hkv 2, D 64, bf16,\npage 16), a PageManager hands out pages, prompt K/V are appended and "
                + "prefilled in a batch,\nthen every step decodes one token per request over the growing paged cache "
                + "while requests\nfinish and new ones arrive. The first prefill and one decode step are recomputed "
                + "on the\nreference backend: PASS or FAIL (exit status 1).")
                .option("backend", "ID", "backend id (default: the best available)")
                .option("steps", "N", "scheduler steps", "24")
                .option("requests", "N", "requests at step 0", "4")
                .option("arrival-rate", "P", "chance of a new request at each later step", "0.35")
                .option("max-batch", "N", "most requests in flight", "8")
                .option("prompt", "A..B", "prompt lengths", "16..96")
                .option("generate", "A..B", "generated tokens per request", "4..16")
                .option("pages", "N", "pages in the KV pool", "256")
                .option("check-step", "N", "decode step to check against the reference (default: steps / 2)")
                .option("seed", "N", "seed", "7");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) {
        int steps = args.integer("steps", 24);
        int[] prompt = args.intList("prompt");
        int[] gen = args.intList("generate");
        if (steps < 1) {
            throw args.error("--steps must be >= 1, actual " + steps);
        }
        if (prompt.length != 2 || prompt[0] < 1 || gen.length != 2 || gen[0] < 1) {
            throw args.error("--prompt and --generate take ranges A..B with A >= 1");
        }
        double rate = args.number("arrival-rate", 0.35);
        if (rate < 0 || rate > 1) {
            throw args.error("--arrival-rate must be in [0, 1], actual " + rate);
        }
        DemoSettings s = new DemoSettings(steps, args.integer("requests", 4), rate, args.integer("max-batch", 8),
                prompt[0], prompt[1], gen[0], gen[1], args.integer("pages", 256),
                args.integer("check-step", Math.max(1, steps / 2)), args.integer("seed", 7));
        if (s.initialRequests() < 1 || s.maxBatch() < 1 || s.numPages() < 1) {
            throw args.error("--requests, --max-batch and --pages must be >= 1");
        }
        try (AttentionBackend backend = args.has("backend") ? Backends.open(args.string("backend"))
                : Backends.openBest();
             AttentionBackend reference = Backends.open("reference");
             DemoSession session = new DemoSession(backend, reference, s, out)) {
            boolean pass = session.run();
            if (session.checked() == 0) {
                out.println("FAIL: no step was checked against the reference (is --check-step past --steps?)");
                return 1;
            }
            out.println(pass ? "PASS" : "FAIL");
            return pass ? 0 : 1;
        }
    }
}
