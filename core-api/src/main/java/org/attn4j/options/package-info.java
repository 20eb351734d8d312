/**
 * What an attention call computes and how it is scheduled: head counts, masks and logit options,
 * rotary embeddings, custom masks and plan options. Immutable values, validated on construction.
 */
package org.attn4j.options;
