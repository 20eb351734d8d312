/** SPEC §9's tolerances, element-wise comparisons, and SPEC §3/§4 written out directly as a second oracle. */
package org.attn4j.conformance.check;
