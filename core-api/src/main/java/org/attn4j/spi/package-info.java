/**
 * The service-provider interface backends implement: a {@link org.attn4j.spi.BackendProvider}
 * registered with {@link java.util.ServiceLoader}, a {@link org.attn4j.spi.BackendSession} per
 * opened device, and {@link org.attn4j.spi.KernelPlan}s for batch attention. Validation happens
 * before any of these are called, in {@link org.attn4j.AttentionBackend}.
 */
package org.attn4j.spi;
