"""PyTorch peer of attn4j's engine-step workload (spec §10, bench/workloads.json).

One decode step of a Llama-3-8B-shaped attention block: B requests, one new token each, kvLen
growing by one per step; for each of `layers` layers RoPE on q and k (rotate half, theta 500000),
the new k and v written into a preallocated contiguous cache at each request's position, and
scaled_dot_product_attention over the cache's first max_len keys with a mask of the allowed ones
(a graph cannot change shapes between replays, so the cache is attended at its full length, as
static-cache engines do). The step is captured once with torch.cuda.graphs and replayed; before
each replay the new positions and fused projection output are copied into the captured buffers.
Layers cycle over `pools` caches, as attn4j's bench does (each far larger than L2).

Writes one row per run in attn4j bench's CSV columns (--csv, --append).
"""
import argparse
import csv
import math
import os
import sys
import time

COLUMNS = ["workload", "backend", "device", "op", "batch", "hq", "hkv", "head_dim", "page_size", "q_dtype",
           "kv_dtype", "layout", "causal", "lengths", "scale", "median_us", "p10_us", "p90_us", "reps", "sets",
           "bytes", "flops", "metric", "rate", "ceiling", "pct_ceiling", "check", "timer"]


def num(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return ""
    if float(x) == int(x) and abs(x) < 1e15:
        return str(int(x))
    return "%.6g" % x


def engine_step_shape():
    """The shape bench/workloads.json gives (beside this script in a bundle, else in bench/)."""
    import json
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "workloads.json"), os.path.join(here, "..", "workloads.json")):
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)["engine_step"]
    raise SystemExit("torch_engine_step: workloads.json not found beside the script or in bench/")


