/**
 * attn4j's conformance suite: the property-based checks every backend passes against the
 * reference (spec §9). A backend's test subclasses {@link org.attn4j.conformance.AttentionConformanceSuite}.
 * Every package is exported: backends' own tests reuse the generators, checks and operations.
 */
module org.attn4j.conformance {
    requires transitive org.attn4j.core;
    requires transitive org.junit.jupiter.api;

    exports org.attn4j.conformance;
    exports org.attn4j.conformance.cases;
    exports org.attn4j.conformance.check;
    exports org.attn4j.conformance.harness;
    exports org.attn4j.conformance.ops;
    exports org.attn4j.conformance.properties;

    // JUnit finds and calls the suite's test methods, and its display name generator, reflectively.
    opens org.attn4j.conformance to org.junit.platform.commons;
}
