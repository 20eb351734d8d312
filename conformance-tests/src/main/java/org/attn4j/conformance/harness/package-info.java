/**
 * A small property-testing harness on JUnit Jupiter: seeded, reproducible case generation (edge
 * cases first), capability-aware skips with reasons, greedy shrinking of failures to a
 * ready-to-paste reproduction, and the per-backend summary.
 */
package org.attn4j.conformance.harness;