def main(argv=None):
    shape = engine_step_shape()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=shape["batch"])
    p.add_argument("--kv-len", type=int, default=shape["kv_len"])
    p.add_argument("--layers", type=int, default=shape["layers"])
    p.add_argument("--pools", type=int, default=shape["pools"])
    p.add_argument("--steps", type=int, default=shape["steps"])
    p.add_argument("--backend", default="cudnn", help="SDPA backend to ask for first: cudnn, efficient or math")
    p.add_argument("--csv")
    p.add_argument("--append", action="store_true")
    p.add_argument("--bw-ceiling", type=float, default=4.49e12)
    args = p.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = "cuda"
    torch.manual_seed(7)
    B, L, P, S = args.batch, args.layers, args.pools, args.steps
    hq, hkv, d = 32, 8, 128
    max_len = args.kv_len + 2 * S + 2
    dt = torch.bfloat16
    kc = [torch.rand(B, hkv, max_len, d, device=dev, dtype=dt) * 2 - 1 for _ in range(P)]
    vc = [torch.rand(B, hkv, max_len, d, device=dev, dtype=dt) * 2 - 1 for _ in range(P)]
    fused = torch.empty(B, hq + 2 * hkv, d, device=dev, dtype=dt)
    pos = torch.zeros(B, device=dev, dtype=torch.long)
    outs = [torch.empty(B, hq, d, device=dev, dtype=dt) for _ in range(L)]
    inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=dev, dtype=torch.float64) / d))
    ang = torch.arange(max_len, device=dev, dtype=torch.float64)[:, None] * inv[None, :]
    cos_t, sin_t = torch.cos(ang).float(), torch.sin(ang).float()
    keys = torch.arange(max_len, device=dev)
    rows = torch.arange(B, device=dev)

    def rope(x, c, s):  # x [B, H, D], rotate half
        x1, x2 = x[..., : d // 2].float(), x[..., d // 2:].float()
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).to(dt)

    order = {"cudnn": SDPBackend.CUDNN_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
             "math": SDPBackend.MATH}
    chain = [args.backend] + [b for b in ("cudnn", "efficient", "math") if b != args.backend]

    def step(backend):
        c = cos_t[pos][:, None, :]
        s = sin_t[pos][:, None, :]
        mask = (keys[None, :] <= pos[:, None])[:, None, None, :]
        for layer in range(L):
            q = rope(fused[:, :hq], c, s)
            k = rope(fused[:, hq:hq + hkv], c, s)
            v = fused[:, hq + hkv:]
            kc[layer % P][rows, :, pos] = k
            vc[layer % P][rows, :, pos] = v
            with sdpa_kernel([order[backend]]):
                o = F.scaled_dot_product_attention(q[:, :, None, :], kc[layer % P], vc[layer % P], attn_mask=mask,
                                                   enable_gqa=True)
            outs[layer].copy_(o[:, :, 0, :])

    def write(t):
        g = torch.Generator(device=dev)
        g.manual_seed(1000 + t)
        fused.copy_(torch.rand(fused.shape, device=dev, dtype=torch.float32, generator=g).to(dt) * 2 - 1)
        pos.fill_(args.kv_len + t)

    used, err = None, None
    for backend in chain:
        try:
            write(0)
            step(backend)
            torch.cuda.synchronize()
            used = backend
            break
        except RuntimeError as e:
            err = str(e).splitlines()[0]
    if used is None:
        print("torch_engine_step: no SDPA backend ran: %s" % err, file=sys.stderr)
        return 1

    # Check one layer against attention written out in float32 (the step just run, step 0).
    q = rope(fused[:, :hq], cos_t[pos][:, None, :], sin_t[pos][:, None, :]).float()
    layer = L - 1
    kk = kc[layer % P].float().repeat_interleave(hq // hkv, dim=1)
    vv = vc[layer % P].float().repeat_interleave(hq // hkv, dim=1)
    logits = torch.einsum("bhd,bhkd->bhk", q, kk) / math.sqrt(d)
    logits = logits.masked_fill(keys[None, None, :] > pos[:, None, None], float("-inf"))
    ref = torch.einsum("bhk,bhkd->bhd", torch.softmax(logits, dim=-1), vv)
    diff = ((outs[layer].float() - ref).abs() / (1.6e-2 + 1.6e-2 * ref.abs())).max().item()
    check = ("ok %.2e" % diff) if diff <= 1.0 else ("FAIL %.2e" % diff)

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            step(used)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(used)
    for t in range(S):  # warm-up replays
        write(1 + t)
        graph.replay()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for t in range(S):
        write(1 + S + t)
        graph.replay()
    stop.record()
    torch.cuda.synchronize()
    step_us = start.elapsed_time(stop) * 1000.0 / S
    # Bytes as attn4j counts them: every layer reads each request's keys and values up to its length.
    length = args.kv_len + S
    nbytes = 2 * L * B * length * hkv * d * 2
    rate = nbytes / (step_us * 1e-6) / 1e12
    name = {"cudnn": "torch SDPA cuDNN", "efficient": "torch SDPA mem-efficient", "math": "torch SDPA math"}[used]
    row = ["engine-step[bf16/bf16/NHD]", name + " (graph, static cache)", torch.cuda.get_device_name(),
           "engine-step", str(B), str(hq), str(hkv), str(d), "1", "bf16", "bf16", "BHSD", "false",
           "%d+1/step x %d layers" % (args.kv_len, L), "1", num(step_us), num(step_us), num(step_us), str(S), str(P),
           str(nbytes), "0", "TB/s", num(rate), num(args.bw_ceiling), num(100.0 * rate * 1e12 / args.bw_ceiling),
           check + ("" if used == args.backend else "; %s refused: %s" % (args.backend, err)),
           "CUDA events, graph replay; attends %d keys per request (static cache) with a mask" % max_len]
    print("%-28s %-44s %10.1f us  %.3f TB/s  %s" % (row[0], row[1], step_us, rate, row[26]), flush=True)
    if args.csv:
        exists = os.path.exists(args.csv) and os.path.getsize(args.csv) > 0
        with open(args.csv, "a" if args.append and exists else "w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            if not (args.append and exists):
                out.writerow(COLUMNS)
            out.writerow(row)
    return 0 if check.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
