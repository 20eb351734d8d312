package org.attn4j.cli.run;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.tensor.HostTensor;

/**
 * What a call produced: named host tensors (each becomes {@code <name>.npy}), the time of the
 * call itself, notes on how it ran and extra fields for result.json.
 */
final class RunResult {
    final Map<String, HostTensor> outputs = new LinkedHashMap<>();
    final List<String> notes = new ArrayList<>();
    final Map<String, Object> extra = new LinkedHashMap<>();
    double millis;

    RunResult put(String name, HostTensor t) {
        outputs.put(name, t);
        return this;
    }
}
