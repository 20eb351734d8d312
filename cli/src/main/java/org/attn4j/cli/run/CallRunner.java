package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.cli.CliException;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Loads a {@link CallSpec}'s files onto a backend, runs the call, writes o.npy and lse.npy. */
final class CallRunner {
    private CallRunner() {}

    static CallResult run(CallSpec call, AttentionBackend backend, Path outDir) throws IOException {
        List<AutoCloseable> resources = new ArrayList<>();
        try {
            DType qDtype = dtypeOf(call.q(), call.qDtype(), "q", "q_dtype");
            HostTensor hq = keep(resources, Npy.read(call.q(), qDtype));
            Path kvSample = call.kvFile() != null ? call.kvFile() : call.k();
            DType kvDtype = call.kvDtype() != null ? call.kvDtype()
                    : Npy.infer(Npy.header(kvSample).descr()) != null ? Npy.infer(Npy.header(kvSample).descr())
                    : dtypeOf(kvSample, qDtype, "kv", "kv_dtype");
            Tensor q = keep(resources, backend.upload(hq));
            Tensor k;
            Tensor v;
            if (call.kvFile() != null) {
                k = keep(resources, backend.upload(keep(resources, Npy.read(call.kvFile(), kvDtype))));
                v = k;
            } else {
                HostTensor hk = keep(resources, Npy.read(call.k(), kvDtype));
                HostTensor hv = keep(resources, Npy.read(call.v(), kvDtype));
                if (!Arrays.equals(hk.shape(), hv.shape())) {
                    throw new NpyException(call.v() + ": shape " + Arrays.toString(hv.shape())
                            + " differs from k's " + Arrays.toString(hk.shape()));
                }
                k = keep(resources, backend.upload(hk));
                v = keep(resources, backend.upload(hv));
            }
            long[] qShape = hq.shape();
            if (qShape.length < 2) {
                throw new NpyException(call.q() + ": q needs at least 2 dimensions, found " + Arrays.toString(qShape));
            }
            Tensor o = keep(resources, backend.allocate(qDtype, qShape));
            Tensor lse = call.returnLse() ? keep(resources, backend.allocate(DType.F32,
                    Arrays.copyOf(qShape, qShape.length - 1))) : null;
            CustomMask mask = call.mask() == null ? null : CustomMask.fromBooleans(Npy.readBooleans(call.mask()));
            if (mask != null && (call.op() == CallSpec.Op.DECODE || call.op() == CallSpec.Op.SINGLE_DECODE)) {
                throw new CliException("\"mask\" is for prefill ops; decode has no custom mask");
            }
            int hqHeads = Math.toIntExact(qShape[qShape.length - 2]);
            long start = System.nanoTime();
            switch (call.op()) {
                case DECODE, PREFILL -> {
                    PagedKvCache cache = call.kvFile() != null ? PagedKvCache.combined(k, call.layout(), call.scales())
                            : PagedKvCache.separate(k, v, call.layout(), call.scales());
                    PageTable table = new PageTable(call.kvIndptr(), call.kvIndices(), call.kvLastPageLen(),
                            cache.pageSize());
                    HeadConfig heads = new HeadConfig(hqHeads, cache.numKvHeads(), cache.headDim());
                    try (BatchAttentionPlan plan = call.op() == CallSpec.Op.DECODE
                            ? backend.planBatchDecode(table, heads, call.options(), PlanOptions.DEFAULT)
                            : backend.planBatchPrefill(call.qoIndptr(), table, heads, call.options(), mask,
                            PlanOptions.DEFAULT)) {
                        plan.run(q, cache, o, lse);
                    }
                }
                case PREFILL_RAGGED -> {
                    if (k.rank() != 3) {
                        throw new NpyException(call.k() + ": ragged K must be [totalKv, Hkv, D], found "
                                + Arrays.toString(k.shape()));
                    }
                    HeadConfig heads = new HeadConfig(hqHeads, (int) k.dim(1), (int) k.dim(2));
                    try (RaggedAttentionPlan plan = backend.planBatchPrefillRagged(call.qoIndptr(), call.kvIndptr(),
                            heads, call.options(), mask, PlanOptions.DEFAULT)) {
                        plan.run(q, new RaggedKv(k, v, call.scales()), o, lse);
                    }
                }
                case SINGLE_DECODE -> backend.singleDecode(q, new ContiguousKv(k, v, call.layout(), call.scales()),
                        call.options(), o, lse);
                case SINGLE_PREFILL -> backend.singlePrefill(q, new ContiguousKv(k, v, call.layout(), call.scales()),
                        call.options(), mask, o, lse);
            }
            backend.synchronize();
            double millis = (System.nanoTime() - start) / 1e6;
            try (HostTensor ho = backend.download(o)) {
                Npy.write(outDir.resolve("o.npy"), ho);
            }
            if (lse != null) {
                try (HostTensor hl = backend.download(lse)) {
                    Npy.write(outDir.resolve("lse.npy"), hl);
                }
            }
            return new CallResult(qDtype.name().toLowerCase(java.util.Locale.ROOT), qShape, millis);
        } finally {
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).close();
                } catch (Exception ignored) {
                    // freeing scratch memory; the call's outcome is already decided
                }
            }
        }
    }

    /** The declared dtype, else what the file's descriptor holds; raw-bit files need the declaration. */
    private static DType dtypeOf(Path file, DType declared, String what, String key) throws IOException {
        String descr = Npy.header(file).descr();
        if (declared != null) {
            return declared;
        }
        DType inferred = Npy.infer(descr);
        if (inferred == null) {
            throw new NpyException(file + ": holds raw '" + descr + "'; name " + what + "'s dtype with \"" + key
                    + "\" (bf16 for '<u2', fp8_e4m3 or fp8_e5m2 for '|u1')");
        }
        return inferred;
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> resources, T t) {
        resources.add(t);
        return t;
    }
}
