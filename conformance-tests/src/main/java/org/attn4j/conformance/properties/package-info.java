/**
 * spec §9's properties, each over generated cases: agreement with the oracle, metamorphic laws
 * (layouts, paging, garbage, batching, masks, cascade, split and merge, append), the merge laws,
 * standalone RoPE, determinism, and the rejection of invalid inputs.
 */
package org.attn4j.conformance.properties;
