/**
 * The reference backend (id {@code reference}): every operation of spec §3–§6 written as
 * plainly as possible, accumulating in {@code double} over exactly the stored (already rounded
 * or quantised) inputs and rounding each result once. Tensors live in host memory; work runs in
 * parallel over independent (request, KV head) groups, so results do not depend on scheduling.
 */
package org.attn4j.reference;
