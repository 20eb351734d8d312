package org.attn4j.conformance.harness;

/** Thrown by a check when the backend (or the oracle) cannot take this case; counted as a reasoned skip. */
public final class CaseSkipped extends RuntimeException {
    public CaseSkipped(String reason) {
        super(reason, null, false, false);
    }

    public String reason() {
        return getMessage();
    }
}
