package org.attn4j.cli;

/** A command-line mistake: the message, then the command's usage; exit status 2. */
public class UsageException extends RuntimeException {
    private final String usage;

    public UsageException(String message, String usage) {
        super(message);
        this.usage = usage;
    }

    public String usage() {
        return usage;
    }
}
