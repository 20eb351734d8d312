/**
 * The conformance suite every attn4j backend must pass (spec §9): subclass
 * {@link org.attn4j.conformance.AttentionConformanceSuite} and name the backend.
 */
package org.attn4j.conformance;
