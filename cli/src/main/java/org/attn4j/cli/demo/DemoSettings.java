package org.attn4j.cli.demo;

/**
 * The demo's knobs.
 *
 * @param steps           scheduler steps
 * @param initialRequests requests arriving at step 0
 * @param arrivalRate     chance a new request arrives at a later step
 * @param maxBatch        most requests in flight
 * @param minPrompt       shortest prompt
 * @param maxPrompt       longest prompt
 * @param minGenerate     fewest generated tokens per request
 * @param maxGenerate     most generated tokens per request
 * @param numPages        pages in the KV pool
 * @param checkStep       the decode step recomputed on the reference (step 0's prefill is too)
 * @param seed            seed of the toy model and the arrivals
 */
record DemoSettings(int steps, int initialRequests, double arrivalRate, int maxBatch, int minPrompt, int maxPrompt,
                    int minGenerate, int maxGenerate, int numPages, int checkStep, long seed) {}
