package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Loads a call's files onto a backend and frees everything it loaded or allocated when closed. */
final class Inputs implements AutoCloseable {
    final AttentionBackend backend;
    private final List<AutoCloseable> resources = new ArrayList<>();

    Inputs(AttentionBackend backend) {
        this.backend = backend;
    }

    <T extends AutoCloseable> T keep(T t) {
        resources.add(t);
        return t;
    }

    /**
     * The declared dtype, else the one the file's descriptor names; raw-bit files ({@code <u2},
     * {@code |u1}) need the declaration, named by {@code key}.
     */
    static DType dtypeOf(Path file, DType declared, String key) throws IOException {
        if (declared != null) {
            return declared;
        }
        String descr = Npy.header(file).descr();
        DType inferred = Npy.infer(descr);
        if (inferred == null) {
            throw new NpyException(file + ": holds raw '" + descr + "'; name its dtype with \"" + key
                    + "\" (bf16 or f16 for '<u2', fp8_e4m3 or fp8_e5m2 for '|u1')");
        }
        return inferred;
    }

    HostTensor host(Path file, DType dtype) throws IOException {
        return keep(Npy.read(file, dtype));
    }

    Tensor upload(HostTensor h) {
        return keep(backend.upload(h));
    }

    Tensor device(Path file, DType dtype) throws IOException {
        return upload(host(file, dtype));
    }

    Tensor allocate(DType dtype, long... shape) {
        return keep(backend.allocate(dtype, shape));
    }

    /**
     * An output tensor; with {@code init} the caller provides its contents first (uploaded into
     * the allocated tensor), so elements the call leaves alone keep them.
     */
    Tensor output(DType dtype, long[] shape, Path init, String key) throws IOException {
        return output(dtype, shape, init, key, shape);
    }

    /** As {@link #output(DType, long[], Path, String)}, the file holding {@code fileShape} (as many elements). */
    Tensor output(DType dtype, long[] shape, Path init, String key, long[] fileShape) throws IOException {
        Tensor t = allocate(dtype, shape);
        if (init != null) {
            HostTensor h = host(init, dtype);
            if (!Arrays.equals(h.shape(), fileShape)) {
                throw new NpyException(init + ": \"" + key + "\" has shape " + Arrays.toString(h.shape())
                        + ", the output is " + Arrays.toString(fileShape));
            }
            backend.upload(HostTensor.wrap(h.segment(), dtype, shape), t);
        }
        return t;
    }

    /** Downloads into a host tensor allocated here (the caller-provided form of download). */
    HostTensor download(Tensor t) {
        HostTensor h = keep(HostTensor.allocate(t.dtype(), t.shape()));
        backend.download(t, h);
        return h;
    }

    /** Downloads and views the result under another shape with as many elements. */
    HostTensor download(Tensor t, long... shape) {
        HostTensor h = download(t);
        return HostTensor.wrap(h.segment(), h.dtype(), shape);
    }

    @Override
    public void close() {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // freeing scratch memory; the call's outcome is already decided
            }
        }
        resources.clear();
    }
}
