package org.attn4j.error;

/**
 * A call rejected before any device work: the message names the argument, the expected and the
 * actual value. Every output buffer of the call is left untouched.
 */
public class InvalidArgumentException extends IllegalArgumentException {
    private final String argument;

    public InvalidArgumentException(String argument, String message) {
        super(argument + ": " + message);
        this.argument = argument;
    }

    /** {@code argument: expected E, actual A}. */
    public static InvalidArgumentException expected(String argument, Object expected, Object actual) {
        return new InvalidArgumentException(argument, "expected " + expected + ", actual " + actual);
    }

    /** {@code name = value is outside [lo, hi)} — the form used for indices and ids. */
    public static InvalidArgumentException outside(String name, long value, long lo, long hi) {
        return new InvalidArgumentException(name, name + " = " + value + " is outside [" + lo + ", " + hi + ")");
    }

    /** The argument the message is about, such as {@code kvIndices[17]} or {@code q}. */
    public String argument() {
        return argument;
    }
}
