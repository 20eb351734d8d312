#!/usr/bin/env python3
"""PyTorch peers for `attn4j bench`: the spec §10 workloads on torch SDPA (cuDNN and
FlashAttention-2 backends, contiguous KV, enable_gqa) and FlexAttention (paged decode over a page
pool with BLOCK_SIZE=(128, 16) and kernel_options {"BLOCK_N": 16}; block masks for prefill).

Every peer's output is checked against a plain math reference on the same inputs before it is
timed. Timing uses CUDA events: warm-up, then repetitions that each run every rotated input copy
back to back (copies are added until they exceed --rotate-mb, so L2 stays cold); median, p10, p90.
Rows have exactly the columns of attn4j bench's CSV, so both land in one file.

    python3 torch_peers.py --workload all --csv out/bench.csv --append
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import traceback

COLUMNS = ["workload", "backend", "device", "op", "batch", "hq", "hkv", "head_dim", "page_size", "q_dtype",
           "kv_dtype", "layout", "causal", "lengths", "scale", "median_us", "p10_us", "p90_us", "reps", "sets",
           "bytes", "flops", "metric", "rate", "ceiling", "pct_ceiling", "check", "timer"]

BF16_TOL = 1.6e-2       # spec §9, bf16 output: atol = rtol
PAGE = 16


# ---------------------------------------------------------------- workloads (bench/workloads.json)

WORKLOADS_FILE = "workloads.json"
HERE = os.path.dirname(os.path.abspath(__file__))


def workloads_path(given=None):
    """The data file: --workloads-file, else beside this script (as bundled), else in bench/ above it."""
    candidates = [given] if given else [os.path.join(HERE, WORKLOADS_FILE), os.path.join(HERE, "..", WORKLOADS_FILE)]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    raise SystemExit("torch_peers: %s not found (looked at %s)" % (WORKLOADS_FILE, ", ".join(candidates)))


def draw_lengths(n, lo, hi, seed):
    """The Java harness's linear congruential draw, bit for bit."""
    mask = (1 << 64) - 1
    state = seed & mask
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        out.append(lo + (state >> 33) % (hi - lo + 1))
    return out


def workload(name, op, qo, kv, hq, hkv, d, causal, prefix=0, kv_dtype="bf16", twin=None, q_dtype="bf16"):
    return dict(name=name, op=op, qo=list(qo), kv=list(kv), hq=hq, hkv=hkv, d=d, causal=causal, prefix=prefix,
                kv_dtype=kv_dtype, twin=twin, q_dtype=q_dtype)


def named_workloads(path=None, classes=False):
    """The named workloads of spec §10 (or, with classes, the shape classes) as bench/workloads.json
    defines them for both harnesses."""
    with open(workloads_path(path)) as f:
        data = json.load(f)
    seed, defaults = data["length_seed"], data["defaults"]

    def lengths(v, batch):
        if isinstance(v, dict):
            lo, hi = v["draw"]
            return draw_lengths(batch, lo, hi, seed)
        return [int(v)] * batch

    w = {}
    for spec in data.get("shape_classes", []) if classes else data["workloads"]:
        get = lambda key: spec.get(key, defaults.get(key))
        batch, op = spec["batch"], spec["op"]
        kv = lengths(spec["kv_len"], batch)
        qo = lengths(spec["qo_len"], batch) if "qo_len" in spec else (list(kv) if op == "prefill" else [1] * batch)
        fp8 = get("kv_dtype") in ("fp8_e4m3", "fp8_e5m2")
        fp8_q = get("q_dtype") in ("fp8_e4m3", "fp8_e5m2")  # an FP8 class: only its twin is run
        if ("bf16" if fp8_q else get("q_dtype"), "bf16" if fp8 else get("kv_dtype"), get("layout"),
                get("page_size")) != (
                "bf16", "bf16", "NHD", PAGE):
            raise SystemExit("torch_peers: %s: the peers run bf16 NHD with page %d only" % (spec["name"], PAGE))
        w[spec["name"]] = workload(spec["name"], op, qo, kv, get("hq"), get("hkv"), get("head_dim"),
                                   bool(get("causal")), prefix=get("shared_prefix"), kv_dtype=get("kv_dtype"),
                                   twin=spec.get("twin"), q_dtype=get("q_dtype"))
    return w


