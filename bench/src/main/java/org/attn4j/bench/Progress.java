package org.attn4j.bench;

import java.io.PrintStream;

/**
 * A progress bar on stderr for long runs; plain lines when stderr is not a terminal.
 *
 * <p>Not thread-safe: one thread updates it.
 */
public final class Progress {
    private final PrintStream err;
    private final boolean interactive;
    private final int total;
    private int done;
    private String lastLabel = "";

    /**
     * A bar over {@code total} steps.
     *
     * @param err         where the bar is drawn
     * @param total       steps the run takes (at least 1 is assumed)
     * @param interactive true to redraw one line in place (a terminal), false for a line per phase
     */
    public Progress(PrintStream err, int total, boolean interactive) {
        this.err = err;
        this.total = Math.max(1, total);
        this.interactive = interactive;
    }

    /**
     * Shows {@code label} as the current step; {@code fraction} is progress within it.
     *
     * @param label    what the step is doing
     * @param fraction progress within the step, clamped to [0, 1]
     */
    public void update(String label, double fraction) {
        double overall = Math.min(1, (done + Math.max(0, Math.min(1, fraction))) / total);
        if (interactive) {
            int width = 30;
            int filled = (int) Math.round(overall * width);
            err.print("\r[" + "=".repeat(filled) + " ".repeat(width - filled) + "] "
                    + String.format("%3d%% ", Math.round(overall * 100)) + pad(label));
            err.flush();
        } else {
            // without a terminal, one line per phase: drop a trailing "i/n" counter
            String phase = label.replaceAll(": \\d+/\\d+$", ": timing");
            if (!phase.equals(lastLabel)) {
                err.println("bench [" + (done + 1) + "/" + total + "] " + phase);
            }
            lastLabel = phase;
            return;
        }
        lastLabel = label;
    }

    /** Marks the current step done; the next update belongs to the next step. */
    public void stepDone() {
        done++;
    }

    /** Clears the bar's line (on a terminal) at the end of the run. */
    public void finish() {
        if (interactive) {
            err.print("\r" + " ".repeat(110) + "\r");
            err.flush();
        }
    }

    private static String pad(String s) {
        String t = s.length() > 70 ? s.substring(0, 70) : s;
        return t + " ".repeat(70 - t.length());
    }
}
