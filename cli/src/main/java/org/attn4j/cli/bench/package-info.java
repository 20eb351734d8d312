/** {@code attn4j bench}: the command over the harness of the attn4j-bench module ({@code org.attn4j.bench}). */
package org.attn4j.cli.bench;
