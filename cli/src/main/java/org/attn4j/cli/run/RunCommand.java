package org.attn4j.cli.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Console;
import org.attn4j.cli.Names;
import org.attn4j.cli.Version;
import org.attn4j.cli.json.Json;
import org.attn4j.cli.npy.Npy;
import org.attn4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code attn4j run --spec call.json --out DIR}: one operation on .npy inputs; its outputs as .npy. */
@Command(name = "run", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
        header = "one operation on NumPy .npy inputs described by a JSON file; outputs as .npy",
        description = {
            "Runs one operation of the core API on NumPy .npy inputs described by a JSON file and writes its outputs "
                    + "as .npy files plus result.json into --out, all or nothing.",
            "",
            "ops: decode, prefill, prefill_ragged, single_decode, single_prefill (attention: o, lse); cascade (o, lse); "
                    + "merge_state, merge_state_in_place, merge_states (o, lse); append_kv (the updated k and v, or "
                    + "kv, and per-token scale pools k_scales, v_scales); rope (the rotated q and k); mla_decode, mla_prefill "
                    + "(multi-head latent attention: o, lse).",
            "",
            "Attention keys: \"q\", \"q_dtype\"; \"k\", \"v\" or \"kv\", \"kv_dtype\", \"layout\" (NHD|HND), \"k_scale\", "
                    + "\"v_scale\" or \"kv_scales\" {\"mode\": \"per_head\"|\"per_token\", \"k\", \"v\"} ('<f4' "
                    + "files); \"qo_indptr\", \"kv_indptr\", \"kv_indices\", \"kv_last_page_len\"; \"causal\", "
                    + "\"window_left\", \"logits_soft_cap\", \"sm_scale\", \"rope\" {\"interleaved\", \"theta\", "
                    + "\"scale\", \"llama31\"}; \"sinks\" (one logit per query head, list or '<f4' file); \"alibi\": "
                    + "true (standard slopes) or \"alibi_slopes\" (one per query head); \"mask\" (booleans .npy or "
                    + "list, or {\"booleans\"|\"packed\", \"bits\", "
                    + "\"offsets\"}); \"plan\" {\"deterministic\", \"max_split_chunk\"}; \"return_lse\"; \"o_init\", "
                    + "\"lse_init\" (the output buffers' contents before the call); \"backend\".",
            "",
            "MLA keys: \"q_nope\" [rows, H, dCkv], \"q_pe\" [rows, H, dKpe], \"q_dtype\"; \"ckv\" [pages, pageSize, "
                    + "dCkv], \"kpe\" [pages, pageSize, dKpe], \"kv_dtype\", \"ckv_scale\", \"kpe_scale\"; the page "
                    + "table; \"qo_indptr\" and \"causal\" (mla_prefill); \"sm_scale\" (required); \"plan\", "
                    + "\"return_lse\", \"o_init\", \"lse_init\".",
            "",
            "File names are relative to the JSON file; index arrays are inline lists or '<i4'/'<i8' files. bf16 and FP8 "
                    + "travel as raw '<u2' and '|u1' with the dtype named in the JSON; lse is float32, natural log. "
                    + "docs/cli.md describes every op and key."})
public final class RunCommand implements Callable<Integer> {
    private final Console console;

    @Option(names = "--spec", paramLabel = "FILE", required = true,
            description = "the call's JSON file (paths in it are relative to it)")
    Path spec;

    @Option(names = "--out", paramLabel = "DIR", required = true,
            description = "the directory the outputs and result.json go to (created when the call succeeds)")
    Path out;

    @Option(names = "--backend", paramLabel = "ID",
            description = "backend id (default: the JSON's \"backend\", else the best available)")
    String backend;

    public RunCommand(Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new CliException("--out: " + out + " is a file, not a directory");
        }
        if (!Files.isRegularFile(spec)) {
            throw new CliException("--spec: " + (Files.exists(spec) ? "not a regular file: " : "no such file: ") + spec);
        }
        if (!(Json.readFile(spec) instanceof Map<?, ?> parsed)) {
            throw new CliException(spec + ": expected a JSON object at the top");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) parsed;
        SpecReader reader = new SpecReader(map, spec.toAbsolutePath().getParent(), spec.toString());
        Operation op = Operation.read(reader);
        String id = backend != null ? backend : reader.string("backend", null);
        try (AttentionBackend b = id == null ? Backends.openBest() : Backends.open(id); Inputs in = new Inputs(b)) {
            RunResult r = op.run(in);
            List<String> names = new ArrayList<>();
            r.outputs.keySet().forEach(n -> names.add(n + ".npy"));
            names.add("result.json");
            List<Path> inputs = new ArrayList<>(reader.files());
            inputs.add(spec);
            OutputFiles.checkNotInputs(out, names, inputs);
            String json = Json.write(resultJson(op, b, r));
            OutputFiles.commit(out, r.outputs, Map.of("result.json", json));
            List<String> written = new ArrayList<>();
            r.outputs.forEach((n, t) -> written.add(n + " " + Arrays.toString(t.shape()) + " "
                    + Names.dtypeName(t.dtype())));
            console.out().printf(Locale.ROOT, "run: %s on %s (%s): %s written to %s in %.3f ms%n", op.op(), b.id(),
                    b.device(), String.join(", ", written), out, r.millis);
            for (String note : r.notes) {
                console.out().println("run: note: " + note);
            }
        }
        return 0;
    }

    private static Map<String, Object> resultJson(Operation op, AttentionBackend b, RunResult r) {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("op", op.op());
        result.put("backend", b.id());
        result.put("device", b.device());
        result.put("attn4j", Version.projectVersion());
        Map<String, Object> outputs = new LinkedHashMap<>();
        r.outputs.forEach((name, t) -> outputs.put(name, file(name, t)));
        result.put("outputs", outputs);
        HostTensor o = r.outputs.get("o");
        if (o != null && (op instanceof AttentionOp || op instanceof CascadeOp || op instanceof MlaOp)) {
            // the keys of the first result.json format, kept for scripts that read them
            result.put("o", "o.npy");
            result.put("o_dtype", Names.dtypeName(o.dtype()));
            result.put("o_shape", o.shape());
            result.put("lse", r.outputs.containsKey("lse") ? "lse.npy" : null);
        }
        result.put("millis", r.millis);
        result.putAll(r.extra);
        result.put("notes", r.notes);
        return result;
    }

    private static Map<String, Object> file(String name, HostTensor t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", name + ".npy");
        m.put("dtype", Names.dtypeName(t.dtype()));
        m.put("npy_descr", Npy.descr(t.dtype()));
        m.put("shape", t.shape());
        return m;
    }
}
