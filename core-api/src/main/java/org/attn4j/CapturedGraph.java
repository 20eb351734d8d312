package org.attn4j;

import java.util.List;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.CallScope;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.KernelGraph;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.ResourceGuard;

/**
 * Device work recorded once by {@link AttentionBackend#captureGraph} and replayed as a whole:
 * a decode step's RoPE, append and attention for every layer in one launch. A replay reads the
 * captured tensors as they are when it runs, so an engine writes the new positions and page ids
 * into the same device tensors between replays. Replays are rejected once a tensor or plan the
 * capture used is closed.
 *
 * <p>Thread-safe; {@link #close} waits for a replay being queued.
 */
public final class CapturedGraph implements AutoCloseable {
    private final AttentionBackend owner;
    private final KernelGraph graph;
    private final List<Object> used;
    private final ResourceGuard guard = new ResourceGuard();
    private final LeakGuard.Registration free;

    CapturedGraph(AttentionBackend owner, KernelGraph graph, List<Object> used) {
        this.owner = owner;
        this.graph = graph;
        // Each tensor and plan once, in capture order.
        java.util.Set<Object> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        this.used = used.stream().filter(seen::add).toList();
        this.free = LeakGuard.register(this, "a captured graph", graph::close);
    }

    /** Queues one replay on the backend's stream; returns without waiting. */
    public void replay() {
        try (CallScope c = owner.call("replay")) {
            c.hold(guard, "graph");
            for (Object o : used) {
                if (o instanceof BackendTensor t) {
                    c.tensor("a tensor the graph captured (" + t + ")", t);
                } else if (o instanceof ResourceGuard g) {
                    if (g.isClosed()) {
                        throw new InvalidArgumentException("graph", "a plan it captured is closed");
                    }
                }
            }
            graph.launch();
        } catch (Error e) {
            throw owner.failure("replay", e);
        }
    }

    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            free.run();
        }
    }
}
