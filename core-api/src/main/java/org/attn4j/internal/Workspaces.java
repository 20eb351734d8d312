package org.attn4j.internal;

import java.util.Map;
import java.util.WeakHashMap;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.TensorMemory;

/**
 * Which plan holds each caller workspace: making a plan in a workspace retires the plan made
 * there before, whose runs are then rejected instead of reading a schedule that is no longer
 * theirs. Keyed by the workspace's memory and offset, so views of the same bytes count as one.
 * Thread-safe.
 */
public final class Workspaces {
    private final Map<TensorMemory, Map<Long, Long>> tenants = new WeakHashMap<>();
    private long next;

    /** A plan's hold on its workspace. */
    public final class Claim {
        private final BackendTensor tensor;
        private final long generation;

        private Claim(BackendTensor tensor, long generation) {
            this.tensor = tensor;
            this.generation = generation;
        }

        public BackendTensor tensor() {
            return tensor;
        }

        /** Holds the workspace open for a run, rejecting the run when a later plan took it over. */
        public void enterCurrent(CallScope scope) {
            scope.tensor("plan.workspace", tensor);
            synchronized (Workspaces.this) {
                Long current = tenants.getOrDefault(tensor.memory(), Map.of()).get(tensor.byteOffset());
                if (current == null || current != generation) {
                    throw new InvalidArgumentException("plan", "its workspace now holds a later plan; a workspace "
                            + "holds one plan at a time (plan again, or give each plan its own workspace)");
                }
            }
        }
    }

    /** Makes {@code workspace} hold a new plan, retiring the one it held. */
    public synchronized Claim claim(BackendTensor workspace) {
        long generation = ++next;
        tenants.computeIfAbsent(workspace.memory(), m -> new java.util.HashMap<>()).put(workspace.byteOffset(),
                generation);
        return new Claim(workspace, generation);
    }
}
