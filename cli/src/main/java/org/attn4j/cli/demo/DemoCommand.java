package org.attn4j.cli.demo;

import java.io.PrintStream;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Command;
import org.attn4j.cli.ParsedArgs;

public final class DemoCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("demo", "not built yet");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) {
        throw new CliException("demo is not built yet");
    }
}
