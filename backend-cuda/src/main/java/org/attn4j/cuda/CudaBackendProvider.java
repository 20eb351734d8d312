package org.attn4j.cuda;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.cuda.driver.CudaDriver;
import org.attn4j.cuda.driver.DeviceInfo;
import org.attn4j.kv.KvLayout;
import org.attn4j.spi.AbstractBackendProvider;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;

/**
 * The CUDA backend: JCuda's driver API and kernels nvcc built into one fatbin. Loading this class
 * touches no native code; {@link #probe()} loads JCuda and asks the driver for devices.
 *
 * <p>Thread-safe, as every provider.
 */
public final class CudaBackendProvider extends AbstractBackendProvider {
    /**
     * The provider id, {@code cuda}.
     */
    public static final String ID = "cuda";

    /** A provider, as {@link java.util.ServiceLoader} makes it. */
    public CudaBackendProvider() {}
    /** Oldest compute capability the kernels are built for (sm_80, Ampere). */
    static final int MIN_COMPUTE_CAPABILITY = 80;

    /**
     * F16 and BF16 q at head dims that are multiples of 16 run on the Tensor Core kernels, and so
     * does prefill with K/V of q's type at every multiple of 8 on compute capability 9.0 (wgmma);
     * F32 q, F32 K/V (with F16 or BF16 q) and other head dims that are multiples of 8 only run the
     * CUDA-core kernel (attention/generic.cuh). Every kernel reads K/V rows at least as 8-byte vectors. Every
     * kernel takes sinks and ALiBi (attention/variant.cuh, attention/state.cuh), and scalar and
     * per-head KV scales; per-token ones (FP8 caches) run on the Tensor Core decode, Tensor Core
     * and CUDA-core kernels, a wgmma prefill plan switching to its Tensor Core fallback when such a
     * cache is run (CudaAttentionPlan), and append computes and writes them (kv/kvops.cuh). V and
     * o rows of another head dim than q and K (DISTINCT_VO_HEAD_DIM) run on the Tensor Core and
     * CUDA-core kernels, which read V with its own strides; the streaming decode and query-tiled
     * prefill kernels take one head dim and give way to the Tensor Core kernel when V pages stride
     * differently from K's.
     */
    static final Capabilities CAPABILITIES = new Capabilities(
            Set.of(DType.F16, DType.BF16, DType.F32),
            Set.of(DType.F16, DType.BF16, DType.F32, DType.FP8_E4M3, DType.FP8_E5M2),
            32, 256, 8,
            Set.of(KvLayout.NHD, KvLayout.HND),
            EnumSet.of(Feature.DECODE, Feature.PREFILL, Feature.CAUSAL, Feature.SLIDING_WINDOW, Feature.SOFT_CAP,
                    Feature.CUSTOM_MASK, Feature.ROPE, Feature.LSE, Feature.MERGE, Feature.APPEND,
                    Feature.STANDALONE_ROPE, Feature.CASCADE, Feature.DETERMINISTIC, Feature.DEVICE_METADATA,
                    Feature.GRAPH_CAPTURE, Feature.SINKS, Feature.ALIBI, Feature.DISTINCT_VO_HEAD_DIM,
                    Feature.KV_SCALES_PER_HEAD, Feature.KV_SCALES_PER_TOKEN, Feature.MLA,
                    Feature.FP8_QUERY),
            Set.of(ExternalMemory.Kind.CUDA_DEVICE_POINTER), CudaAttentionPlan.MIN_ALIGNMENT);

    @Override
    public String id() {
        return ID;
    }

    @Override
    public int priority() {
        return 300;
    }

    @Override
    protected Probe doProbe() {
        if (!CudaKernels.present()) {
            return Probe.unavailable("built without kernels: nvcc was not found when attn4j-backend-cuda was built");
        }
        CudaDriver driver = CudaDriver.jcuda();
        try {
            driver.init();
        } catch (Throwable t) {
            return Probe.unavailable("CUDA driver unavailable (JCuda or libcuda.so.1 could not be loaded or "
                    + "initialised): " + describe(t));
        }
        List<DeviceInfo> devices = driver.devices();
        if (devices.isEmpty()) {
            return Probe.unavailable("no CUDA device");
        }
        List<String> usable = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        for (DeviceInfo d : devices) {
            if (d.computeCapability() < MIN_COMPUTE_CAPABILITY) {
                reasons.add("device " + d.ordinal() + " " + d.describe() + ": compute capability "
                        + d.major() + "." + d.minor() + " < 8.0");
            } else {
                usable.add(d.ordinal() + ": " + d.describe() + ", driver CUDA " + version(driver.driverVersion()));
            }
        }
        return usable.isEmpty() ? new Probe(false, reasons, List.of()) : Probe.available(usable);
    }

    private static String version(int v) {
        return (v / 1000) + "." + (v % 1000 / 10);
    }

    /** The throwable and its root cause, first lines only: JCuda's messages embed whole stack traces. */
    private static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = firstLine(t);
        return root == t ? m : m + " (cause: " + firstLine(root) + ")";
    }

    private static String firstLine(Throwable t) {
        String msg = t.getMessage() == null ? "" : t.getMessage().strip();
        int nl = msg.indexOf('\n');
        return t.getClass().getSimpleName() + (msg.isEmpty() ? "" : ": " + (nl < 0 ? msg : msg.substring(0, nl)));
    }

    @Override
    public BackendSession open(BackendOptions options) {
        BackendOptions o = options == null ? BackendOptions.DEFAULT : options;
        // Settings are checked before the device: a mistake in them is reported on any host.
        CudaKernelSettings kernelSettings = CudaKernelSettings.of(o);
        Probe p = probe();
        if (!p.available()) {
            throw new BackendUnavailableException(ID + " is unavailable: " + String.join("; ", p.reasons()));
        }
        CudaDriver driver = CudaDriver.jcuda();
        driver.init();
        DeviceInfo chosen = choose(driver.devices(), o.get(ID, "device"));
        Long stream = o.handle("stream");
        return new CudaSession(driver.open(chosen.ordinal(), stream == null ? 0 : stream), kernelSettings);
    }

    private static DeviceInfo choose(List<DeviceInfo> devices, String wanted) {
        List<DeviceInfo> ok = devices.stream().filter(d -> d.computeCapability() >= MIN_COMPUTE_CAPABILITY).toList();
        if (wanted == null || wanted.isBlank()) {
            return ok.getFirst();
        }
        for (DeviceInfo d : ok) {
            if (wanted.equals(Integer.toString(d.ordinal()))
                    || d.name().toLowerCase(Locale.ROOT).contains(wanted.toLowerCase(Locale.ROOT))) {
                return d;
            }
        }
        throw new BackendUnavailableException("cuda: no usable device matches '" + wanted + "'; usable: "
                + ok.stream().map(DeviceInfo::describe).toList());
    }
}
