package org.attn4j.conformance.properties;

import java.util.EnumSet;
import java.util.Set;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;

/** Why a backend cannot take a case, from its {@link Capabilities}; null when it can. */
final class Support {
    private Support() {}

    /** Features only the backend under test exercises; the oracle computes the same without them. */
    private static final Set<Feature> SUBJECT_ONLY = EnumSet.of(Feature.GRAPH_CAPTURE);

    static String reason(Subject s, AttentionCase c, Set<Feature> needed) {
        String r = reason(s.capabilities(), c, needed);
        if (r != null || !s.hasOracleBackend()) {
            return r;
        }
        EnumSet<Feature> oracleNeeds = needed.isEmpty() ? EnumSet.noneOf(Feature.class) : EnumSet.copyOf(needed);
        oracleNeeds.removeAll(SUBJECT_ONLY);
        r = reason(s.oracle().capabilities(), c, oracleNeeds);
        return r == null ? null : "oracle: " + r;
    }

    static String reason(Capabilities caps, AttentionCase c, Set<Feature> needed) {
        if (!caps.qDtypes().contains(c.qDtype())) {
            return "q dtype " + c.qDtype() + " unsupported";
        }
        if (!caps.kvDtypes().contains(c.kvDtype())) {
            return "KV dtype " + c.kvDtype() + " unsupported";
        }
        for (int d : new int[] {c.headDimQk(), c.headDimVo()}) {
            if (!caps.supportsHeadDim(d)) {
                return "head dim " + d + " unsupported (" + caps.headDimsDescription() + ")";
            }
        }
        if (!c.sameHeadDims() && !caps.has(Feature.DISTINCT_VO_HEAD_DIM)) {
            return "feature " + Feature.DISTINCT_VO_HEAD_DIM + " absent";
        }
        if (!caps.layouts().contains(c.layout())) {
            return "layout " + c.layout() + " unsupported";
        }
        EnumSet<Feature> need = needed.isEmpty() ? EnumSet.noneOf(Feature.class) : EnumSet.copyOf(needed);
        need.addAll(features(c));
        for (Feature f : need) {
            if (!caps.has(f)) {
                return "feature " + f + " absent";
            }
        }
        return null;
    }

    static String reason(Capabilities caps, DType dtype, Set<Feature> needed) {
        if (!caps.qDtypes().contains(dtype)) {
            return "dtype " + dtype + " unsupported";
        }
        for (Feature f : needed) {
            if (!caps.has(f)) {
                return "feature " + f + " absent";
            }
        }
        return null;
    }

    static String reason(Subject s, DType dtype, Set<Feature> needed) {
        String r = reason(s.capabilities(), dtype, needed);
        if (r != null || !s.hasOracleBackend()) {
            return r;
        }
        r = reason(s.oracle().capabilities(), dtype, needed);
        return r == null ? null : "oracle: " + r;
    }

    /** The features a case's options use. */
    static EnumSet<Feature> features(AttentionCase c) {
        EnumSet<Feature> f = EnumSet.noneOf(Feature.class);
        if (c.causal()) {
            f.add(Feature.CAUSAL);
        }
        if (c.windowLeft() >= 0) {
            f.add(Feature.SLIDING_WINDOW);
        }
        if (c.softCap() > 0) {
            f.add(Feature.SOFT_CAP);
        }
        if (c.rope() != AttentionCase.RopeKind.NONE) {
            f.add(Feature.ROPE);
        }
        if (c.mask() != AttentionCase.MaskKind.NONE) {
            f.add(Feature.CUSTOM_MASK);
        }
        if (c.lse()) {
            f.add(Feature.LSE);
        }
        if (c.sinks() != AttentionCase.SinkKind.NONE) {
            f.add(Feature.SINKS);
        }
        if (c.alibi() != AttentionCase.AlibiKind.NONE) {
            f.add(Feature.ALIBI);
        }
        if (c.scaleKind() == AttentionCase.ScaleKind.PER_HEAD) {
            f.add(Feature.KV_SCALES_PER_HEAD);
        }
        if (c.scaleKind() == AttentionCase.ScaleKind.PER_TOKEN) {
            f.add(Feature.KV_SCALES_PER_TOKEN);
        }
        return f;
    }
}
