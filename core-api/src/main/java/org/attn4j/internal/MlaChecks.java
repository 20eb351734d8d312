package org.attn4j.internal;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.spi.MlaProblem;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Validation and lowering of multi-head latent attention (spec §13), once, before any device
 * work: the plan's problem, a run's tensors and cache, and the latent append, which is lowered
 * to the KV append of a one-head cache whose K pages are ckv and V pages kpe.
 */
public final class MlaChecks {
    private MlaChecks() {}

    /** The validated problem of {@code planMlaDecode} / {@code planMlaPrefill}. */
    public static MlaProblem problem(BackendSession session, MlaHeadConfig heads, int[] qoIndptr, PageTable table,
                                     boolean causal, float smScale, PlanOptions plan, boolean decode) {
        Capabilities caps = session.capabilities();
        String id = session.backendId();
        Validation.feature(caps, id, Feature.MLA, "mla");
        Args.notNull(heads, "heads");
        Args.notNull(table, "pageTable");
        smScale(smScale);
        PlanOptions p = plan == null ? PlanOptions.DEFAULT : plan;
        Validation.indptr("qoIndptr", qoIndptr, table.batchSize());
        int batch = table.batchSize();
        int[] qoLens = new int[batch];
        for (int b = 0; b < batch; b++) {
            qoLens[b] = qoIndptr[b + 1] - qoIndptr[b];
        }
        if (causal) {
            Validation.feature(caps, id, Feature.CAUSAL, "causal");
        }
        Validation.causalLengths(causal, qoLens, table.kvLens());
        if (p.deterministic()) {
            Validation.feature(caps, id, Feature.DETERMINISTIC, "plan.deterministic");
        }
        if (p.workspace() != null) {
            throw new InvalidArgumentException("plan.workspace", "MLA plans keep their schedule in the session's "
                    + "memory; plan without a workspace");
        }
        if (p.hasDtypes()) {
            Validation.qDtype(caps, id, "plan.q", p.qDtype());
            Validation.kvDtype(caps, id, "plan.kv", p.kvDtype());
        }
        return new MlaProblem(heads, qoIndptr, table, causal, smScale, decode, p.deterministic(), p.qDtype(),
                p.kvDtype());
    }

    /**
     * The caller's logit scale: required, finite and {@code > 0}. MLA has no default, since the
     * right one is {@code 1/sqrt} of the model's original q/k head dim (192 for DeepSeek-V3), which
     * the absorbed dims (576) do not tell.
     */
    static void smScale(float smScale) {
        if (Float.isNaN(smScale)) {
            throw new InvalidArgumentException("smScale", "MLA needs the caller's scale: 1/sqrt of the model's q/k "
                    + "head dim before absorption (DeepSeek-V3: 1/sqrt(192), times its YaRN factor), not of "
                    + "dCkv + dKpe; actual NaN");
        }
        if (!(smScale > 0) || Float.isInfinite(smScale)) {
            throw InvalidArgumentException.expected("smScale", "a finite value > 0", smScale);
        }
    }

    /** The latent cache: tensors of the session, contiguous, a supported dtype, the heads' dims, inside its tensors. */
    public static void cache(CallScope c, PagedMlaCache cache, int pageSize, MlaHeadConfig heads) {
        Args.notNull(cache, "cache");
        BackendSession session = c.session();
        c.tensor("cache.ckv", cache.ckv());
        c.tensor("cache.kpe", cache.kpe());
        Validation.contiguous("cache.ckv", cache.ckv());
        Validation.contiguous("cache.kpe", cache.kpe());
        Validation.kvDtype(session.capabilities(), session.backendId(), "cache", cache.dtype());
        if (heads != null && cache.headDimCkv() != heads.headDimCkv()) {
            throw InvalidArgumentException.expected("cache.headDimCkv", "heads.headDimCkv = " + heads.headDimCkv(),
                    cache.headDimCkv());
        }
        if (heads != null && cache.headDimKpe() != heads.headDimKpe()) {
            throw InvalidArgumentException.expected("cache.headDimKpe", "heads.headDimKpe = " + heads.headDimKpe(),
                    cache.headDimKpe());
        }
        if (cache.pageSize() != pageSize) {
            throw InvalidArgumentException.expected("cache.pageSize", "the page table's " + pageSize, cache.pageSize());
        }
        if (cache.numPages() > 0) {
            long ckvEnd = end(cache.ckvOffset(), cache.numPages(), cache.ckvPageStride(), cache.pageSize(),
                    cache.headDimCkv(), "cache.ckvPageStride");
            long kpeEnd = end(cache.kpeOffset(), cache.numPages(), cache.kpePageStride(), cache.pageSize(),
                    cache.headDimKpe(), "cache.kpePageStride");
            if (ckvEnd > cache.ckv().elementCount()) {
                throw InvalidArgumentException.expected("cache.ckv", "at least " + ckvEnd + " elements for "
                        + cache.numPages() + " pages", cache.ckv().elementCount());
            }
            if (kpeEnd > cache.kpe().elementCount()) {
                throw InvalidArgumentException.expected("cache.kpe", "at least " + kpeEnd + " elements for "
                        + cache.numPages() + " pages", cache.kpe().elementCount());
            }
        }
    }

