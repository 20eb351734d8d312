package org.attn4j.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The bookkeeping of a device memory arena, for backends whose plans and calls take regions of a
 * few large allocations instead of allocating each time (a serving loop plans every step, so
 * planning must not allocate once the arena holds the working set). Chunks are made rarely (each
 * at least twice the last), regions are carved first-fit and given back with their neighbours
 * merged. Handing a region out again while work queued on it has not run is safe only on an
 * in-order stream or queue, where the next user's work queues behind it. Thread-safe.
 *
 * @param <C> a backend's chunk handle (a device address, a buffer object)
 */
public final class RegionArena<C> {
    private final LongFunction<C> allocate;
    private final long alignment;
    private final long firstChunk;
    private final List<Chunk<C>> chunks = new ArrayList<>();

    private static final class Chunk<C> {
        final C handle;
        final long bytes;
        final List<long[]> free = new ArrayList<>(); // {offset, length}, sorted by offset

        Chunk(C handle, long bytes) {
            this.handle = handle;
            this.bytes = bytes;
            free.add(new long[] {0, bytes});
        }
    }

    /**
     * {@code bytes} of chunk {@code chunk} from {@code offset}. Immutable and thread-safe.
     *
     * @param <C>    the chunk handle's type
     * @param chunk  the chunk's handle
     * @param offset bytes from the chunk's start, a multiple of the alignment
     * @param bytes  the region's size, a multiple of the alignment
     */
    public record Region<C>(C chunk, long offset, long bytes) {}

    /**
     * An arena with no chunk yet.
     *
     * @param allocate   makes a chunk of the given bytes (a device allocation)
     * @param alignment  where regions may start, a power of two
     * @param firstChunk bytes of the first chunk
     */
    public RegionArena(LongFunction<C> allocate, long alignment, long firstChunk) {
        this.allocate = allocate;
        this.alignment = alignment;
        this.firstChunk = firstChunk;
    }

    /**
     * Where regions may start.
     *
     * @return bytes, a power of two
     */
    public long alignment() {
        return alignment;
    }

    /**
     * {@code bytes} rounded up to the alignment (at least one unit).
     *
     * @param bytes a size
     * @return the rounded size
     */
    public long aligned(long bytes) {
        return (Math.max(bytes, 1) + alignment - 1) / alignment * alignment;
    }

    /**
     * A region of at least {@code bytes}, from a new chunk when none has room.
     *
     * @param bytes the size wanted
     * @return the region, given back with {@link #give}
     */
    public synchronized Region<C> take(long bytes) {
        long need = aligned(bytes);
        for (Chunk<C> c : chunks) {
            Region<C> r = takeFrom(c, need);
            if (r != null) {
                return r;
            }
        }
        long last = chunks.isEmpty() ? firstChunk / 2 : chunks.getLast().bytes;
        long size = Math.max(need, 2 * last);
        Chunk<C> c = new Chunk<>(allocate.apply(size), size);
        chunks.add(c);
        return takeFrom(c, need);
    }

    private static <C> Region<C> takeFrom(Chunk<C> c, long need) {
        for (int i = 0; i < c.free.size(); i++) {
            long[] f = c.free.get(i);
            if (f[1] >= need) {
                Region<C> r = new Region<>(c.handle, f[0], need);
                f[0] += need;
                f[1] -= need;
                if (f[1] == 0) {
                    c.free.remove(i);
                }
                return r;
            }
        }
        return null;
    }

    /**
     * Gives a region back; it may be handed out again at once.
     *
     * @param r a region this arena handed out
     */
    public synchronized void give(Region<C> r) {
        for (Chunk<C> c : chunks) {
            if (c.handle == r.chunk()) {
                int at = 0;
                while (at < c.free.size() && c.free.get(at)[0] < r.offset()) {
                    at++;
                }
                c.free.add(at, new long[] {r.offset(), r.bytes()});
                if (at + 1 < c.free.size() && c.free.get(at)[0] + c.free.get(at)[1] == c.free.get(at + 1)[0]) {
                    c.free.get(at)[1] += c.free.remove(at + 1)[1];
                }
                if (at > 0 && c.free.get(at - 1)[0] + c.free.get(at - 1)[1] == c.free.get(at)[0]) {
                    c.free.get(at - 1)[1] += c.free.remove(at)[1];
                }
                return;
            }
        }
        throw new IllegalArgumentException("region of another arena: " + r);
    }

    /**
     * The chunks' handles, for freeing them (with no region in use).
     *
     * @return a copy of the handles
     */
    public synchronized List<C> chunks() {
        return chunks.stream().map(c -> c.handle).toList();
    }

    /**
     * Bytes held in chunks.
     *
     * @return the total
     */
    public synchronized long bytes() {
        return chunks.stream().mapToLong(c -> c.bytes).sum();
    }
}
