/** Element types, their conversions, host tensors on {@link java.lang.foreign.MemorySegment} and backend tensors. */
package org.attn4j.tensor;
