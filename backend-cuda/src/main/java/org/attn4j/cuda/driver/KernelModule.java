package org.attn4j.cuda.driver;

/** A loaded code image; functions are looked up by their extern "C" names. */
public interface KernelModule extends AutoCloseable {
    KernelFunction function(String name);

    @Override
    void close();
}
