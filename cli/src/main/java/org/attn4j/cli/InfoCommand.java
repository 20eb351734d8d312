package org.attn4j.cli;

import java.io.PrintStream;
import org.attn4j.Backends;

/** {@code attn4j info}: providers, probes, devices and capabilities. */
public final class InfoCommand implements Command {
    @Override
    public ArgSpec spec() {
        return new ArgSpec("info", "Lists every backend provider with its probe (available, or the reasons it is not),\n"
                + "its devices and, for available backends, the capabilities of an opened session.")
                .flag("no-open", "probe only; do not open available backends to list capabilities");
    }

    @Override
    public int execute(ParsedArgs args, PrintStream out, PrintStream err) {
        out.println("attn4j on Java " + Runtime.version() + ", " + System.getProperty("os.name") + " "
                + System.getProperty("os.arch"));
        out.print(args.flag("no-open") ? Backends.describe() : Backends.describeWithCapabilities());
        return 0;
    }
}
