package org.attn4j.cli;

import java.io.PrintStream;

/** One subcommand of {@code attn4j}. */
public interface Command {
    ArgSpec spec();

    /** Runs with parsed options; returns the exit status. */
    int execute(ParsedArgs args, PrintStream out, PrintStream err) throws Exception;
}
