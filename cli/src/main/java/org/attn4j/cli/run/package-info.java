/** {@code attn4j run}: one attention call from a JSON description and NumPy inputs, outputs as NumPy. */
package org.attn4j.cli.run;
