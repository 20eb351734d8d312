package org.attn4j.cli.npy;

import org.attn4j.cli.CliException;

/** A malformed or mismatched {@code .npy} file; the message names the file and what was expected. */
public final class NpyException extends CliException {
    public NpyException(String message) {
        super(message);
    }
}
