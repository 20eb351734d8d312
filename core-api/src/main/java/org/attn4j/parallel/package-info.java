/**
 * Context-parallel attention (spec §12): a request's keys spread over several shards (devices, or
 * logical shards of one backend), a partial attention state computed on each, the states gathered
 * on one owner and merged there. {@link org.attn4j.parallel.ContextShards} cuts page tables into
 * shards, {@link org.attn4j.parallel.ShardPlacement} says where each shard runs,
 * {@link org.attn4j.parallel.StateGather} moves the partial states and
 * {@link org.attn4j.parallel.ContextParallelPlan} plans and runs the whole.
 */
package org.attn4j.parallel;
