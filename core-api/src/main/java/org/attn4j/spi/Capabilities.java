package org.attn4j.spi;

import java.util.Set;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;

/**
 * What a backend supports. Calls outside it are rejected by validation before device work, so a
 * backend never checks these itself.
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

    /** Kernels that take views at any alignment. */
    public Capabilities(Set<DType> qDtypes, Set<DType> kvDtypes, int minHeadDim, int maxHeadDim, int headDimStep,
                        Set<KvLayout> layouts, Set<Feature> features, Set<ExternalMemory.Kind> externalMemory) {
        this(qDtypes, kvDtypes, minHeadDim, maxHeadDim, headDimStep, layouts, features, externalMemory, 1);
    }

    /** Without caller memory. */
    public Capabilities(Set<DType> qDtypes, Set<DType> kvDtypes, int minHeadDim, int maxHeadDim, int headDimStep,
                        Set<KvLayout> layouts, Set<Feature> features) {
        this(qDtypes, kvDtypes, minHeadDim, maxHeadDim, headDimStep, layouts, features, Set.of());
    }

    public boolean supportsHeadDim(int d) {
        return d >= minHeadDim && d <= maxHeadDim && d % headDimStep == 0;
    }

    public boolean has(Feature f) {
        return features.contains(f);
    }

    public String headDimsDescription() {
        return headDimStep == 1 ? "[" + minHeadDim + ", " + maxHeadDim + "]"
                : "multiples of " + headDimStep + " in [" + minHeadDim + ", " + maxHeadDim + "]";
    }
}
