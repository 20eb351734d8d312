package org.attn4j.cuda;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.cuda.driver.DeviceContext;

/**
 * A device allocation freed on {@link #close()}, or by a cleaner if its owner is dropped unclosed,
 * so a forgotten tensor leaks no device memory for longer than a garbage collection.
 */
final class DeviceMemory implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger(DeviceMemory.class.getName());

    private final long address;
    private final long bytes;
    private final Cleaner.Cleanable cleanable;

    private record Release(DeviceContext context, long address, long bytes, AtomicBoolean explicit) implements Runnable {
        @Override
        public void run() {
            if (!explicit.get()) {
                LOG.log(System.Logger.Level.DEBUG, "freeing " + bytes + " device bytes of an unclosed buffer");
            }
            try {
                context.free(address);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "device free failed: " + e.getMessage());
            }
        }
    }

    private final AtomicBoolean explicit = new AtomicBoolean();

    DeviceMemory(DeviceContext context, long bytes) {
        this.bytes = bytes;
        this.address = context.malloc(bytes);
        this.cleanable = CLEANER.register(this, new Release(context, address, bytes, explicit));
    }

    long address() {
        return address;
    }

    long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        explicit.set(true);
        cleanable.clean();
    }
}
