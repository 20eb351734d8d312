package org.attn4j.parallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.PageTable;

/**
 * A batch's keys cut into shards: shard {@code s} holds, for every request {@code r}, a contiguous
 * range of the request's keys, {@code [keyStart(s, r), keyEnd(s, r))}, described by its own page
 * table. Each request's keys are its shards' keys concatenated in shard order, so key {@code j'}
 * of shard {@code s} is the request's key {@code keyStart(s, r) + j'}: that global position is what
 * causal and window rules see (spec §12). A shard may hold no key of a request (an empty range).
 *
 * <p>Immutable and thread-safe.
 */
public final class ContextShards {
    private final List<PageTable> tables;
    private final int[][] starts;
    private final int[] kvLens;

    private ContextShards(List<PageTable> tables) {
        this.tables = List.copyOf(tables);
        int n = this.tables.size();
        int batch = this.tables.getFirst().batchSize();
        this.starts = new int[n][batch];
        this.kvLens = new int[batch];
        for (int r = 0; r < batch; r++) {
            long at = 0;
            for (int s = 0; s < n; s++) {
                starts[s][r] = (int) at;
                at += this.tables.get(s).kvLen(r);
                if (at > Integer.MAX_VALUE) {
                    throw new InvalidArgumentException("shards", "request " + r + " has " + at + " keys over its "
                            + "shards, more than " + Integer.MAX_VALUE);
                }
            }
            kvLens[r] = (int) at;
        }
    }

    /**
     * Cuts every request of {@code table} into {@code shards} contiguous key ranges along page
     * boundaries, as evenly as whole pages allow: of a request's {@code n} pages, shard {@code s}
     * holds pages {@code [n·s/shards, n·(s+1)/shards)}. The shards' tables keep {@code table}'s
     * page ids and page size, so they point into the same pool (logical shards over one cache);
     * a request with fewer pages than shards leaves some shards empty for it.
     *
     * @param table  the requests' whole page table
     * @param shards the number of shards, at least 1
     * @return the shards, in key order
     */
    public static ContextShards split(PageTable table, int shards) {
        Args.notNull(table, "table");
        if (shards < 1) {
            throw InvalidArgumentException.expected("shards", ">= 1", shards);
        }
        int batch = table.batchSize();
        int ps = table.pageSize();
        List<PageTable> out = new ArrayList<>(shards);
        for (int s = 0; s < shards; s++) {
            int[][] pages = new int[batch][];
            int[] lens = new int[batch];
            for (int r = 0; r < batch; r++) {
                int n = table.pageCount(r);
                int from = (int) ((long) n * s / shards);
                int to = (int) ((long) n * (s + 1) / shards);
                pages[r] = new int[to - from];
                for (int p = from; p < to; p++) {
                    pages[r][p - from] = table.page(r, p);
                }
                long len;
                if (to == from) {
                    len = 0;
                } else if (to == n) {
                    len = (long) table.kvLen(r) - (long) from * ps;
                } else {
                    len = (long) (to - from) * ps;
                }
                lens[r] = (int) len;
            }
            out.add(PageTable.of(ps, pages, lens));
        }
        return new ContextShards(out);
    }

    /**
     * Shards from the caller's own page tables, one per shard, each over the pool of the device
     * that runs it: request {@code r}'s keys are shard 0's keys of {@code r}, then shard 1's, and
     * so on. The tables must have the same number of requests; their page sizes may differ.
     *
     * @param perShard the shards' page tables, in key order, at least one
     * @return the shards
     */
    public static ContextShards of(List<PageTable> perShard) {
        Args.notNull(perShard, "perShard");
        if (perShard.isEmpty()) {
            throw InvalidArgumentException.expected("perShard.size", ">= 1", 0);
        }
        for (int s = 0; s < perShard.size(); s++) {
            Args.notNull(perShard.get(s), "perShard[" + s + "]");
            if (perShard.get(s).batchSize() != perShard.getFirst().batchSize()) {
                throw InvalidArgumentException.expected("perShard[" + s + "].batchSize",
                        "perShard[0]'s " + perShard.getFirst().batchSize(), perShard.get(s).batchSize());
            }
        }
        return new ContextShards(perShard);
    }

    /**
     * The number of shards.
     *
     * @return N, at least 1
     */
    public int shardCount() {
        return tables.size();
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return kvLens.length;
    }

    /**
     * Shard {@code shard}'s page table: its keys of every request, from slot 0 of its first page.
     *
     * @param shard the shard, in {@code [0, shardCount())}
     * @return the shard's page table
     */
    public PageTable table(int shard) {
        return tables.get(checkShard(shard));
    }

    /**
     * The shards' page tables, in key order.
     *
     * @return an unmodifiable list
     */
    public List<PageTable> tables() {
        return tables;
    }

    /**
     * The position, among request {@code request}'s keys, of shard {@code shard}'s first key.
     *
     * @param shard   the shard
     * @param request the request
     * @return the global position of the shard's key 0 for that request
     */
    public int keyStart(int shard, int request) {
        return starts[checkShard(shard)][checkRequest(request)];
    }

    /**
     * One past the position of shard {@code shard}'s last key of request {@code request}.
     *
     * @param shard   the shard
     * @param request the request
     * @return {@code keyStart + } the shard's kvLen of the request
     */
    public int keyEnd(int shard, int request) {
        return keyStart(shard, request) + tables.get(shard).kvLen(request);
    }

    /**
     * Request {@code request}'s keys over all shards.
     *
     * @param request the request
     * @return the sum of its shards' lengths
     */
    public int kvLen(int request) {
        return kvLens[checkRequest(request)];
    }

    /**
     * Every request's keys over all shards.
     *
     * @return a copy, one entry per request
     */
    public int[] kvLens() {
        return kvLens.clone();
    }

    private int checkShard(int shard) {
        if (shard < 0 || shard >= tables.size()) {
            throw InvalidArgumentException.outside("shard", shard, 0, tables.size());
        }
        return shard;
    }

    private int checkRequest(int request) {
        if (request < 0 || request >= kvLens.length) {
            throw InvalidArgumentException.outside("request", request, 0, kvLens.length);
        }
        return request;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ContextShards other && tables.equals(other.tables);
    }

    @Override
    public int hashCode() {
        return tables.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("ContextShards[" + tables.size() + " shards, kvLens "
                + Arrays.toString(kvLens));
        for (int s = 0; s < tables.size(); s++) {
            sb.append(", shard ").append(s).append(" starts ").append(Arrays.toString(starts[s]));
        }
        return sb.append(']').toString();
    }
}
