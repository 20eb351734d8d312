package org.attn4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** The top of the command tree: {@code attn4j [--version] [--verbose] <command>}. */
@Command(name = "attn4j", mixinStandardHelpOptions = true, versionProvider = Version.class,
        synopsisSubcommandLabel = "<command>",
        description = "Attention kernels on the JVM: backends, a serving demo, benchmarks, and single calls on "
                + "NumPy files.",
        commandListHeading = "%nCommands:%n",
        footer = {"", "Backend selection: -Dattn4j.backend=cuda,opencl or ATTN4J_BACKEND=... (or --backend where "
                + "offered).", "Exit status: 0 ok, 1 a failed call, input or check, 2 a command-line mistake."})
public final class Attn4jCommand implements Callable<Integer> {
    private final Console console;

    @Spec
    CommandSpec spec;

    /** Declared here for the help text; {@link Main} reads it before parsing so failures while parsing see it too. */
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "on failure, print the stack trace after the one-line message")
    boolean verbose;

    Attn4jCommand(Console console) {
        this.console = console;
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(console.err());
        return Main.USAGE;
    }
}
