package org.attn4j.opencl;

import org.attn4j.error.BackendException;
import org.jocl.CL;
import org.jocl.CLException;

/** Turns JOCL's exceptions into {@link BackendException}s that name the CL call and its code. */
final class ClCalls {
    static final String BACKEND = "opencl";

    private ClCalls() {}

    /** A CL call that returns nothing. */
    interface ClAction {
        void run();
    }

    /** A CL call that returns a value. */
    interface ClFunction<T> {
        T get();
    }

    static void call(String what, ClAction action) {
        try {
            action.run();
        } catch (CLException e) {
            throw failure(what, e);
        }
    }

    static <T> T call(String what, ClFunction<T> function) {
        try {
            return function.get();
        } catch (CLException e) {
            throw failure(what, e);
        }
    }

    static BackendException failure(String what, CLException e) {
        return new BackendException(BACKEND, CL.stringFor_errorCode(e.getStatus()) + " (" + e.getStatus() + ") in "
                + what, e);
    }
}
