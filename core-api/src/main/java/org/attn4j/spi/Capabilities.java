package org.attn4j.spi;

import java.util.Set;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;

/**
 * What a backend supports. Calls outside it are rejected by validation before device work, so a
 * backend never checks these itself. Immutable (sets are copied) and thread-safe.
 *
 * @param qDtypes        query (and output) dtypes
 * @param kvDtypes       KV cache dtypes
 * @param minHeadDim     smallest head dim
 * @param maxHeadDim     largest head dim
 * @param headDimStep    head dims must be multiples of this (1: any)
 * @param layouts        KV layouts
 * @param features       optional features present
 * @param externalMemory kinds of caller memory {@code wrap} takes
 * @param minAlignment   bytes the attention kernels need every q, o and K/V view to start on and
 *                       stride by, a power of two (1: any); plans assuming less are rejected
 */
public record Capabilities(Set<DType> qDtypes, Set<DType> kvDtypes, int minHeadDim, int maxHeadDim, int headDimStep,
                           Set<KvLayout> layouts, Set<Feature> features, Set<ExternalMemory.Kind> externalMemory,
                           int minAlignment) {
    /**
     * Copies the sets.
     *
     * @throws IllegalArgumentException when {@code minAlignment} is not a power of two
     */
    public Capabilities {
        if (minAlignment < 1 || Integer.bitCount(minAlignment) != 1) {
            throw new IllegalArgumentException("minAlignment: expected a power of two, actual " + minAlignment);
        }
        qDtypes = Set.copyOf(qDtypes);
        kvDtypes = Set.copyOf(kvDtypes);
        layouts = Set.copyOf(layouts);
        features = Set.copyOf(features);
        externalMemory = Set.copyOf(externalMemory);
    }

    /**
     * Kernels that take views at any alignment.
     *
     * @param qDtypes     query (and output) dtypes
     * @param kvDtypes    KV cache dtypes
     * @param minHeadDim  smallest head dim
     * @param maxHeadDim  largest head dim
     * @param headDimStep head dims must be multiples of this (1: any)
     * @param layouts     KV layouts
     * @param features    optional features present
     * @param externalMemory kinds of caller memory {@code wrap} takes
     */
    public Capabilities(Set<DType> qDtypes, Set<DType> kvDtypes, int minHeadDim, int maxHeadDim, int headDimStep,
                        Set<KvLayout> layouts, Set<Feature> features, Set<ExternalMemory.Kind> externalMemory) {
        this(qDtypes, kvDtypes, minHeadDim, maxHeadDim, headDimStep, layouts, features, externalMemory, 1);
    }

    /**
     * Without caller memory, at any alignment.
     *
     * @param qDtypes     query (and output) dtypes
     * @param kvDtypes    KV cache dtypes
     * @param minHeadDim  smallest head dim
     * @param maxHeadDim  largest head dim
     * @param headDimStep head dims must be multiples of this (1: any)
     * @param layouts     KV layouts
     * @param features    optional features present
     */
    public Capabilities(Set<DType> qDtypes, Set<DType> kvDtypes, int minHeadDim, int maxHeadDim, int headDimStep,
                        Set<KvLayout> layouts, Set<Feature> features) {
        this(qDtypes, kvDtypes, minHeadDim, maxHeadDim, headDimStep, layouts, features, Set.of());
    }

    /**
     * Whether head dim {@code d} is supported.
     *
     * @param d a head dim
     * @return true when it is in range and a multiple of the step
     */
    public boolean supportsHeadDim(int d) {
        return d >= minHeadDim && d <= maxHeadDim && d % headDimStep == 0;
    }

    /**
     * Whether the feature is present.
     *
     * @param f a feature
     * @return true when the backend has it
     */
    public boolean has(Feature f) {
        return features.contains(f);
    }

    /**
     * The supported head dims in words, for messages.
     *
     * @return such as {@code multiples of 16 in [32, 256]}
     */
    public String headDimsDescription() {
        return headDimStep == 1 ? "[" + minHeadDim + ", " + maxHeadDim + "]"
                : "multiples of " + headDimStep + " in [" + minHeadDim + ", " + maxHeadDim + "]";
    }
}