def kv_len(w, b):
    return w["prefix"] + w["kv"][b]


def lengths_description(w):
    def summary(v):
        lo, hi = min(v), max(v)
        if lo == hi:
            return str(lo)
        return "%d..%d (mean %d)" % (lo, hi, int(math.floor(sum(v) / len(v) + 0.5)))
    s = ("prefix %d + own " % w["prefix"] if w["prefix"] > 0 else "kv ") + summary(w["kv"])
    if w["op"] == "prefill" and w["qo"] != w["kv"]:
        s += ", qo " + summary(w["qo"])
    return s


def allowed_pairs(qo, kv, causal):
    if not causal:
        return qo * kv
    total = 0
    for i in range(qo):
        pq = i + kv - qo
        total += max(0, min(kv, pq + 1))
    return total


def traffic(w, elem_bytes=2):
    """Bytes (K+V tokens read, the prefix once, plus q and o) and FLOPs, as Traffic.java counts them."""
    token_bytes = 2 * w["hkv"] * w["d"] * elem_bytes
    total_q = sum(w["qo"])
    stored = w["prefix"] + sum(w["kv"])
    nbytes = stored * token_bytes + 2 * total_q * w["hq"] * w["d"] * elem_bytes
    pairs = sum(allowed_pairs(w["qo"][b], kv_len(w, b), w["causal"]) for b in range(len(w["kv"])))
    return nbytes, 4.0 * w["hq"] * w["d"] * pairs


# ---------------------------------------------------------------- peers

class Skip(Exception):
    """A peer that cannot run this workload here; the reason is printed, no row is written."""


