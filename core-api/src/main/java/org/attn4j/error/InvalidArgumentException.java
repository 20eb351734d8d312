package org.attn4j.error;

/**
 * A call rejected before any device work: the message names the argument, the expected and the
 * actual value. Every output buffer of the call is left untouched.
 *
 * <p>Immutable and thread-safe once thrown.
 */
public class InvalidArgumentException extends IllegalArgumentException {
    /** The argument the message is about. */
    private final String argument;

    /**
     * {@code argument: message}.
     *
     * @param argument the argument the message is about, such as {@code kvIndices[17]}
     * @param message  what is wrong with it
     */
    public InvalidArgumentException(String argument, String message) {
        super(argument + ": " + message);
        this.argument = argument;
    }

    /**
     * {@code argument: expected E, actual A}.
     *
     * @param argument the argument
     * @param expected what it should be
     * @param actual   what it is
     * @return the exception, to throw
     */
    public static InvalidArgumentException expected(String argument, Object expected, Object actual) {
        return new InvalidArgumentException(argument, "expected " + expected + ", actual " + actual);
    }

    /**
     * {@code name = value is outside [lo, hi)} — the form used for indices and ids.
     *
     * @param name  the index or id, such as {@code kvIndices[17]}
     * @param value its value
     * @param lo    the smallest allowed value
     * @param hi    one past the largest allowed value
     * @return the exception, to throw
     */
    public static InvalidArgumentException outside(String name, long value, long lo, long hi) {
        return new InvalidArgumentException(name, name + " = " + value + " is outside [" + lo + ", " + hi + ")");
    }

    /**
     * The argument the message is about.
     *
     * @return such as {@code kvIndices[17]} or {@code q}
     */
    public String argument() {
        return argument;
    }
}
