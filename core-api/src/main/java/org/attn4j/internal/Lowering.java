package org.attn4j.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Lowers every attention call into the one problem backends plan ({@link AttentionProblem}):
 * single calls are a cache of one page, ragged K/V a cache whose pages start at every request's
 * first row, a cascade one problem per level with its causal and window rules turned into
 * masks, decode a prefill with one row per request. Validates what it lowers.
 */
public final class Lowering {
    private Lowering() {}

    /**
     * A batch problem: heads, options and features against the backend, the row indptr, causal
     * lengths and the mask's offsets. Dtypes come from {@code plan} (null when decided per run).
     */
    public static AttentionProblem problem(BackendSession session, HeadConfig heads, int[] qoIndptr, PageTable table,
                                           DevicePageTable deviceTable, AttentionOptions options, CustomMask mask,
                                           PlanOptions plan, boolean decode) {
        Args.notNull(heads, "heads");
        Args.notNull(options, "options");
        PlanOptions planOptions = plan == null ? PlanOptions.DEFAULT : plan;
        Capabilities caps = session.capabilities();
        String id = session.backendId();
        Validation.feature(caps, id, decode ? Feature.DECODE : Feature.PREFILL, decode ? "decode" : "prefill");
        Validation.headDims(caps, id, heads);
        Validation.options(caps, id, options, heads);
        int batch = table != null ? table.batchSize() : deviceTable.batchSize();
        Validation.indptr("qoIndptr", qoIndptr, batch);
        int[] qoLens = new int[batch];
        for (int b = 0; b < batch; b++) {
            qoLens[b] = qoIndptr[b + 1] - qoIndptr[b];
        }
        long[] maskOffsets = null;
        if (table != null) {
            int[] kvLens = table.kvLens();
            Validation.causalLengths(options.causal(), qoLens, kvLens);
            if (mask != null) {
                Validation.feature(caps, id, Feature.CUSTOM_MASK, "mask");
                maskOffsets = mask.resolveOffsets(qoLens, kvLens);
            }
        } else if (mask != null) {
            throw new InvalidArgumentException("mask", "a custom mask needs a host page table (its offsets follow the"
                    + " lengths)");
        }
        if (planOptions.deterministic()) {
            Validation.feature(caps, id, Feature.DETERMINISTIC, "plan.deterministic");
        }
        if (planOptions.hasDtypes()) {
            Validation.queryDtype(caps, id, "plan.q", planOptions.qDtype());
            Validation.kvDtype(caps, id, "plan.kv", planOptions.kvDtype());
        }
        return new AttentionProblem(heads, qoIndptr, table, deviceTable, options, mask, maskOffsets, decode,
                planOptions, planOptions.qDtype(), planOptions.kvDtype(), planOptions.resolvedAlignment(heads.headDimQk(), heads.headDimVo()));
    }

    /** A batch problem over a host or a device page table (whose tensors must belong to the session). */
    public static AttentionProblem batch(BackendSession session, HeadConfig heads, int[] qoIndptr, PageTable table,
                                         DevicePageTable deviceTable, AttentionOptions options, CustomMask mask,
                                         PlanOptions plan, boolean decode) {
        if (deviceTable != null) {
            Validation.deviceTable(session, deviceTable);
        }
        return problem(session, heads, qoIndptr, table, deviceTable, options, mask, plan, decode);
    }

    /** The problem a workspace is sized for: as planned, so its dtypes must be given; no workspace yet. */
    public static AttentionProblem workspaceProblem(BackendSession session, HeadConfig heads, int[] qoIndptr,
                                                    PageTable table, DevicePageTable deviceTable,
                                                    AttentionOptions options, CustomMask mask, PlanOptions plan,
                                                    boolean decode) {
        PlanOptions p = plan == null ? PlanOptions.DEFAULT : plan;
        if (!p.hasDtypes()) {
            throw new InvalidArgumentException("plan", "the workspace depends on the dtypes: give them with "
                    + "PlanOptions.withDtypes");
        }
        AttentionProblem problem = problem(session, heads, qoIndptr, table, deviceTable, options, mask,
                p.withWorkspace(null), decode);
        Validation.alignment(session.capabilities(), session.backendId(), problem.alignment());
        return problem;
    }

