/**
 * The exceptions every attn4j call may throw: {@link org.attn4j.error.InvalidArgumentException}
 * for a call rejected before any device work, {@link org.attn4j.error.BackendException} for a
 * device failure after validation, {@link org.attn4j.error.BackendUnavailableException} when no
 * backend can open. This package depends on nothing else in attn4j.
 */
package org.attn4j.error;
