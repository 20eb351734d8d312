package org.attn4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.parallel.ShardPlacement;
import org.attn4j.parallel.StateGather;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.Tensor;

/**
 * A {@link StateGather} that moves partial attention states between CUDA devices with NCCL
 * (spec §12): one communicator per device of one process ({@code ncclCommInitAll}), and per
 * gather one group of {@code ncclSend} on each shard's stream and {@code ncclRecv} on the
 * owner's, so the copies run after the shards' attention and before the owner's merge without the
 * host waiting. NCCL is loaded from {@code libnccl.so.2} through the foreign function API when
 * first needed; without it {@link #probe()} is unavailable with the reason.
 *
 * <p>Open it over the backends of a placement, one CUDA backend per device
 * ({@code Backends.openPerDevice("cuda", options)}); close it after the plans that use it. Calls
 * are serialised on this object. NCCL's errors surface as {@link org.attn4j.error.BackendException}s
 * with NCCL's error string.
 */
public final class NcclStateGather implements StateGather, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final NcclLibrary nccl;
    private final List<AttentionBackend> ranks;
    private final Map<AttentionBackend, Integer> rankOf = new IdentityHashMap<>();
    private final Comms comms;
    private final Cleaner.Cleanable cleanable;

    /** The communicators, destroyed once, by close or after garbage collection. */
    private static final class Comms implements Runnable {
        final NcclLibrary nccl;
        final MemorySegment[] handles;

        Comms(NcclLibrary nccl, MemorySegment[] handles) {
            this.nccl = nccl;
            this.handles = handles;
        }

        @Override
        public void run() {
            for (MemorySegment c : handles) {
                try {
                    int rc = (int) nccl.commDestroy.invokeExact(c);
                    if (rc != 0) {
                        System.getLogger(NcclStateGather.class.getName()).log(System.Logger.Level.WARNING,
                                "ncclCommDestroy failed: " + nccl.errorString(rc));
                    }
                } catch (Throwable t) {
                    System.getLogger(NcclStateGather.class.getName()).log(System.Logger.Level.WARNING,
                            "ncclCommDestroy failed", t);
                }
            }
        }
    }

    private NcclStateGather(NcclLibrary nccl, List<AttentionBackend> ranks, MemorySegment[] handles) {
        this.nccl = nccl;
        this.ranks = List.copyOf(ranks);
        for (int r = 0; r < this.ranks.size(); r++) {
            rankOf.put(this.ranks.get(r), r);
        }
        this.comms = new Comms(nccl, handles);
        this.cleanable = CLEANER.register(this, comms);
    }

    /**
     * Whether NCCL can be used here: available with its version, or unavailable with the reason
     * (no {@code libnccl.so.2}, a missing symbol).
     *
     * @return the probe; its devices list holds NCCL's version when available
     */
    public static Probe probe() {
        NcclLibrary lib = NcclLibrary.get();
        if (lib == null) {
            return Probe.unavailable(NcclLibrary.unavailableReason());
        }
        int v = lib.version;
        return Probe.available(List.of("NCCL " + v / 10000 + "." + (v / 100) % 100 + "." + v % 100));
    }

    /**
     * Opens one NCCL communicator per backend, rank {@code r} on {@code backends.get(r)}'s device.
     *
     * @param backends CUDA backends on distinct devices of this process, at least one
     * @return the gather, closed by the caller after the plans that use it
     * @throws BackendUnavailableException when NCCL cannot be loaded
     */
    public static NcclStateGather open(List<AttentionBackend> backends) {
        if (backends == null || backends.isEmpty()) {
            throw InvalidArgumentException.expected("backends.size", ">= 1", backends == null ? "null" : 0);
        }
        NcclLibrary lib = NcclLibrary.get();
        if (lib == null) {
            throw new BackendUnavailableException("nccl is unavailable: " + NcclLibrary.unavailableReason());
        }
        int n = backends.size();
        int[] devices = new int[n];
        for (int r = 0; r < n; r++) {
            AttentionBackend be = backends.get(r);
            if (be == null || !CudaBackendProvider.ID.equals(be.id())) {
                throw InvalidArgumentException.expected("backends[" + r + "]", "a CUDA backend",
                        be == null ? "null" : be.id());
            }
            devices[r] = be.nativeHandles().get("device").intValue();
            for (int p = 0; p < r; p++) {
                if (devices[p] == devices[r]) {
                    throw new InvalidArgumentException("backends[" + r + "]", "device " + devices[r] + " is already "
                            + "rank " + p + "; NCCL takes one rank per device (run logical shards on it instead)");
                }
            }
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment comms = a.allocate(ValueLayout.ADDRESS, n);
            MemorySegment devlist = a.allocateFrom(ValueLayout.JAVA_INT, devices);
            lib.check((int) lib.commInitAll.invokeExact(comms, n, devlist), "ncclCommInitAll(" + n + " devices)");
            MemorySegment[] handles = new MemorySegment[n];
            for (int r = 0; r < n; r++) {
                handles[r] = comms.getAtIndex(ValueLayout.ADDRESS, r);
            }
            return new NcclStateGather(lib, backends, handles);
        } catch (Throwable t) {
            throw NcclLibrary.failure("ncclCommInitAll", t);
        }
    }

    @Override
    public String name() {
        return "nccl";
    }

    /**
     * The backends, by rank.
     *
     * @return one per rank
     */
    public List<AttentionBackend> ranks() {
        return ranks;
    }

    @Override
    public synchronized void gather(ShardPlacement placement, List<Tensor> partialO, List<Tensor> partialLse,
                                    List<Tensor> ownerO, List<Tensor> ownerLse) {
        int ownerRank = rank(placement.ownerBackend(), "placement.owner");
        List<long[]> moves = new ArrayList<>(); // {srcRank, src, dst, bytes}
        for (int s = 0; s < placement.shardCount(); s++) {
            if (partialO.get(s) == ownerO.get(s) && partialLse.get(s) == ownerLse.get(s)) {
                continue;
            }
            int src = rank(placement.backend(s), "placement.backend(" + s + ")");
            if (src == ownerRank) {
                throw new InvalidArgumentException("partialO[" + s + "]", "a shard on the owner's backend is computed "
                        + "in place; NCCL moves states between devices only");
            }
            moves.add(move(src, partialO.get(s), ownerO.get(s), "o[" + s + "]"));
            moves.add(move(src, partialLse.get(s), ownerLse.get(s), "lse[" + s + "]"));
        }
        if (moves.isEmpty()) {
            return;
        }
        MemorySegment ownerStream = stream(ranks.get(ownerRank));
        try {
            nccl.check((int) nccl.groupStart.invokeExact(), "ncclGroupStart");
            RuntimeException failed = null;
            try {
                for (long[] m : moves) {
                    int src = (int) m[0];
                    nccl.check((int) nccl.send.invokeExact(MemorySegment.ofAddress(m[1]), m[3], NcclLibrary.NCCL_INT8,
                            ownerRank, comms.handles[src], stream(ranks.get(src))), "ncclSend(rank " + src + ")");
                    nccl.check((int) nccl.recv.invokeExact(MemorySegment.ofAddress(m[2]), m[3], NcclLibrary.NCCL_INT8,
                            src, comms.handles[ownerRank], ownerStream), "ncclRecv(rank " + ownerRank + ")");
                }
            } catch (RuntimeException e) {
                failed = e;
            }
            int rc = (int) nccl.groupEnd.invokeExact();
            if (failed != null) {
                throw failed;
            }
            nccl.check(rc, "ncclGroupEnd");
        } catch (Throwable t) {
            throw NcclLibrary.failure("nccl gather", t);
        }
    }

    private long[] move(int src, Tensor from, Tensor to, String what) {
        if (from.byteSize() != to.byteSize() || !from.isContiguous() || !to.isContiguous()) {
            throw new InvalidArgumentException(what, "source and destination must be contiguous and of one size, "
                    + "actual " + from.byteSize() + " and " + to.byteSize() + " bytes");
        }
        return new long[] {src, CudaMemory.address(from), CudaMemory.address(to), from.byteSize()};
    }

    private int rank(AttentionBackend be, String name) {
        Integer r = rankOf.get(be);
        if (r == null) {
            throw new InvalidArgumentException(name, "is not one of this gather's " + ranks.size() + " backends");
        }
        return r;
    }

    private static MemorySegment stream(AttentionBackend be) {
        return MemorySegment.ofAddress(be.nativeHandles().get("stream"));
    }

    /** Destroys the communicators; the backends stay open. */
    @Override
    public void close() {
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "NcclStateGather[" + ranks.size() + " ranks]";
    }
}
