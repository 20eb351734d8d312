/**
 * {@code attn4j run}: one operation of the core API from a JSON description and NumPy inputs,
 * outputs as NumPy files written all or nothing.
 */
package org.attn4j.cli.run;
