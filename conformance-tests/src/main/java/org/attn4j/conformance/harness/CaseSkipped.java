package org.attn4j.conformance.harness;

/**
 * Thrown by a check when the backend (or the oracle) cannot take this case; counted as a reasoned
 * skip. Carries no stack trace: it is an outcome, not an error.
 */
public final class CaseSkipped extends RuntimeException {
    /**
     * A skip.
     *
     * @param reason why the case cannot be taken, as the report lists it
     */
    public CaseSkipped(String reason) {
        super(reason, null, false, false);
    }

    /**
     * Why the case was skipped.
     *
     * @return the reason
     */
    public String reason() {
        return getMessage();
    }
}
