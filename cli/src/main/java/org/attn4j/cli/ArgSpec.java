package org.attn4j.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The options one command accepts, and the parser for them: {@code --name value},
 * {@code --name=value}, flags, repeatable options and {@code --help}. Hand-rolled to keep the
 * command line free of dependencies.
 */
public final class ArgSpec {
    /** One option; {@code valueName} null makes it a flag. */
    public record Option(String name, String valueName, String help, boolean repeatable, String defaultValue) {
        boolean isFlag() {
            return valueName == null;
        }
    }

    private final String command;
    private final String summary;
    private final Map<String, Option> options = new LinkedHashMap<>();

    public ArgSpec(String command, String summary) {
        this.command = command;
        this.summary = summary;
    }

    public ArgSpec flag(String name, String help) {
        return add(new Option(name, null, help, false, null));
    }

    public ArgSpec option(String name, String valueName, String help) {
        return add(new Option(name, valueName, help, false, null));
    }

    public ArgSpec option(String name, String valueName, String help, String defaultValue) {
        return add(new Option(name, valueName, help, false, defaultValue));
    }

    public ArgSpec repeatable(String name, String valueName, String help) {
        return add(new Option(name, valueName, help, true, null));
    }

    private ArgSpec add(Option o) {
        options.put(o.name(), o);
        return this;
    }

    public String command() {
        return command;
    }

    /** Parses {@code args}; throws {@link UsageException} on a mistake, {@link HelpRequested} for --help. */
    public ParsedArgs parse(String[] args) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                throw new HelpRequested(usage());
            }
            if (!a.startsWith("--") || a.length() == 2) {
                throw new UsageException("unexpected argument '" + a + "'", usage());
            }
            String name = a.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            Option o = options.get(name);
            if (o == null) {
                throw new UsageException("unknown option --" + name + suggestion(name), usage());
            }
            String value;
            if (o.isFlag()) {
                if (inline != null && !inline.equals("true") && !inline.equals("false")) {
                    throw new UsageException("--" + name + " is a flag: expected no value, true or false, actual '"
                            + inline + "'", usage());
                }
                value = inline == null ? "true" : inline;
            } else if (inline != null) {
                value = inline;
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new UsageException("--" + name + " needs a value (" + o.valueName() + ")", usage());
            }
            List<String> list = values.computeIfAbsent(name, k -> new ArrayList<>());
            if (!o.repeatable() && !list.isEmpty()) {
                throw new UsageException("--" + name + " given twice ('" + list.get(0) + "', '" + value + "')",
                        usage());
            }
            list.add(value);
        }
        for (Option o : options.values()) {
            if (o.defaultValue() != null && !values.containsKey(o.name())) {
                values.put(o.name(), List.of(o.defaultValue()));
            }
        }
        return new ParsedArgs(command, values, usage());
    }

    private String suggestion(String name) {
        String best = null;
        int bestDistance = 3;
        for (String candidate : options.keySet()) {
            int d = distance(name, candidate);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        return best == null ? "" : " (did you mean --" + best + "?)";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    public String usage() {
        StringBuilder sb = new StringBuilder();
        sb.append("usage: attn4j ").append(command).append(options.isEmpty() ? "" : " [options]").append('\n');
        sb.append(summary).append('\n');
        if (!options.isEmpty()) {
            sb.append("\noptions:\n");
        }
        for (Option o : options.values()) {
            String left = "  --" + o.name() + (o.isFlag() ? "" : " " + o.valueName());
            sb.append(left);
            sb.append(" ".repeat(Math.max(2, 30 - left.length())));
            sb.append(o.help());
            if (o.repeatable()) {
                sb.append(" (repeatable)");
            }
            if (o.defaultValue() != null) {
                sb.append(" [default ").append(o.defaultValue()).append(']');
            }
            sb.append('\n');
        }
        sb.append("  --help                        this text\n");
        return sb.toString();
    }
}
