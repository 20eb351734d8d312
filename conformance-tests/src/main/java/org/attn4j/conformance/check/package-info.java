/** spec §9's tolerances, element-wise comparisons, and spec §3/§4 written out directly as a second oracle. */
package org.attn4j.conformance.check;
