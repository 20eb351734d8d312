package org.attn4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.util.DefaultPrettyPrinter;
import tools.jackson.core.util.Separators;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.json.JsonMapper;

/** The bench module's JSON: bench.json out (non-finite numbers as null), workloads.json in. */
final class BenchJson {
    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final ObjectWriter WRITER = MAPPER.writer().with(new DefaultPrettyPrinter(
            Separators.createDefaultInstance().withObjectNameValueSpacing(Separators.Spacing.AFTER)));

    private BenchJson() {}

    static String write(Object value) {
        return WRITER.writeValueAsString(plain(value)) + "\n";
    }

    static JsonNode read(InputStream in) throws IOException {
        return MAPPER.readTree(in);
    }

    private static Object plain(Object v) {
        return switch (v) {
            case Double d -> Double.isFinite(d) ? d : null;
            case Float f -> Float.isFinite(f) ? f : null;
            case Map<?, ?> m -> {
                Map<String, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
                yield out;
            }
            case List<?> l -> {
                List<Object> out = new ArrayList<>();
                l.forEach(x -> out.add(plain(x)));
                yield out;
            }
            case null, default -> v;
        };
    }
}
