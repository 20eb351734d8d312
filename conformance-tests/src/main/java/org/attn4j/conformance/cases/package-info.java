/**
 * Valid attention problems: the case records printed as reproductions, their generators
 * (spec §9's edge cases first, then random ones) and shrinkers, and the host data built from them.
 */
package org.attn4j.conformance.cases;
