/** Implementation details of the core: validation. Not exported; not API. */
package org.attn4j.internal;
