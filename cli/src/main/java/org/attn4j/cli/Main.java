package org.attn4j.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import org.attn4j.cli.bench.BenchCommand;
import org.attn4j.cli.bench.BenchKernelsCommand;
import org.attn4j.cli.demo.DemoCommand;
import org.attn4j.cli.run.RunCommand;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code attn4j info|demo|bench|bench-kernels|run}: parses the command line with picocli, runs the subcommand
 * and maps every failure to one line and an exit status (0 ok, 1 a failed call or check, 2 a
 * command-line mistake). {@code --verbose} adds the stack trace.
 */
public final class Main {
    /** Exit status for command-line mistakes. */
    public static final int USAGE = 2;
    /** Exit status for a failed call, an unreadable input or a failed check. */
    public static final int FAILED = 1;

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command line; returns the exit status instead of exiting (tests call this). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Console console = new Console(out, err, Arrays.asList(args).contains("--verbose"));
        CommandLine root = commandLine(console);
        try {
            return root.execute(args);
        } catch (Throwable t) {
            // Errors (OutOfMemoryError, StackOverflowError) pass through picocli's handlers.
            return console.failure(commandName(root, args), t);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The command tree with its handlers; exposed for tests of the help texts. */
    static CommandLine commandLine(Console console) {
        CommandLine root = new CommandLine(new Attn4jCommand(console));
        for (Object sub : List.of(new InfoCommand(console), new DemoCommand(console), new BenchCommand(console),
                new BenchKernelsCommand(console), new RunCommand(console))) {
            root.addSubcommand(sub);
        }
        root.setOut(new PrintWriter(console.out(), true));
        root.setErr(new PrintWriter(console.err(), true));
        root.setUsageHelpWidth(100);
        root.setUsageHelpLongOptionsMaxWidth(28);
        root.setExecutionExceptionHandler((e, cl, parsed) -> console.failure(name(cl), e));
        root.setParameterExceptionHandler(Main::usageMistake);
        return root;
    }

    /** One line naming the mistake (with suggestions for misspellings) and where the options are listed. */
    private static int usageMistake(ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        String message = e.getMessage();
        if (e instanceof UnmatchedArgumentException u && cl.getParent() == null && !u.getUnmatched().isEmpty()
                && !u.getUnmatched().getFirst().startsWith("-")) {
            message = "unknown command '" + u.getUnmatched().getFirst() + "'";
        }
        if (e instanceof UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            message += " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)";
        }
        err.println(name(cl) + ": " + message);
        err.println("see '" + name(cl) + " --help'" + (cl.getParent() == null ? " for the commands" : " for its options"));
        err.flush();
        return USAGE;
    }

    private static String name(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName();
    }

    private static String commandName(CommandLine root, String[] args) {
        if (args.length > 0 && root.getSubcommands().containsKey(args[0])) {
            return "attn4j " + args[0];
        }
        return "attn4j";
    }
}