def math_reference(q, k, v, causal):
    """Plain float32 attention: q [B, Hq, S, D], k/v [B, Hkv, L, D]; bottom-right causal."""
    import torch
    g = q.shape[1] // k.shape[1]
    k = k.float().repeat_interleave(g, dim=1)
    v = v.float().repeat_interleave(g, dim=1)
    s = torch.matmul(q.float(), k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        qs, ls = q.shape[2], k.shape[2]
        i = torch.arange(qs, device=q.device)[:, None]
        j = torch.arange(ls, device=q.device)[None, :]
        s = s.masked_fill(j > i + ls - qs, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def compare(out, ref):
    """Largest |out - ref| and whether every element is within atol + rtol * |ref| (bf16 tolerances)."""
    import torch
    out = out.float()
    err = (out - ref).abs()
    if torch.isnan(out).any():
        return False, float("inf")
    ok = bool((err <= BF16_TOL + BF16_TOL * ref.abs()).all())
    return ok, float(err.max())


class Case:
    """A workload's inputs for one peer: `sets` copies, a run(set) closure and a check()."""

    def __init__(self, sets, run, check, layout, page_size, note=""):
        self.sets, self.run, self.check = sets, run, check
        self.layout, self.page_size, self.note = layout, page_size, note


def copies(bytes_per_set, rotate_bytes, limit=64):
    return max(1, min(limit, -(-rotate_bytes // max(1, bytes_per_set))))


def sdpa_case(w, backend_name, rotate_bytes, gen):
    """torch SDPA with contiguous KV per request (no paging: an upper bound for decode)."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    kind = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash2": SDPBackend.FLASH_ATTENTION}[backend_name]
    hq, hkv, d = w["hq"], w["hkv"], w["d"]
    dev = "cuda"

    gqa = [hq != hkv]  # cleared when the kernel refuses enable_gqa: K/V are then expanded to Hq heads

    def attn(q, k, v, causal):
        if not gqa[0] and k.shape[1] != q.shape[1]:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        with sdpa_kernel(kind):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa[0])

    def probe(q, k, v, causal):
        """Runs once; falls back to expanded K/V (noted in the row) when GQA is refused."""
        try:
            attn(q, k, v, causal)
            return ""
        except RuntimeError:
            if not gqa[0]:
                raise
            gqa[0] = False
            attn(q, k, v, causal)
            return "K/V expanded to Hq heads"

    B = len(w["kv"])
    uniform = len(set(w["kv"])) == 1 and len(set(w["qo"])) == 1
    if uniform:
        # one batched call: q [B, Hq, S, D], k/v [B, Hkv, L, D]
        S, L = w["qo"][0], kv_len(w, 0)
        per = 2 * (B * hq * S * d) * 2 + 2 * (B * hkv * L * d) * 2
        sets = copies(per, rotate_bytes)
        data = []
        for _ in range(sets):
            q = torch.empty(B, hq, S, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
            k = torch.empty(B, hkv, L, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
            v = torch.empty(B, hkv, L, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
            data.append((q, k, v))
        causal = w["causal"]
        note = probe(*data[0], causal)
        if note:
            # expand once up front, so the timed calls read what an expanded cache holds
            g = hq // hkv
            data = [(q, k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)) for (q, k, v) in data]

        def run(s):
            q, k, v = data[s]
            return attn(q, k, v, causal)

        def check():
            q, k, v = data[0]
            out = run(0)
            # sample rows: a few requests, and for long prefills the first and last query rows
            bs = sorted(set([0, B // 2, B - 1]))
            rows = list(range(S)) if S <= 512 else list(range(0, 128)) + list(range(S - 128, S))
            ok_all, worst = True, 0.0
            for b in bs:
                qs = q[b:b + 1, :, rows, :]
                if causal and S > 512:
                    # rows of a causal prefill see keys up to their position: check each block on its prefix
                    for block in (rows[:128], rows[128:]):
                        last = block[-1] + L - S + 1
                        ref = math_reference(q[b:b + 1, :, block, :], k[b:b + 1, :, :last, :], v[b:b + 1, :, :last, :],
                                             True)
                        ok, e = compare(out[b:b + 1, :, block, :], ref)
                        ok_all, worst = ok_all and ok, max(worst, e)
                else:
                    ref = math_reference(qs, k[b:b + 1], v[b:b + 1], causal)
                    ok, e = compare(out[b:b + 1, :, rows, :], ref)
                    ok_all, worst = ok_all and ok, max(worst, e)
            return ok_all, worst

        return Case(sets, run, check, "contiguous", 0, note=note)

    # ragged prefill: one causal call per request (SDPA has no varlen entry point)
    data = []
    for b in range(B):
        S, L = w["qo"][b], kv_len(w, b)
        q = torch.empty(1, hq, S, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        k = torch.empty(1, hkv, L, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        v = torch.empty(1, hkv, L, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        data.append((q, k, v))
    causal = w["causal"]
    note = probe(*data[0], causal)

    def run(s):
        return [attn(q, k, v, causal) for (q, k, v) in data]

    def check():
        outs = run(0)
        ok_all, worst = True, 0.0
        for b in sorted(set([0, B - 1])):
            q, k, v = data[b]
            ok, e = compare(outs[b], math_reference(q, k, v, causal))
            ok_all, worst = ok_all and ok, max(worst, e)
        return ok_all, worst

    return Case(1, run, check, "contiguous", 0, note="%d calls" % B + ("; " + note + " per call" if note else ""))


_flex = None


def flex():
    global _flex
    if _flex is None:
        import torch
        from torch.nn.attention.flex_attention import flex_attention
        _flex = torch.compile(flex_attention, dynamic=False)
    return _flex


def flex_paged_decode_case(w, rotate_bytes, gen):
    """FlexAttention decode over a page pool: K/V [1, Hkv, pages * 16, D]; each request's block mask
    lists its pages (a cascade's requests all list the shared prefix pages first)."""
    import torch
    from torch.nn.attention.flex_attention import BlockMask

    hq, hkv, d = w["hq"], w["hkv"], w["d"]
    B = len(w["kv"])
    dev = "cuda"
    prefix_pages = w["prefix"] // PAGE
    pages, nxt = [], prefix_pages
    for b in range(B):
        own = -(-w["kv"][b] // PAGE)
        pages.append(list(range(prefix_pages)) + list(range(nxt, nxt + own)))
        nxt += own
    num_pages = max(1, nxt)
    lens = [kv_len(w, b) for b in range(B)]
    # Index rows as long as the pool: a BlockMask built without seq_lengths infers the KV length
    # from this width, and a narrower row (the longest request's page count) made page ids past it
    # index out of bounds on the device.
    width = num_pages
    # full pages need no mask; each request's last page is partial unless its length is a multiple of 16
    full_num, full_idx, part_num, part_idx, last_len = [], [], [], [], []
    for b in range(B):
        n, tail = len(pages[b]), lens[b] % PAGE
        full = pages[b] if tail == 0 else pages[b][:-1]
        part = [] if tail == 0 else [pages[b][-1]]
        full_num.append(len(full))
        full_idx.append(full + [0] * (width - len(full)))
        part_num.append(len(part))
        part_idx.append(part + [0] * (width - len(part)))
        last_len.append(tail if tail else PAGE)

    def t(x):
        return torch.tensor(x, device=dev, dtype=torch.int32)

    last_len_t = t(last_len)

    def tail_mask(b, h, q_idx, kv_idx):
        return (kv_idx % PAGE) < last_len_t[b]

    blocks = (t(part_num).view(B, 1, 1), t(part_idx).view(B, 1, 1, width),
              t(full_num).view(B, 1, 1), t(full_idx).view(B, 1, 1, width))
    try:
        block_mask = BlockMask.from_kv_blocks(*blocks, BLOCK_SIZE=(128, PAGE), mask_mod=tail_mask,
                                              seq_lengths=(1, num_pages * PAGE))
    except TypeError:  # releases without seq_lengths infer them from the block counts
        block_mask = BlockMask.from_kv_blocks(*blocks, BLOCK_SIZE=(128, PAGE), mask_mod=tail_mask)
    per = 2 * num_pages * PAGE * hkv * d * 2 + 2 * B * hq * d * 2
    sets = copies(per, rotate_bytes)
    data = []
    for _ in range(sets):
        q = torch.empty(B, hq, 1, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        k = torch.empty(1, hkv, num_pages * PAGE, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        v = torch.empty(1, hkv, num_pages * PAGE, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        data.append((q, k, v))
    fn = flex()

    # The pool is shared by every request: K/V batch B as stride-0 views of the one pool. Passing
    # batch 1 against q's batch B is not safe to probe: it fails as a device-side assert, which
    # leaves the CUDA context unusable.

    def run(s):
        q, k, v = data[s]
        k, v = k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)
        return fn(q, k, v, block_mask=block_mask, enable_gqa=(hq != hkv), kernel_options={"BLOCK_N": PAGE})

    def check():
        q, k, v = data[0]
        out = run(0)
        ok_all, worst = True, 0.0
        for b in sorted(set([0, B // 2, B - 1])):
            idx = torch.cat([torch.arange(p * PAGE, p * PAGE + PAGE, device=dev) for p in pages[b]])[:lens[b]]
            ref = math_reference(q[b:b + 1], k[:, :, idx, :], v[:, :, idx, :], False)
            ok, e = compare(out[b:b + 1], ref)
            ok_all, worst = ok_all and ok, max(worst, e)
        return ok_all, worst

    return Case(sets, run, check, "paged HND", PAGE)


def flex_prefill_case(w, rotate_bytes, gen):
    """FlexAttention prefill: requests packed into one sequence, a document-causal block mask."""
    import torch
    from torch.nn.attention.flex_attention import create_block_mask

    hq, hkv, d = w["hq"], w["hkv"], w["d"]
    dev = "cuda"
    qo, kv = w["qo"], [kv_len(w, b) for b in range(len(w["kv"]))]
    if qo != kv:
        raise Skip("the packed FlexAttention prefill here needs qo_len == kv_len")
    total = sum(kv)
    doc = torch.cat([torch.full((n,), b, device=dev, dtype=torch.int32) for b, n in enumerate(kv)])
    causal = w["causal"]

    def doc_mask(b, h, q_idx, kv_idx):
        same = doc[q_idx] == doc[kv_idx]
        return (same & (kv_idx <= q_idx)) if causal else same

    block_mask = create_block_mask(doc_mask, None, None, total, total, device=dev)
    per = 2 * total * hq * d * 2 + 2 * total * hkv * d * 2
    sets = copies(per, rotate_bytes)
    data = []
    for _ in range(sets):
        q = torch.empty(1, hq, total, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        k = torch.empty(1, hkv, total, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        v = torch.empty(1, hkv, total, d, device=dev, dtype=torch.bfloat16).uniform_(-1, 1, generator=gen)
        data.append((q, k, v))
    fn = flex()

    def run(s):
        q, k, v = data[s]
        return fn(q, k, v, block_mask=block_mask, enable_gqa=(hq != hkv))

    def check():
        q, k, v = data[0]
        out = run(0)
        ok_all, worst = True, 0.0
        starts = [0]
        for n in kv:
            starts.append(starts[-1] + n)
        for b in sorted(set([0, len(kv) - 1])):
            s0, s1 = starts[b], starts[b + 1]
            rows = list(range(s0, s1)) if s1 - s0 <= 512 else list(range(s0, s0 + 128)) + list(range(s1 - 128, s1))
            for block in ([rows] if s1 - s0 <= 512 else [rows[:128], rows[128:]]):
                last = block[-1] + 1 if causal else s1
                qb = q[:, :, block, :]
                kb, vb = k[:, :, s0:last, :], v[:, :, s0:last, :]
                ref = math_reference(qb, kb, vb, causal)
                ok, e = compare(out[:, :, block, :], ref)
                ok_all, worst = ok_all and ok, max(worst, e)
        return ok_all, worst

    return Case(sets, run, check, "contiguous", 0)


def make_case(w, peer, rotate_bytes, gen):
    if peer in ("cudnn", "flash2"):
        if w["op"] == "cascade":
            # no shared-prefix support: each request attends to its own copy of prefix + suffix
            flat = dict(w, op="decode", kv=[kv_len(w, b) for b in range(len(w["kv"]))], prefix=0)
            return sdpa_case(flat, peer, rotate_bytes, gen)
        return sdpa_case(w, peer, rotate_bytes, gen)
    if peer == "flex":
        if w["op"] in ("decode", "cascade"):
            return flex_paged_decode_case(w, rotate_bytes, gen)
        return flex_prefill_case(w, rotate_bytes, gen)
    raise ValueError(peer)


PEER_NAMES = {"cudnn": "torch-cudnn", "flash2": "torch-flash2", "flex": "torch-flex"}


# ---------------------------------------------------------------- timing and rows

# Calls a sample queues back to back (cycling the input copies), as attn4j bench does, so the
# host's launch latency overlaps device work.
QUEUED_CALLS = 8


def measure(case, min_reps, max_reps, seconds, warmup):
    import torch
    calls = max(case.sets, QUEUED_CALLS)

    def queue():
        for i in range(calls):
            case.run(i % case.sets)

    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    queue()
    stop.record()
    torch.cuda.synchronize()
    per_run = max(1e-4, start.elapsed_time(stop) / calls)
    if warmup < 0:
        warmup = int(max(1, min(20, 200.0 / (per_run * calls))))
    for _ in range(warmup):
        queue()
    torch.cuda.synchronize()
    reps = int(max(min_reps, min(max_reps, seconds * 1000 / (per_run * calls))))
    samples = []
    for _ in range(reps):
        start.record()
        queue()
        stop.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(stop) * 1000.0 / calls)
    return samples


def quantile(sorted_vals, q):
    pos = q * (len(sorted_vals) - 1)
    lo = int(math.floor(pos))
    hi = min(len(sorted_vals) - 1, lo + 1)
    return sorted_vals[lo] + (pos - lo) * (sorted_vals[hi] - sorted_vals[lo])


def num(x):
    """As attn4j bench writes numbers; no value is an empty field."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return ""
    if float(x) == int(x) and abs(x) < 1e15:
        return str(int(x))
    return "%.6g" % x


def make_row(w, peer, device, case, samples, check, args):
    s = sorted(samples)
    med, p10, p90 = quantile(s, 0.5), quantile(s, 0.1), quantile(s, 0.9)
    nbytes, flops = traffic(w)
    decode_like = w["op"] != "prefill"
    rate = (nbytes if decode_like else flops) / (med * 1e-6) / 1e12
    ceiling = args.bw_ceiling if decode_like else args.flops_ceiling
    pct = 100.0 * rate * 1e12 / ceiling
    timer = "CUDA events" + (" (%s)" % case.note if case.note else "")
    return [w["name"], PEER_NAMES[peer], device, w["op"], str(len(w["kv"])), str(w["hq"]), str(w["hkv"]),
            str(w["d"]), str(case.page_size), "bf16", "bf16", case.layout, "true" if w["causal"] else "false",
            lengths_description(w), "1", num(med), num(p10), num(p90), str(len(samples)), str(case.sets),
            str(nbytes), num(flops), "TB/s" if decode_like else "TFLOP/s", num(rate), num(ceiling), num(pct),
            check, timer]


def print_header():
    print("%-22s %-13s %-8s %-30s %11s %21s %14s %7s  %s" % ("workload", "peer", "op", "lengths", "median us",
                                                            "p10..p90 us", "rate", "% ceil", "check vs math"))


def print_row(r):
    d = dict(zip(COLUMNS, r))
    print("%-22s %-13s %-8s %-30s %11.1f %21s %14s %7s  %s" % (
        d["workload"], d["backend"], d["op"], d["lengths"], float(d["median_us"]),
        "%.1f..%.1f" % (float(d["p10_us"]), float(d["p90_us"])), "%.3f %s" % (float(d["rate"]), d["metric"]),
        "%.1f%%" % float(d["pct_ceiling"]), d["check"]), flush=True)


def run_isolated(argv, peers, args):
    """Runs each peer in a child process with the same arguments; rows go to the same CSV."""
    base = []
    skip = False
    for i, a in enumerate(argv):  # drop --peers and its value; the children get one peer each
        if skip:
            skip = False
            continue
        if a == "--peers":
            skip = True
            continue
        if a.startswith("--peers="):
            continue
        base.append(a)
    status = 0
    for n, peer in enumerate(peers):
        child = [sys.executable, os.path.abspath(__file__)] + base + ["--peers", peer, "--no-isolate"]
        if n > 0:
            child.append("--no-header")
            if args.csv and "--append" not in child:
                child.append("--append")
        rc = subprocess.call(child)
        if rc != 0:
            print("torch_peers: %s exited with status %d" % (PEER_NAMES[peer], rc), flush=True)
            status = 1
    return status


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", action="append", default=[],
                   help="a named workload or shape class, 'all' (the named workloads) or 'classes' (the shape "
                        "classes); repeatable")
    p.add_argument("--peers", default="cudnn,flash2,flex", help="comma list of cudnn, flash2, flex")
    p.add_argument("--csv", help="write rows to this CSV (attn4j bench's columns)")
    p.add_argument("--append", action="store_true", help="append to --csv instead of replacing it")
    p.add_argument("--reps", type=int, default=100, help="most timed repetitions")
    p.add_argument("--min-reps", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0, help="target timed seconds per row")
    p.add_argument("--warmup", type=int, default=-1, help="untimed runs (default: about 200 ms)")
    p.add_argument("--rotate-mb", type=float, default=128, help="add input copies until they exceed this")
    p.add_argument("--bw-ceiling", type=float, default=4.49e12)
    p.add_argument("--flops-ceiling", type=float, default=790e12)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--workloads-file", help="the workloads' data file (default: workloads.json beside this "
                                            "script, else in bench/)")
    p.add_argument("--no-isolate", action="store_true",
                   help="run every peer in this process (default: one process per peer, so a peer that "
                        "breaks the CUDA context cannot take the others' rows with it)")
    p.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    catalog = named_workloads(args.workloads_file)
    classes = named_workloads(args.workloads_file, classes=True)
    if args.list:
        for w in list(catalog.values()) + list(classes.values()):
            print("%-22s %-8s B=%d %s Hq/Hkv/D=%d/%d/%d" % (w["name"], w["op"], len(w["kv"]), lengths_description(w),
                                                           w["hq"], w["hkv"], w["d"]))
        return 0
    names = []
    for n in args.workload or ["all"]:
        if n == "all":
            names += list(catalog)
        elif n == "classes":
            names += list(classes)
        elif n in catalog or n in classes:
            names.append(n)
        else:
            p.error("unknown workload %r; known: all, classes, %s" % (n, ", ".join(list(catalog) + list(classes))))
    catalog.update(classes)
    peers = [x.strip() for x in args.peers.split(",") if x.strip()]
    for x in peers:
        if x not in PEER_NAMES:
            p.error("unknown peer %r; known: %s" % (x, ", ".join(PEER_NAMES)))

    if len(peers) > 1 and not args.no_isolate:
        return run_isolated(argv if argv is not None else sys.argv[1:], peers, args)

    try:
        import torch
    except ImportError as e:
        print("torch_peers: torch is not installed (%s)" % e, file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("torch_peers: no CUDA device", file=sys.stderr)
        return 1
    device = torch.cuda.get_device_name()
    gen = torch.Generator(device="cuda")
    gen.manual_seed(args.seed)
    rotate = int(args.rotate_mb * (1 << 20))
    rows, failures = [], 0
    if not args.no_header:
        print("torch %s on %s" % (torch.__version__, device), flush=True)
        print_header()
    written = [False]

    def write_rows():
        # after every row, so a peer that later poisons the CUDA context keeps what it measured
        if not args.csv or not rows:
            return
        exists = os.path.exists(args.csv) and os.path.getsize(args.csv) > 0
        mode = "a" if (args.append or written[0]) and exists else "w"
        os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
        with open(args.csv, mode, newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            if mode == "w":
                out.writerow(COLUMNS)
            out.writerows(rows)
        written[0] = True
        rows.clear()

    lost = None  # set when a device-side error leaves the CUDA context unusable
    for name in names:
        w = catalog[name]
        if w["kv_dtype"] != "bf16" or w["q_dtype"] != "bf16":
            print("%-22s skipped: the peers run bf16 only; compare with %s" % (name, w["twin"] or "bf16"),
                  flush=True)
            continue
        for peer in peers:
            if lost:
                print("%-22s %-13s not run: %s" % (name, PEER_NAMES[peer], lost), flush=True)
                continue
            case = None
            try:
                case = make_case(w, peer, rotate, gen)
                ok, err = case.check()
                check = ("ok %.2e" % err) if ok else ("FAIL %.2e" % err)
                if not ok:
                    failures += 1
                samples = measure(case, args.min_reps, args.reps, args.seconds, args.warmup)
                row = make_row(w, peer, device, case, samples, check, args)
                rows.append(row)
                print_row(row)
                write_rows()
            except Skip as e:
                print("%-22s %-13s skipped: %s" % (name, PEER_NAMES[peer], e), flush=True)
            except Exception as e:  # a peer that cannot run here is reported, the others still run
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print("%-22s %-13s failed: %s: %s" % (name, PEER_NAMES[peer], type(e).__name__, first[:200]),
                      flush=True)
                if os.environ.get("ATTN4J_PEERS_TRACE"):
                    traceback.print_exc()
                if "device-side assert" in str(e) or "illegal memory access" in str(e):
                    lost = "the CUDA context was lost in %s" % name
                    failures += 1
            finally:
                case = None
                if not lost:
                    torch.cuda.empty_cache()
    if written[0]:
        print("torch_peers: rows written to %s" % args.csv)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
