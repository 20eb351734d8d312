/**
 * {@code attn4j bench}: the named workloads of spec §10 and ad-hoc shapes, timed with each
 * backend's device timer over rotated inputs, checked against the reference, reported as a
 * table, CSV, JSON and a PNG chart.
 */
package org.attn4j.cli.bench;
