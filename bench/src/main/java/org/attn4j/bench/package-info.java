/**
 * The benchmark harness behind {@code attn4j bench}: the named workloads of spec §10 (from
 * {@code bench/workloads.json}) and ad-hoc shapes, timed with each backend's device timer over
 * rotated inputs, checked against the reference, reported as a table, CSV, JSON and an SVG chart.
 */
package org.attn4j.bench;
