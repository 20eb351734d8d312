package org.attn4j.cli.bench;

import java.io.PrintStream;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Command;
import org.attn4j.cli.ParsedArgs;

public final class BenchCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("bench", "not built yet");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) {
        throw new CliException("bench is not built yet");
    }
}
