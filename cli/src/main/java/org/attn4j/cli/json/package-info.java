/** JSON for call specs and benchmark reports, on Jackson, with bounded reads. */
package org.attn4j.cli.json;
