package org.attn4j.cuda;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendOptions;

/**
 * Which attention kernels a CUDA backend's plans may choose, read once from its
 * {@link BackendOptions} when it opens (each setting also a system property
 * {@code attn4j.cuda.<key>}). Plans decide from these and the problem; a forced kernel that cannot
 * run a problem (another head dim, dtype pair, RoPE on the fly) gives way to the Tensor Core one.
 *
 * @param decode      {@value #DECODE_KERNEL}
 * @param prefill     {@value #PREFILL_KERNEL}
 * @param streamWaves {@value #STREAM_WAVES}: rounds of resident blocks the streaming decode grid
 *                    aims at; more, shorter blocks shorten the tail, fewer pay less start-up per
 *                    byte. On an H200, 2 was best or within noise of it for both streaming kernels
 *                    on decode-llama8b and decode-long (1, 2, 4 and 8 measured).
 * @param mla         {@value #MLA_KERNEL}
 */
record CudaKernelSettings(DecodeKernel decode, PrefillKernel prefill, int streamWaves, MlaKernel mla) {
    /** Setting: the decode kernel, one of {@link DecodeKernel}'s ids. */
    static final String DECODE_KERNEL = "decodeKernel";
    /** Setting: the prefill kernel, one of {@link PrefillKernel}'s ids. */
    static final String PREFILL_KERNEL = "prefillKernel";
    /** Setting: a positive integer. */
    static final String STREAM_WAVES = "streamWaves";
    /** Setting: the MLA kernel, one of {@link MlaKernel}'s ids. */
    static final String MLA_KERNEL = "mlaKernel";
    static final int DEFAULT_STREAM_WAVES = 2;

    static final CudaKernelSettings DEFAULT =
            new CudaKernelSettings(DecodeKernel.AUTO, PrefillKernel.WGMMA, DEFAULT_STREAM_WAVES, MlaKernel.WGMMA);

    /**
     * The decode kernels: {@code auto} (the default: {@code stream} without grouping where it
     * runs, {@code mma} otherwise), {@code tc} (the Tensor Core attention of attention/tensor_core.cuh, every dtype
     * pair), {@code stream} (attention/decode_stream.cuh: K/V of q's type, head dims 64 and 128, groups up to
     * 8) or {@code mma} (attention/decode_mma.cuh: K/V of q's type or FP8, head dims 64, 80, 96, 128 and 256,
     * groups up to 16). Other problems run {@code tc}.
     */
    enum DecodeKernel {
        AUTO, TC, STREAM, MMA
    }

    /**
     * The prefill kernels: {@code wgmma} (the default: hopper/prefill_wgmma.cuh on compute capability
     * 9.0, fa2 elsewhere), {@code fa2} (attention/prefill_fa2.cuh) or {@code tc} (attention/tensor_core.cuh, every dtype pair).
     * wgmma takes K/V of q's type at every head dim that is a multiple of 8 up to 256 (64, 80, 96,
     * 128, 192 and 256 on kernels of their own, the others zero-padded to the layout of 64, 128 or 256)
     * and FP8 K/V at 64, 80, 96 and 128, fa2 K/V of q's type at 64 and 128; other problems run
     * {@code tc}.
     */
    enum PrefillKernel {
        WGMMA, FA2, TC
    }

    /**
     * The MLA kernels of Tensor Core problems: {@code wgmma} (the default: hopper/mla_wgmma.cuh on
     * compute capability 9.0 for DeepSeek's dims, latent 512 and rotary 64, q and cache of one
     * 16-bit type, equal scales, 16-byte rows; every other problem and device runs {@code mma}) or
     * {@code mma} (attention/mla.cuh, mma.sync, everywhere). Every problem the Tensor Core kernels
     * cannot take runs the CUDA-core kernel.
     */
    enum MlaKernel {
        MMA, WGMMA
    }

    CudaKernelSettings {
        if (streamWaves < 1) {
            throw InvalidArgumentException.expected(argument(STREAM_WAVES), "a positive integer", streamWaves);
        }
    }

    /** The settings {@code options} give; unset ones keep their defaults. */
    static CudaKernelSettings of(BackendOptions options) {
        BackendOptions o = options == null ? BackendOptions.DEFAULT : options;
        return new CudaKernelSettings(
                choice(DECODE_KERNEL, o.get(CudaBackendProvider.ID, DECODE_KERNEL), DecodeKernel.class,
                        DEFAULT.decode()),
                choice(PREFILL_KERNEL, o.get(CudaBackendProvider.ID, PREFILL_KERNEL), PrefillKernel.class,
                        DEFAULT.prefill()),
                positive(STREAM_WAVES, o.get(CudaBackendProvider.ID, STREAM_WAVES), DEFAULT.streamWaves()),
                choice(MLA_KERNEL, o.get(CudaBackendProvider.ID, MLA_KERNEL), MlaKernel.class, DEFAULT.mla()));
    }

    private static <E extends Enum<E>> E choice(String key, String value, Class<E> kinds, E fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        for (E k : kinds.getEnumConstants()) {
            if (k.name().equalsIgnoreCase(value.trim())) {
                return k;
            }
        }
        String allowed = Arrays.stream(kinds.getEnumConstants())
                .map(k -> k.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
        throw InvalidArgumentException.expected(argument(key), "one of " + allowed, "'" + value + "'");
    }

    private static int positive(String key, String value, int fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw InvalidArgumentException.expected(argument(key), "a positive integer", "'" + value + "'");
    }

    /** How errors name a setting: its key and the system property that can also give it. */
    private static String argument(String key) {
        return "cuda setting " + key + " (attn4j.cuda." + key + ")";
    }
}
