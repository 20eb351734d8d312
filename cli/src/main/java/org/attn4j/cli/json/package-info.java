/** A minimal JSON reader and writer for call specs and benchmark reports, so the CLI needs no library. */
package org.attn4j.cli.json;
