/**
 * The pure-Java reference backend: double accumulation on the host, the oracle every other
 * backend is judged against.
 */
module org.attn4j.reference {
    requires transitive org.attn4j.core;

    exports org.attn4j.reference;

    provides org.attn4j.spi.BackendProvider with org.attn4j.reference.ReferenceBackendProvider;
}
