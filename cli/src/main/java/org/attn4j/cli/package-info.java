/**
 * The {@code attn4j} command line: {@code info}, {@code demo}, {@code bench} and {@code run},
 * written against the core API only, so it works with whichever backends are on the class path.
 */
package org.attn4j.cli;