    /** Decode's query rows: one per request. */
    public static int[] decodeIndptr(int batch) {
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b <= batch; b++) {
            qoIndptr[b] = b;
        }
        return qoIndptr;
    }

    /** A single call as a batch of one over a cache of one page. */
    public record Single(AttentionProblem problem, PagedKvCache cache) {}

    /**
     * Lowers single decode ({@code qoLen} 1, q {@code [Hq, D]}) or prefill (q {@code [qoLen, Hq, D]})
     * over contiguous K/V. The tensors are validated by the caller.
     */
    public static Single single(BackendSession session, Tensor q, ContiguousKv kv, AttentionOptions options,
                                CustomMask mask, int hq, int qoLen, boolean decode, int alignment) {
        Args.notNull(kv, "kv");
        Args.notNull(kv.layout(), "kv.layout");
        Args.notNull(kv.scales(), "kv.scales");
        Validation.notPerToken("kv.scales", kv.scales());
        if (kv.k().rank() != 3) {
            throw InvalidArgumentException.expected("k.shape", kv.layout() == KvLayout.NHD ? "[kvLen, Hkv, D]"
                    : "[Hkv, kvLen, D]", Arrays.toString(kv.k().shape()));
        }
        // V may have its own head dim (Dvo); its other dims are K's.
        if (kv.v().rank() != 3 || kv.v().dim(0) != kv.k().dim(0) || kv.v().dim(1) != kv.k().dim(1)) {
            throw InvalidArgumentException.expected("v.shape", "k's shape but for the head dim [" + kv.k().dim(0)
                    + ", " + kv.k().dim(1) + ", Dvo]", Arrays.toString(kv.v().shape()));
        }
        Validation.dtype("v", kv.v(), kv.k().dtype());
        Validation.contiguous("k", kv.k());
        Validation.contiguous("v", kv.v());
        boolean nhd = kv.layout() == KvLayout.NHD;
        int kvLen = Args.toInt(nhd ? kv.k().dim(0) : kv.k().dim(1), "kvLen");
        int hkv = Args.toInt(nhd ? kv.k().dim(1) : kv.k().dim(0), "numKvHeads");
        int dqk = Args.toInt(kv.k().dim(2), "k.shape[2]");
        int dvo = Args.toInt(kv.v().dim(2), "v.shape[2]");
        if (q.dim(-1) != dqk) {
            throw InvalidArgumentException.expected("q.shape[-1]", "K's head dim " + dqk, q.dim(-1));
        }
        HeadConfig heads = new HeadConfig(hq, hkv, dqk, dvo);
        int pages = kvLen == 0 ? 0 : 1;
        PageTable table = new PageTable(new int[] {0, pages}, pages == 0 ? new int[0] : new int[] {0},
                new int[] {kvLen == 0 ? 0 : kvLen}, Math.max(1, kvLen));
        PagedKvCache view = new PagedKvCache(kv.k(), kv.v(), kv.layout(), pages, Math.max(1, kvLen), hkv, dqk, dvo,
                0, 0, Args.multiply(Args.multiply(kvLen, hkv, "k.shape"), dqk, "k.shape"),
                Args.multiply(Args.multiply(kvLen, hkv, "v.shape"), dvo, "v.shape"), kv.scales());
        PlanOptions plan = PlanOptions.DEFAULT.withDtypes(q.dtype(), kv.k().dtype()).withAlignment(alignment);
        AttentionProblem problem = problem(session, heads, new int[] {0, qoLen}, table, null, options, mask, plan,
                decode);
        return new Single(problem, view);
    }

    /** Ragged K/V viewed as pages: each request owns one page beginning at its first row. */
    public record Ragged(PageTable table, int totalKv, int maxKvLen) {
        /** The cache view of ragged K/V {@code [totalKv, Hkv, D]}; its pages overlap by design. */
        public PagedKvCache view(RaggedKv kv, HeadConfig h) {
            Args.notNull(kv.scales(), "kv.scales");
            Validation.notPerToken("kv.scales", kv.scales());
            return new PagedKvCache(kv.k(), kv.v(), KvLayout.NHD, totalKv, Math.max(1, maxKvLen), h.numKvHeads(),
                    h.headDimQk(), h.headDimVo(), 0, 0, (long) h.numKvHeads() * h.headDimQk(),
                    (long) h.numKvHeads() * h.headDimVo(), kv.scales());
        }
    }

    public static Ragged ragged(int[] kvIndptr) {
        Validation.indptr("kvIndptr", kvIndptr, -1);
        int batch = kvIndptr.length - 1;
        int maxLen = 0;
        int[] pageIndptr = new int[batch + 1];
        int[] last = new int[batch];
        int[] pages = new int[batch];
        int n = 0;
        for (int b = 0; b < batch; b++) {
            int len = kvIndptr[b + 1] - kvIndptr[b];
            maxLen = Math.max(maxLen, len);
            if (len > 0) {
                pages[n++] = kvIndptr[b];
                last[b] = len;
            }
            pageIndptr[b + 1] = n;
        }
        return new Ragged(new PageTable(pageIndptr, Arrays.copyOf(pages, n), last, Math.max(1, maxLen)),
                kvIndptr[batch], maxLen);
    }

    /**
     * One problem per cascade level. Causal and window rules apply to each request's keys
     * concatenated in level order; a level whose keys are all allowed for all its rows runs
     * unmasked, any other level runs with a mask built here from those rules. Sinks go to the
     * first level alone, so the merged result counts each once; ALiBi is rejected.
     */
    public static List<AttentionProblem> cascade(BackendSession session, List<CascadeLevel> levels, HeadConfig heads,
                                                 AttentionOptions options, PlanOptions plan) {
        Args.notNull(levels, "levels");
        Args.notNull(heads, "heads");
        Args.notNull(options, "options");
        Capabilities caps = session.capabilities();
        String id = session.backendId();
        Validation.feature(caps, id, Feature.CASCADE, "levels");
        if (levels.isEmpty()) {
            throw InvalidArgumentException.expected("levels.size", ">= 1", 0);
        }
        // What a cascade refuses outright is named before the refused option's own details (a
        // head dim RoPE cannot pair, slopes of another length, a backend without the feature):
        // the caller's fix is to drop the option, not to repair it.
        if (options.rope() != null) {
            throw new InvalidArgumentException("options.rope", "RoPE on the fly is not supported in a cascade; "
                    + "rotate q and k with applyRope before appending");
        }
        if (options.alibiSlopes() != null) {
            throw new InvalidArgumentException("options.alibiSlopes", "ALiBi is not supported in a cascade: its bias "
                    + "depends on each key's position among the request's concatenated keys, which a level's "
                    + "attention does not see; run the requests as a batch prefill or decode");
        }
        // Levels are planned with causal and window turned into masks, so the caller's own
        // options are checked here or a bad window (say -5) would pass as "no window".
        Validation.options(caps, id, options, heads);
        if (plan != null && plan.workspace() != null) {
            throw new InvalidArgumentException("plan.workspace", "a cascade plans one attention per level and keeps "
                    + "them in the session's memory; plan each level separately to use a workspace");
        }
        int nl = levels.size();
        for (int l = 0; l < nl; l++) {
            Args.notNull(levels.get(l), "levels[" + l + "]");
        }
        if (nl > 1) {
            Validation.feature(caps, id, Feature.MERGE, "levels");
        }
        int[] reqIndptr = levels.get(nl - 1).qoIndptr();
        Validation.indptr("levels[" + (nl - 1) + "].qoIndptr", reqIndptr, -1);
        int requests = reqIndptr.length - 1;
        int totalQ = reqIndptr[requests];
        // For each level and request: the offset of that level's keys in the request's concatenation.
        long[] totalKv = new long[requests];
        long[][] offset = new long[nl][requests];
        for (int l = 0; l < nl; l++) {
            CascadeLevel level = levels.get(l);
            String name = "levels[" + l + "]";
            int[] ind = level.qoIndptr();
            Validation.indptr(name + ".qoIndptr", ind, level.pageTable().batchSize());
            if (ind[ind.length - 1] != totalQ) {
                throw InvalidArgumentException.expected(name + ".qoIndptr[" + (ind.length - 1) + "]",
                        "the last level's total rows " + totalQ, ind[ind.length - 1]);
            }
            int e = 0;
            for (int r = 0; r < requests; r++) {
                if (reqIndptr[r + 1] == reqIndptr[r]) {
                    continue; // no query rows: nothing attends, nothing to place
                }
                while (ind[e + 1] <= reqIndptr[r]) {
                    e++;
                }
                if (ind[e + 1] < reqIndptr[r + 1]) {
                    throw new InvalidArgumentException(name + ".qoIndptr", "every entry must cover whole requests of "
                            + "the last level; request " + r + " (rows " + reqIndptr[r] + ".." + reqIndptr[r + 1]
                            + ") is split by " + Arrays.toString(ind));
                }
                offset[l][r] = totalKv[r];
                totalKv[r] += level.pageTable().kvLen(e);
            }
        }
        int[] qoLens = new int[requests];
        int[] kvLens = new int[requests];
        for (int r = 0; r < requests; r++) {
            qoLens[r] = reqIndptr[r + 1] - reqIndptr[r];
            kvLens[r] = Args.toInt(totalKv[r], "levels: keys of request " + r);
        }
        Validation.causalLengths(options.causal(), qoLens, kvLens);
        List<AttentionProblem> problems = new ArrayList<>();
        for (int l = 0; l < nl; l++) {
            CascadeLevel level = levels.get(l);
            CustomMask mask = levelMask(level, l, reqIndptr, offset, totalKv, options);
            // Sinks join the softmax once: on the first level only, whose state the others merge into.
            AttentionOptions levelOptions = options.withCausal(false).withWindowLeft(-1)
                    .withSinks(l == 0 ? options.sinks() : null);
            problems.add(problem(session, heads, level.qoIndptr(), level.pageTable(), null, levelOptions, mask, plan,
                    false));
        }
        return problems;
    }

    /** The mask of one cascade level, or null when the causal and window rules allow every key. */
    private static CustomMask levelMask(CascadeLevel level, int l, int[] reqIndptr, long[][] offset, long[] totalKv,
                                        AttentionOptions options) {
        if (!options.causal() && options.windowLeft() < 0) {
            return null;
        }
        int[] ind = level.qoIndptr();
        int entries = ind.length - 1;
        long bits = 0;
        for (int e = 0; e < entries; e++) {
            bits = Args.add(bits, Args.multiply(ind[e + 1] - ind[e], level.pageTable().kvLen(e), "levels"), "levels");
        }
        if (bits > Integer.MAX_VALUE - 8) {
            throw new InvalidArgumentException("levels[" + l + "]", "the causal or window mask of this level would "
                    + "need " + bits + " bits, more than one array holds; split the level");
        }
        boolean[] mask = new boolean[(int) bits];
        boolean anyMasked = false;
        long base = 0;
        int r = 0;
        for (int e = 0; e < entries; e++) {
            int len = level.pageTable().kvLen(e);
            for (int row = ind[e]; row < ind[e + 1]; row++) {
                while (reqIndptr[r + 1] <= row) {
                    r++;
                }
                int i = row - reqIndptr[r];
                long pq = i + totalKv[r] - (reqIndptr[r + 1] - reqIndptr[r]);
                for (int j = 0; j < len; j++) {
                    long pos = offset[l][r] + j;
                    boolean allowed = (!options.causal() || pos <= pq)
                            && (options.windowLeft() < 0 || pos >= pq - options.windowLeft());
                    mask[(int) (base + (long) (row - ind[e]) * len + j)] = allowed;
                    anyMasked |= !allowed;
                }
            }
            base += (long) (ind[e + 1] - ind[e]) * len;
        }
        return anyMasked ? CustomMask.fromBooleans(mask) : null;
    }

    /** The alignment a run's views keep: the least of q's, o's and the K/V views'. */
    public static int runAlignment(org.attn4j.spi.BackendTensor q, org.attn4j.spi.BackendTensor o,
                                   PagedKvCache kv) {
        int a = Math.min(q.alignment(), o.alignment());
        int es = kv.dtype().byteSize();
        long strides = kv.kOffset() * es | kv.vOffset() * es | kv.kPageStride() * es | kv.kSlotStride() * es
                | kv.kHeadStride() * es | kv.vPageStride() * es | kv.vSlotStride() * es | kv.vHeadStride() * es;
        int kvAlign = strides == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(strides));
        kvAlign = Math.min(kvAlign, Math.min(((org.attn4j.spi.BackendTensor) kv.k()).alignment(),
                ((org.attn4j.spi.BackendTensor) kv.v()).alignment()));
        return Math.min(a, kvAlign);
    }

    /** The dtypes a run brings, for plans made without them. */
    public record RunTypes(DType q, DType kv, int alignment) {}
}
