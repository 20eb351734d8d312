package org.attn4j.cli;

import java.util.concurrent.Callable;
import org.attn4j.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code attn4j info}: providers, probes, devices and capabilities. */
@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = Version.class,
        header = "every backend provider, its probe, devices and capabilities",
        description = {"Lists every backend provider with its probe (available, or the reasons it is not), its "
                + "devices and, for available backends, the capabilities of an opened session."})
public final class InfoCommand implements Callable<Integer> {
    private final Console console;

    @Option(names = "--no-open", description = "probe only; do not open available backends to list capabilities")
    boolean noOpen;

    public InfoCommand(Console console) {
        this.console = console;
    }

    @Override
    public Integer call() {
        String version = Version.projectVersion();
        console.out().println("attn4j " + (version == null ? "" : version + " ") + "on Java " + Runtime.version()
                + ", " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        console.out().print(noOpen ? Backends.describe() : Backends.describeWithCapabilities());
        return 0;
    }
}
