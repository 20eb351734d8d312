package org.attn4j.cli;

/** A failure the user can act on (bad input file, failed check): printed as one line, exit status 1. */
public class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
