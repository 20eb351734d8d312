#!/usr/bin/env python3
"""The GPU's read ceiling, measured: the bytes per second a read-only reduction streams from
device memory (and, for reference, a device-to-device copy's read + write bytes per second).

Workloads whose rate is bytes read (decode, decode-mla) are compared with this figure measured
in the same GPU call, since it differs between H100 and H200 and between boards:

    attn4j bench --workload decode-mla --bw-ceiling "$(python3 read_ceiling.py --value)"
"""
import argparse
import sys


def measure(gib, reps):
    import torch

    n = int(gib * (1 << 30)) // 2
    x = torch.empty(n, dtype=torch.bfloat16, device="cuda").normal_()
    y = torch.empty_like(x)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def rate(op, bytes_per_call):
        for _ in range(3):
            op()
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(reps):
            start.record()
            op()
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        return bytes_per_call / best

    read = rate(lambda: torch.sum(x, dtype=torch.float32), 2 * n)
    copy = rate(lambda: y.copy_(x), 4 * n)
    return read, copy, torch.cuda.get_device_name()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gib", type=float, default=4.0, help="size of the tensor read, GiB")
    p.add_argument("--reps", type=int, default=20, help="timed calls; the fastest counts")
    p.add_argument("--value", action="store_true", help="print only the read rate in bytes/s")
    args = p.parse_args(argv)
    read, copy, name = measure(args.gib, args.reps)
    if args.value:
        print("%.4g" % read)
    else:
        print("%s: read %.3f TB/s (reduction over %.1f GiB), copy %.3f TB/s (read + write)"
              % (name, read / 1e12, args.gib, copy / 1e12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
