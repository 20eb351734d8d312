/** NumPy {@code .npy} files in and out of attn4j host tensors, for {@code attn4j run}. */
package org.attn4j.cli.npy;