    private static long end(long offset, int pages, long pageStride, int pageSize, int d, String name) {
        return Args.add(offset, Args.add(Args.multiply(pages - 1L, pageStride, name),
                Args.multiply(pageSize, d, "cache.pageSize"), name), name);
    }

    /** One run's qNope, qPe, o, lse and cache against the problem; holds every tensor open in {@code c}. */
    public static void run(CallScope c, MlaProblem p, Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o,
                           Tensor lse) {
        BackendSession session = c.session();
        Capabilities caps = session.capabilities();
        String id = session.backendId();
        MlaHeadConfig h = p.heads();
        c.tensor("qNope", qNope);
        Validation.qDtype(caps, id, "qNope", qNope.dtype());
        Validation.rows("qNope", qNope, p.totalQ(), h.numHeads(), h.headDimCkv(), false);
        c.tensor("qPe", qPe);
        Validation.dtype("qPe", qPe, qNope.dtype());
        Validation.rows("qPe", qPe, p.totalQ(), h.numHeads(), h.headDimKpe(), false);
        c.tensor("o", o);
        Validation.dtype("o", o, qNope.dtype());
        Validation.rows("o", o, p.totalQ(), h.numHeads(), h.headDimCkv(), true);
        for (String name : new String[] {"qNope", "qPe", "o"}) {
            Tensor t = name.equals("qNope") ? qNope : name.equals("qPe") ? qPe : o;
            Validation.aligned(name, t, caps.minAlignment());
        }
        if (lse != null) {
            Validation.feature(caps, id, Feature.LSE, "lse");
            c.tensor("lse", lse);
            Validation.dtype("lse", lse, DType.F32);
            Validation.shape("lse", lse, p.totalQ(), h.numHeads());
            Validation.contiguous("lse", lse);
        }
        cache(c, cache, p.pageTable().pageSize(), h);
        Validation.pageIds(p.pageTable(), cache.numPages());
        for (Tensor out : lse == null ? new Tensor[] {o} : new Tensor[] {o, lse}) {
            String name = out == o ? "o" : "lse";
            Validation.disjoint(name, out, "qNope", qNope);
            Validation.disjoint(name, out, "qPe", qPe);
            Validation.disjoint(name, out, "cache.ckv", cache.ckv());
            Validation.disjoint(name, out, "cache.kpe", cache.kpe());
        }
        Validation.disjoint("lse", lse, "o", o);
        if (p.qDtype() != null && qNope.dtype() != p.qDtype()) {
            throw InvalidArgumentException.expected("qNope.dtype", p.qDtype() + " (the plan's PlanOptions.qDtype)",
                    qNope.dtype());
        }
        if (p.kvDtype() != null && cache.dtype() != p.kvDtype()) {
            throw InvalidArgumentException.expected("cache.dtype", p.kvDtype() + " (the plan's PlanOptions.kvDtype)",
                    cache.dtype());
        }
    }

    /**
     * Checks a latent append and returns its lowering: {@code ckv [n, dCkv]} and {@code kpe [n, dKpe]}
     * viewed as K and V rows {@code [n, 1, d]} of the cache's {@link PagedMlaCache#asKvPages()}.
     */
    public static Tensor[] append(CallScope c, Tensor ckv, Tensor kpe, AppendPositions at, PagedMlaCache cache,
                                  PageTable table) {
        Capabilities caps = c.session().capabilities();
        Validation.feature(caps, c.session().backendId(), Feature.MLA, "appendPagedMlaKv");
        Args.notNull(at, "positions");
        Args.notNull(table, "pageTable");
        Args.notNull(cache, "cache");
        c.tensor("ckv", ckv);
        c.tensor("kpe", kpe);
        long n = at.size();
        tokenRows("ckv", ckv, n, cache.headDimCkv());
        tokenRows("kpe", kpe, n, cache.headDimKpe());
        Validation.dtype("kpe", kpe, ckv.dtype());
        cache(c, cache, table.pageSize(), null);
        return new Tensor[] {asKvRows(ckv), asKvRows(kpe)};
    }

    /** A {@code [n, d]} tensor whose rows may be a view with a token stride; the row contiguous. */
    private static void tokenRows(String name, Tensor t, long n, int d) {
        Validation.shape(name, t, n, d);
        Validation.headDimContiguous(name, t);
    }

    /** {@code [n, d]} as {@code [n, 1, d]}, the same elements. */
    private static Tensor asKvRows(Tensor t) {
        long[] st = t.strides();
        long d = t.dim(1);
        return t.view(0, new long[] {t.dim(0), 1, d}, new long[] {st[0], d, 1});
    }
}
