package org.attn4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import org.attn4j.error.BackendException;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.error.InvalidArgumentException;

/**
 * Where a command prints, and how a failure is told: one line {@code attn4j <command>: <what>},
 * the stack trace only with {@code --verbose}. Failures of the user's own making (a missing
 * file, an invalid call, an unknown backend) read as plain sentences; anything else is named an
 * internal error.
 */
public record Console(PrintStream out, PrintStream err, boolean verbose) {

    /** Prints {@code t} as one line (plus the trace when verbose); returns exit status 1. */
    public int failure(String command, Throwable t) {
        err.println(command + ": " + describe(t));
        if (verbose) {
            t.printStackTrace(err);
        } else if (!expected(t)) {
            err.println(command + ": (--verbose prints the stack trace)");
        }
        err.flush();
        return Main.FAILED;
    }

    /** The one-line account of a failure. */
    static String describe(Throwable t) {
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            return describe(u.getCause());
        }
        return switch (t) {
            case NoSuchFileException e -> "no such file: " + e.getFile();
            case AccessDeniedException e -> "permission denied: " + e.getFile();
            case NotDirectoryException e -> "not a directory: " + e.getFile();
            case FileAlreadyExistsException e -> "already exists: " + e.getFile();
            case FileSystemException e -> e.getFile() + ": " + (e.getReason() == null ? e.getClass().getSimpleName()
                    : e.getReason());
            case OutOfMemoryError e -> "out of memory (" + firstLine(e.getMessage())
                    + "): the inputs need more than this JVM may use (raise -Xmx, or shrink them)";
            case StackOverflowError e -> "stack overflow: an input nested too deeply";
            case InvalidArgumentException e -> firstLine(e.getMessage());
            case CliException e -> firstLine(e.getMessage());
            case BackendUnavailableException e -> firstLine(e.getMessage());
            case BackendException e -> firstLine(e.getMessage());
            case IOException e -> firstLine(e.getMessage() == null ? e.toString() : e.getMessage());
            default -> "internal error: " + t.getClass().getName()
                    + (t.getMessage() == null ? "" : ": " + firstLine(t.getMessage()));
        };
    }

    /** Failures that need no stack trace to be understood. */
    static boolean expected(Throwable t) {
        Throwable c = t instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : t;
        return c instanceof CliException || c instanceof InvalidArgumentException || c instanceof IOException
                || c instanceof BackendUnavailableException || c instanceof BackendException
                || c instanceof OutOfMemoryError || c instanceof StackOverflowError;
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
