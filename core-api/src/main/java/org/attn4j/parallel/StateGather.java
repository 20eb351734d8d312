package org.attn4j.parallel;

import java.util.List;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Moves the partial attention states of a context-parallel plan's shards to the owner (spec §12).
 * {@code partialO.get(s)} {@code [rows, Hq, Dvo]} and {@code partialLse.get(s)} {@code [rows, Hq]}
 * F32, contiguous, were computed on {@code placement.backend(s)} by work queued there;
 * {@code ownerO.get(s)} and {@code ownerLse.get(s)}, contiguous tensors of the same dtypes and
 * shapes on the owner's backend, receive them. Where a shard ran on the owner's backend the plan
 * passes the same tensor on both sides (its state was computed in place) and nothing moves.
 *
 * <p>When {@link #gather} returns, work the owner's backend queues next sees the gathered states
 * (the copies are done, or queued before it on the owner's stream). Failures are
 * {@link org.attn4j.error.BackendException}s naming the transport and its error.
 */
public interface StateGather {
    /**
     * The transport, in words.
     *
     * @return such as {@code in-process} or {@code nccl}
     */
    String name();

    /**
     * Brings every shard's partial state to the owner.
     *
     * @param placement  where each shard ran, and the owner
     * @param partialO   each shard's output, on its backend
     * @param partialLse each shard's log-sum-exp, on its backend
     * @param ownerO     where each shard's output goes, on the owner's backend
     * @param ownerLse   where each shard's log-sum-exp goes, on the owner's backend
     */
    void gather(ShardPlacement placement, List<Tensor> partialO, List<Tensor> partialLse, List<Tensor> ownerO,
                List<Tensor> ownerLse);

    /**
     * The gather of one process: nothing to do for shards on the owner's backend; others are
     * copied through the host (a download on the shard's backend, an upload on the owner's), which
     * waits for both. Right for logical shards and for the reference backend; on GPUs a
     * device-to-device transport (NCCL) is faster.
     *
     * @return the in-process gather, stateless
     */
    static StateGather inProcess() {
        return InProcessGather.INSTANCE;
    }
}

/** Host round trips for shards off the owner; nothing for shards on it. */
final class InProcessGather implements StateGather {
    static final InProcessGather INSTANCE = new InProcessGather();

    private InProcessGather() {}

    @Override
    public String name() {
        return "in-process";
    }

    @Override
    public void gather(ShardPlacement placement, List<Tensor> partialO, List<Tensor> partialLse, List<Tensor> ownerO,
                       List<Tensor> ownerLse) {
        for (int s = 0; s < placement.shardCount(); s++) {
            if (partialO.get(s) == ownerO.get(s) && partialLse.get(s) == ownerLse.get(s)) {
                continue;
            }
            move(placement, s, partialO.get(s), ownerO.get(s));
            move(placement, s, partialLse.get(s), ownerLse.get(s));
        }
    }

    private static void move(ShardPlacement placement, int s, Tensor from, Tensor to) {
        try (HostTensor host = placement.backend(s).download(from)) {
            placement.ownerBackend().upload(host, to);
        }
    }

    @Override
    public String toString() {
        return "StateGather.inProcess()";
    }
}
