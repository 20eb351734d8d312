package org.attn4j.parallel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;

/**
 * Where the shards of a context-parallel plan run: shard {@code s} on {@code backend(s)} (the
 * same backend may run several shards: logical shards), the partial states merged on the
 * {@linkplain #ownerBackend() owner}, one of those backends, and moved there by a
 * {@link StateGather}.
 *
 * <p>Immutable and thread-safe; it holds the backends but does not own them (the caller closes
 * them, after the plans made with this placement).
 */
public final class ShardPlacement {
    private final List<AttentionBackend> backends;
    private final int owner;
    private final StateGather gather;

    private ShardPlacement(List<AttentionBackend> backends, int owner, StateGather gather) {
        this.backends = Collections.unmodifiableList(new ArrayList<>(backends));
        this.owner = owner;
        this.gather = gather;
    }

    /**
     * {@code shards} logical shards on one backend: every shard runs there, and the partial
     * states are computed in place in the owner's gather buffers (nothing moves).
     *
     * @param backend the backend that runs every shard and merges
     * @param shards  the number of shards, at least 1
     * @return the placement
     */
    public static ShardPlacement logical(AttentionBackend backend, int shards) {
        Args.notNull(backend, "backend");
        if (shards < 1) {
            throw InvalidArgumentException.expected("shards", ">= 1", shards);
        }
        return new ShardPlacement(Collections.nCopies(shards, backend), 0, StateGather.inProcess());
    }

    /**
     * Shard {@code s} on {@code backends.get(s)}, merged on {@code backends.get(owner)}.
     *
     * @param backends one backend per shard, in shard order (repeats allowed)
     * @param owner    the index of the shard whose backend gathers and merges
     * @param gather   how the partial states reach the owner
     * @return the placement
     */
    public static ShardPlacement of(List<AttentionBackend> backends, int owner, StateGather gather) {
        Args.notNull(backends, "backends");
        Args.notNull(gather, "gather");
        if (backends.isEmpty()) {
            throw InvalidArgumentException.expected("backends.size", ">= 1", 0);
        }
        for (int s = 0; s < backends.size(); s++) {
            Args.notNull(backends.get(s), "backends[" + s + "]");
        }
        if (owner < 0 || owner >= backends.size()) {
            throw InvalidArgumentException.outside("owner", owner, 0, backends.size());
        }
        return new ShardPlacement(backends, owner, gather);
    }

    /**
     * The number of shards.
     *
     * @return N
     */
    public int shardCount() {
        return backends.size();
    }

    /**
     * The backend that runs shard {@code shard}.
     *
     * @param shard the shard
     * @return its backend
     */
    public AttentionBackend backend(int shard) {
        if (shard < 0 || shard >= backends.size()) {
            throw InvalidArgumentException.outside("shard", shard, 0, backends.size());
        }
        return backends.get(shard);
    }

    /**
     * The backends, one per shard.
     *
     * @return an unmodifiable list in shard order
     */
    public List<AttentionBackend> backends() {
        return backends;
    }

    /**
     * The index of the shard whose backend gathers and merges.
     *
     * @return the owner shard
     */
    public int owner() {
        return owner;
    }

    /**
     * The backend that gathers the partial states and merges them into the result.
     *
     * @return {@code backend(owner())}
     */
    public AttentionBackend ownerBackend() {
        return backends.get(owner);
    }

    /**
     * Whether shard {@code shard} runs on the owner's backend (its state is then computed in place).
     *
     * @param shard the shard
     * @return true when {@code backend(shard)} is the owner's backend
     */
    public boolean onOwner(int shard) {
        return backend(shard) == ownerBackend();
    }

    /**
     * How the partial states reach the owner.
     *
     * @return the gather
     */
    public StateGather gather() {
        return gather;
    }

    @Override
    public String toString() {
        return "ShardPlacement[" + backends.size() + " shards on " + backends.stream().distinct().count()
                + " backends, owner " + owner + ", gather " + gather.name() + "]";
    }
}
