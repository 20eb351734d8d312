/** The paged KV cache: layouts, CSR page tables, append positions and the host-side page manager. */
package org.attn4j.kv;
