package org.attn4j.cli.run;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Command;
import org.attn4j.cli.ParsedArgs;
import org.attn4j.cli.json.Json;

/** {@code attn4j run --spec call.json --out DIR}: one operation on .npy inputs; o and lse as .npy. */
public final class RunCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("run", CallSpec.HELP)
                .option("spec", "FILE", "the call's JSON file (paths in it are relative to it)")
                .option("out", "DIR", "where o.npy, lse.npy and result.json go")
                .option("backend", "ID", "backend id (default: the JSON's \"backend\", else the best)");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) throws Exception {
        if (!args.has("spec") || !args.has("out")) {
            throw args.error("--spec and --out are required");
        }
        Path specFile = Path.of(args.string("spec"));
        if (!Files.isRegularFile(specFile)) {
            throw new CliException("--spec: no such file " + specFile);
        }
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(specFile));
        } catch (IllegalArgumentException e) {
            throw new CliException(specFile + ": " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?>)) {
            throw new CliException(specFile + ": expected a JSON object at the top");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) parsed;
        Path base = specFile.toAbsolutePath().getParent();
        CallSpec call = CallSpec.read(new SpecReader(map, base, specFile.toString()));
        String id = args.string("backend", call.backend());
        Path outDir = Path.of(args.string("out"));
        Files.createDirectories(outDir);
        try (AttentionBackend backend = id == null ? Backends.openBest() : Backends.open(id)) {
            CallResult r = CallRunner.run(call, backend, outDir);
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("op", call.op().label());
            result.put("backend", backend.id());
            result.put("device", backend.device());
            result.put("o", "o.npy");
            result.put("o_dtype", r.oDtype());
            result.put("o_shape", r.oShape());
            result.put("lse", call.returnLse() ? "lse.npy" : null);
            result.put("millis", r.millis());
            Files.writeString(outDir.resolve("result.json"), Json.write(result));
            out.printf("run: %s on %s (%s): o %s%s written to %s in %.3f ms%n", call.op().label(), backend.id(),
                    backend.device(), java.util.Arrays.toString(r.oShape()), call.returnLse() ? " and lse" : "",
                    outDir, r.millis());
        }
        return 0;
    }
}
