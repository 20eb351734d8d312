package org.attn4j.cli;

/** {@code --help} was given: print the text and exit 0. */
public final class HelpRequested extends RuntimeException {
    public HelpRequested(String text) {
        super(text, null, false, false);
    }
}
