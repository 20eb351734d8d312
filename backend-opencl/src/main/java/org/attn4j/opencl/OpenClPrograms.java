package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.attn4j.error.BackendException;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_program;

/**
 * Builds kernel programs at first use, one per (source, build options), and keeps them for the
 * session's context. A failed build throws with the compiler's log.
 *
 * <p>With {@code -Dattn4j.opencl.dumpPrograms=DIR}, each program the session builds is written to
 * DIR as the device compiled it (CL_PROGRAM_BINARIES: PTX on NVIDIA's OpenCL), beside its options
 * and build log; on NVIDIA the build then asks for {@code -cl-nv-verbose}, so the log carries the
 * assembler's register and spill counts. For kernel work: what the driver's compiler made of a
 * kernel is otherwise visible only through its speed. {@code -Dattn4j.opencl.buildOptions} adds
 * options after every build's own, to try a compiler option or another value of a kernel's
 * compile-time define without changing the code.
 */
final class OpenClPrograms implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(OpenClPrograms.class.getName());
    private static final String COMMON = load("common.cl");
    /** What the attention flavours share (flags, arguments, masks, logit, softmax), built into each of them. */
    private static final String VARIANTS = load("variants.cl");
    private static final Set<String> ATTENTION_SOURCES = Set.of("attention.cl", "attention_mma.cl", "decode_stream.cl");

    private final cl_context context;
    private final cl_device_id device;
    private final String baseOptions;
    private final Path dumpDir;
    /** Options after each build's own, so a define given here overrides the kernel's. */
    private final String extraOptions;
    private final Map<String, cl_program> programs = new HashMap<>();
    private final Map<String, cl_kernel> kernels = new HashMap<>();

    /** @param nvidia whether the device is NVIDIA's (its compiler takes {@code -cl-nv-verbose}) */
    OpenClPrograms(cl_context context, cl_device_id device, boolean correctDivide, boolean nvidia) {
        this.context = context;
        this.device = device;
        this.dumpDir = dumpDir(System.getProperty("attn4j.opencl.dumpPrograms"));
        this.baseOptions = "-cl-std=CL1.2" + (correctDivide ? " -cl-fp32-correctly-rounded-divide-sqrt" : "")
                + (dumpDir != null && nvidia ? " -cl-nv-verbose" : "");
        String extra = System.getProperty("attn4j.opencl.buildOptions", "").trim();
        this.extraOptions = extra.isEmpty() ? "" : " " + extra;
    }

    /** The kernel {@code name} of {@code resource} built with {@code defines} ("-DX=1 ..."). */
    synchronized cl_kernel kernel(String resource, String name, String defines) {
        String programKey = resource + " " + defines;
        String kernelKey = programKey + " #" + name;
        cl_kernel k = kernels.get(kernelKey);
        if (k == null) {
            cl_program program = programs.computeIfAbsent(programKey, key -> build(resource, defines));
            k = ClCalls.call("clCreateKernel(" + name + ")", () -> clCreateKernel(program, name, null));
            kernels.put(kernelKey, k);
        }
        return k;
    }

    private cl_program build(String resource, String defines) {
        String source = COMMON + "\n" + (ATTENTION_SOURCES.contains(resource) ? VARIANTS + "\n" : "")
                + load(resource);
        String options = baseOptions + " " + defines + extraOptions;
        long t0 = System.nanoTime();
        cl_program program;
        try {
            program = buildOnce(resource, source, options);
        } catch (FailedBuild first) {
            // A compile of our own source is deterministic; a driver's can still fail for reasons of its
            // own (its kernel cache, temporary files, memory). One more try tells the two apart.
            LOG.log(System.Logger.Level.WARNING, "clBuildProgram({0}, \"{1}\") failed ({2}); trying once more",
                    resource, options, first.getMessage());
            try {
                program = buildOnce(resource, source, options);
            } catch (FailedBuild second) {
                throw new BackendException(ClCalls.BACKEND, second.getMessage() + " in clBuildProgram(" + resource
                        + ", \"" + options + "\"), twice; build log:\n" + second.buildLog(), second.cause());
            }
        }
        LOG.log(System.Logger.Level.DEBUG, "built {0} [{1}] in {2} ms", resource, defines,
                (System.nanoTime() - t0) / 1_000_000);
        if (dumpDir != null) {
            dump(program, resource, options);
        }
        return program;
    }

    /** The dump folder the property names, or null: none, or a path this system cannot take (logged). */
    private static Path dumpDir(String property) {
        if (property == null || property.isBlank()) {
            return null;
        }
        try {
            return Path.of(property);
        } catch (java.nio.file.InvalidPathException e) {
            LOG.log(System.Logger.Level.WARNING, "attn4j.opencl.dumpPrograms: not a path, nothing dumped: {0}",
                    e.getMessage());
            return null;
        }
    }

    /** Writes the program's binary, options and build log to the dump folder; a failure only logs. */
    private void dump(cl_program program, String resource, String options) {
        String stem = resource.replace(".cl", "") + "-" + Integer.toHexString(options.hashCode());
        try {
            long[] size = new long[1];
            clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, Sizeof.size_t, Pointer.to(size), null);
            byte[] binary = new byte[(int) size[0]];
            clGetProgramInfo(program, CL_PROGRAM_BINARIES, Sizeof.POINTER, Pointer.to(new Pointer[] {Pointer.to(binary)}),
                    null);
            Files.createDirectories(dumpDir);
            Files.write(dumpDir.resolve(stem + ".bin"), binary);
            Files.writeString(dumpDir.resolve(stem + ".log"), options + "\n\n" + buildLog(program) + "\n");
        } catch (IOException | CLException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot dump program {0} to {1}: {2}", stem, dumpDir, e.toString());
        }
    }

    /** A build that failed: the driver's status and the compiler's log. */
    private static final class FailedBuild extends Exception {
        private final String buildLog;

        FailedBuild(CLException cause, String buildLog) {
            super(stringFor_errorCode(cause.getStatus()), cause);
            this.buildLog = buildLog;
        }

        String buildLog() {
            return buildLog;
        }

        CLException cause() {
            return (CLException) getCause();
        }
    }

    private cl_program buildOnce(String resource, String source, String options) throws FailedBuild {
        cl_program program = ClCalls.call("clCreateProgramWithSource(" + resource + ")",
                () -> clCreateProgramWithSource(context, 1, new String[] {source}, null, null));
        try {
            clBuildProgram(program, 1, new cl_device_id[] {device}, options, null, null);
            return program;
        } catch (CLException e) {
            String log = buildLog(program);
            clReleaseProgram(program);
            throw new FailedBuild(e, log);
        }
    }

    private String buildLog(cl_program program) {
        try {
            long[] size = new long[1];
            clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, null, size);
            byte[] buf = new byte[(int) size[0]];
            clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, buf.length, Pointer.to(buf), null);
            return new String(buf, StandardCharsets.UTF_8).trim();
        } catch (CLException e) {
            return "(no build log: " + stringFor_errorCode(e.getStatus()) + ")";
        }
    }

    private static String load(String resource) {
        try (InputStream in = OpenClPrograms.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + resource + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void close() {
        kernels.values().forEach(k -> clReleaseKernel(k));
        programs.values().forEach(p -> clReleaseProgram(p));
        kernels.clear();
        programs.clear();
    }
}
