package org.attn4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.attn4j.error.BackendException;

/**
 * A small binding to NCCL ({@code libnccl.so.2}) through the foreign function API: the calls a
 * state gather needs. Loaded once, lazily; where the library or a symbol is missing the binding
 * is unavailable with the reason, and nothing is thrown at class load.
 */
final class NcclLibrary {
    /** {@code ncclInt8}: the gather moves bytes. */
    static final int NCCL_INT8 = 0;
    /** {@code sizeof(ncclUniqueId)}. */
    static final int UNIQUE_ID_BYTES = 128;

    private static final String NAME = "libnccl.so.2";
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;
    private static final ValueLayout ADDRESS = ValueLayout.ADDRESS;

    final MethodHandle getVersion;
    final MethodHandle getUniqueId;
    final MethodHandle commInitRank;
    final MethodHandle commInitAll;
    final MethodHandle groupStart;
    final MethodHandle groupEnd;
    final MethodHandle send;
    final MethodHandle recv;
    final MethodHandle commDestroy;
    final MethodHandle getErrorString;
    final int version;

    private NcclLibrary(SymbolLookup lookup) throws Throwable {
        Linker linker = Linker.nativeLinker();
        getVersion = handle(linker, lookup, "ncclGetVersion", FunctionDescriptor.of(INT, ADDRESS));
        getUniqueId = handle(linker, lookup, "ncclGetUniqueId", FunctionDescriptor.of(INT, ADDRESS));
        commInitRank = handle(linker, lookup, "ncclCommInitRank", FunctionDescriptor.of(INT, ADDRESS, INT,
                java.lang.foreign.MemoryLayout.structLayout(java.lang.foreign.MemoryLayout.sequenceLayout(
                        UNIQUE_ID_BYTES, ValueLayout.JAVA_BYTE)), INT));
        commInitAll = handle(linker, lookup, "ncclCommInitAll", FunctionDescriptor.of(INT, ADDRESS, INT, ADDRESS));
        groupStart = handle(linker, lookup, "ncclGroupStart", FunctionDescriptor.of(INT));
        groupEnd = handle(linker, lookup, "ncclGroupEnd", FunctionDescriptor.of(INT));
        send = handle(linker, lookup, "ncclSend", FunctionDescriptor.of(INT, ADDRESS, SIZE_T, INT, INT, ADDRESS,
                ADDRESS));
        recv = handle(linker, lookup, "ncclRecv", FunctionDescriptor.of(INT, ADDRESS, SIZE_T, INT, INT, ADDRESS,
                ADDRESS));
        commDestroy = handle(linker, lookup, "ncclCommDestroy", FunctionDescriptor.of(INT, ADDRESS));
        getErrorString = handle(linker, lookup, "ncclGetErrorString", FunctionDescriptor.of(ADDRESS, INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(INT);
            check((int) getVersion.invokeExact(v), "ncclGetVersion");
            version = v.get(INT, 0);
        }
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        MemorySegment symbol = lookup.find(name).orElseThrow(() -> new IllegalStateException(NAME + " has no symbol "
                + name));
        return linker.downcallHandle(symbol, fd);
    }

    /** The binding, or why there is none; computed once. */
    private static final class Holder {
        static final NcclLibrary LIBRARY;
        static final String REASON;

        static {
            NcclLibrary lib = null;
            String reason = null;
            try {
                lib = new NcclLibrary(SymbolLookup.libraryLookup(NAME, Arena.global()));
            } catch (Throwable t) { // a missing library, symbol or native access: unavailable, never an Error
                reason = NAME + " could not be loaded: " + t.getClass().getSimpleName()
                        + (t.getMessage() == null ? "" : ": " + t.getMessage().lines().findFirst().orElse(""));
            }
            LIBRARY = lib;
            REASON = reason;
        }
    }

    /** The loaded binding, or null when unavailable ({@link #unavailableReason()}). */
    static NcclLibrary get() {
        return Holder.LIBRARY;
    }

    /** Why NCCL is unavailable, or null when it is loaded. */
    static String unavailableReason() {
        return Holder.REASON;
    }

    /** Throws a {@link BackendException} naming the call and NCCL's error string unless {@code rc} is ncclSuccess. */
    void check(int rc, String call) {
        if (rc != 0) {
            throw new BackendException(CudaBackendProvider.ID, call + " failed: " + errorString(rc)
                    + " (ncclResult_t " + rc + ")");
        }
    }

    String errorString(int rc) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(rc);
            return s.equals(MemorySegment.NULL) ? "unknown error" : s.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return "error " + rc;
        }
    }

    /** Wraps a throwable from a downcall (which declares Throwable) as the project's exception. */
    static RuntimeException failure(String call, Throwable t) {
        if (t instanceof BackendException b) {
            return b;
        }
        if (t instanceof RuntimeException r && !(t instanceof IllegalStateException)) {
            return r;
        }
        return new BackendException(CudaBackendProvider.ID, call + " failed: " + t, t);
    }
}
