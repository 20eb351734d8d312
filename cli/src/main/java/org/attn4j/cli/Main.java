package org.attn4j.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.cli.bench.BenchCommand;
import org.attn4j.cli.demo.DemoCommand;
import org.attn4j.cli.run.RunCommand;

/** {@code attn4j info|demo|bench|run}: dispatches to the subcommand and maps failures to exit codes. */
public final class Main {
    /** Exit status for command-line mistakes. */
    public static final int USAGE = 2;

    private static final Map<String, Supplier<Command>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("info", InfoCommand::new);
        COMMANDS.put("demo", DemoCommand::new);
        COMMANDS.put("bench", BenchCommand::new);
        COMMANDS.put("run", RunCommand::new);
    }

    private Main() {}

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command line; returns the exit status instead of exiting (tests call this). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            (args.length == 0 ? err : out).print(usage());
            return args.length == 0 ? USAGE : 0;
        }
        Supplier<Command> factory = COMMANDS.get(args[0]);
        if (factory == null) {
            err.println("attn4j: unknown command '" + args[0] + "'");
            err.print(usage());
            return USAGE;
        }
        Command command = factory.get();
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        try {
            return command.execute(command.spec().parse(rest), out, err);
        } catch (HelpRequested h) {
            out.print(h.getMessage());
            return 0;
        } catch (UsageException u) {
            err.println("attn4j " + args[0] + ": " + u.getMessage());
            err.print(u.usage());
            return USAGE;
        } catch (InvalidArgumentException | CliException e) {
            err.println("attn4j " + args[0] + ": " + e.getMessage());
            return 1;
        } catch (Exception e) {
            err.println("attn4j " + args[0] + ": " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    static String usage() {
        return """
                usage: attn4j <command> [options]   (attn4j <command> --help for its options)

                commands:
                  info    every backend provider, its probe (available or why not), devices, capabilities
                  demo    a small continuous-batching session on the best backend, checked against the reference
                  bench   spec §10 workloads and ad-hoc shapes: time, bandwidth or FLOP rate, CSV/JSON/PNG
                  run     one operation on NumPy .npy inputs described by a JSON file; writes o and lse as .npy

                backend selection: -Dattn4j.backend=cuda,opencl or ATTN4J_BACKEND=...
                """;
    }
}
