/**
 * Runs a case's operations on a backend: uploads, plans, runs and reads back, the same way for
 * the backend under test and for the oracle backend.
 */
package org.attn4j.conformance.ops;
