package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The attention-state merges (spec §4). States are pairs of files: o in the state dtype
 * ({@code "dtype"}, needed for raw bf16) and lse as float32, natural log.
 * <ul>
 *   <li>{@code merge_state}: {@code "o_a", "lse_a", "o_b", "lse_b"} into a new (o, lse);</li>
 *   <li>{@code merge_state_in_place}: {@code "o_other", "lse_other"} merged into {@code "o", "lse"}
 *       for the rows {@code "row_mask"} selects (all when absent); writes the updated o and lse;</li>
 *   <li>{@code merge_states}: {@code "o"} {@code [rows, n, Hq, D]} and {@code "lse"} {@code [rows, n, Hq]}
 *       merged over n into o {@code [rows, Hq, D]} and lse {@code [rows, Hq]}.</li>
 * </ul>
 */
record MergeOp(String op, DType declared, Path[] files, boolean[] rowMask, Path oInit, Path lseInit)
        implements Operation {

    static MergeOp read(String op, SpecReader r) throws IOException {
        String[] keys = switch (op) {
            case "merge_state" -> new String[] {"o_a", "lse_a", "o_b", "lse_b"};
            case "merge_state_in_place" -> new String[] {"o", "lse", "o_other", "lse_other"};
            default -> new String[] {"o", "lse"};
        };
        Set<String> allowed = Operation.keys(COMMON_KEYS, Set.of(keys), Set.of("dtype"),
                op.equals("merge_state_in_place") ? Set.of("row_mask") : Set.of("o_init", "lse_init"));
        r.allowOnly(allowed);
        Path[] files = new Path[keys.length];
        for (int i = 0; i < keys.length; i++) {
            files[i] = r.file(keys[i]);
        }
        DType dtype = r.has("dtype") ? Names.dtype(r.string("dtype"), "\"dtype\"") : null;
        boolean[] rowMask = r.has("row_mask") ? r.booleans("row_mask") : null;
        return new MergeOp(op, dtype, files, rowMask, r.optionalFile("o_init"), r.optionalFile("lse_init"));
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        DType dtype = Inputs.dtypeOf(files[0], declared, "dtype");
        var backend = in.backend;
        RunResult result = new RunResult();
        switch (op) {
            case "merge_state" -> {
                Tensor oa = in.device(files[0], dtype);
                Tensor sa = in.device(files[1], DType.F32);
                Tensor ob = in.device(files[2], dtype);
                Tensor sb = in.device(files[3], DType.F32);
                Tensor o = in.output(dtype, oa.shape(), oInit, "o_init");
                Tensor s = in.output(DType.F32, sa.shape(), lseInit, "lse_init");
                long start = System.nanoTime();
                backend.mergeState(oa, sa, ob, sb, o, s);
                backend.synchronize();
                result.millis = (System.nanoTime() - start) / 1e6;
                result.put("o", in.download(o)).put("lse", in.download(s));
            }
            case "merge_state_in_place" -> {
                Tensor o = in.device(files[0], dtype);
                Tensor s = in.device(files[1], DType.F32);
                Tensor oo = in.device(files[2], dtype);
                Tensor so = in.device(files[3], DType.F32);
                long start = System.nanoTime();
                backend.mergeStateInPlace(o, s, oo, so, rowMask);
                backend.synchronize();
                result.millis = (System.nanoTime() - start) / 1e6;
                result.put("o", in.download(o)).put("lse", in.download(s));
            }
            default -> {
                HostTensor hv = in.host(files[0], dtype);
                if (hv.rank() != 4) {
                    throw new NpyException(files[0] + ": \"o\" of merge_states must be [rows, n, Hq, D], found "
                            + Arrays.toString(hv.shape()));
                }
                Tensor v = in.upload(hv);
                Tensor s = in.device(files[1], DType.F32);
                Tensor o = in.output(dtype, new long[] {hv.dim(0), hv.dim(2), hv.dim(3)}, oInit, "o_init");
                Tensor sOut = in.output(DType.F32, new long[] {hv.dim(0), hv.dim(2)}, lseInit, "lse_init");
                long start = System.nanoTime();
                backend.mergeStates(v, s, o, sOut);
                backend.synchronize();
                result.millis = (System.nanoTime() - start) / 1e6;
                result.put("o", in.download(o)).put("lse", in.download(sOut));
            }
        }
        return result;
    }
}
