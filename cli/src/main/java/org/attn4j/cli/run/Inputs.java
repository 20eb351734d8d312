package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.cli.CliException;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Loads a call's files onto a backend and frees everything it loaded or allocated when closed. */
final class Inputs implements AutoCloseable {
    final AttentionBackend backend;
    private final List<AutoCloseable> resources = new ArrayList<>();
    /** Device copies of files that views read, one per file, so views of one file share memory. */
    private final Map<Path, Tensor> viewedFiles = new HashMap<>();
    /** Each view handed out, with the file buffer it views and where it starts there. */
    private final Map<Tensor, ViewOrigin> views = new IdentityHashMap<>();

    private record ViewOrigin(Tensor base, long offset) {}

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

    /**
     * The source's tensor on the device: a whole file uploaded, or a view (spec §11) into the
     * file's device copy, which every view of that file shares. The view's extent is checked by
     * core-api against the file's elements.
     */
    Tensor device(TensorSource src, DType dtype) throws IOException {
        if (!src.isView()) {
            return device(src.file(), dtype);
        }
        Path file = src.file().toAbsolutePath().normalize();
        Tensor base = viewedFiles.get(file);
        if (base == null) {
            HostTensor h = host(file, dtype);
            base = upload(HostTensor.wrap(h.segment(), dtype, h.elementCount()));
            viewedFiles.put(file, base);
        } else if (base.dtype() != dtype) {
            throw new NpyException(file + ": viewed as " + base.dtype() + " and as " + dtype + " in one call");
        }
        Tensor view;
        try {
            view = keep(base.view(src.offset(), src.shape(), src.strides()));
        } catch (InvalidArgumentException e) {
            throw new CliException("\"" + src.key() + "\" views " + file.getFileName() + ": " + e.getMessage());
        }
        views.put(view, new ViewOrigin(base, src.offset()));
        return view;
    }

    /** {@code view} (one {@link #device(TensorSource, DType)} made) with a leading dimension of 1. */
    Tensor withLeadingOne(Tensor view) {
        ViewOrigin origin = views.get(view);
        long[] shape = new long[view.rank() + 1];
        long[] strides = new long[shape.length];
        shape[0] = 1;
        strides[0] = view.strides()[0] * view.shape()[0];
        System.arraycopy(view.shape(), 0, shape, 1, view.rank());
        System.arraycopy(view.strides(), 0, strides, 1, view.rank());
        Tensor t = keep(origin.base().view(origin.offset(), shape, strides));
        views.put(t, origin);
        return t;
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

    /**
     * Downloads into a host tensor allocated here (the caller-provided form of download); a view
     * comes back contiguous in its own shape, gathered from its file buffer.
     */
    HostTensor download(Tensor t) {
        HostTensor h = keep(HostTensor.allocate(t.dtype(), t.shape()));
        ViewOrigin origin = views.get(t);
        if (origin == null) {
            backend.download(t, h);
            return h;
        }
        try (HostTensor all = backend.download(origin.base())) {
            long[] shape = t.shape();
            long[] strides = t.strides();
            long[] index = new long[shape.length];
            for (long i = 0; i < h.elementCount(); i++) {
                long at = origin.offset();
                for (int d = 0; d < shape.length; d++) {
                    at += index[d] * strides[d];
                }
                h.setBits(i, all.getBits(at));
                for (int d = shape.length - 1; d >= 0 && ++index[d] == shape[d]; d--) {
                    index[d] = 0;
                }
            }
        }
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
