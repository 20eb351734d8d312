package org.attn4j.cli.run;

import java.io.PrintStream;
import org.attn4j.cli.ArgSpec;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Command;
import org.attn4j.cli.ParsedArgs;

public final class RunCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("run", "not built yet");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) {
        throw new CliException("run is not built yet");
    }
}
