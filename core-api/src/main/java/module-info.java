/**
 * attn4j's dependency-free core: the public API users program against and the SPI that
 * backends implement. Backends are found with {@link java.util.ServiceLoader}.
 */
module org.attn4j.core {
    requires java.logging;

    exports org.attn4j;
    exports org.attn4j.error;
    exports org.attn4j.options;
    exports org.attn4j.tensor;
    exports org.attn4j.kv;
    exports org.attn4j.parallel;
    exports org.attn4j.spi;

    uses org.attn4j.spi.BackendProvider;
}
