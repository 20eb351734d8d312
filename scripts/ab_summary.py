#!/usr/bin/env python3
"""The table `run.sh OUT ab` prints: per workload, each build's median time in each round (from
OUT/ab/<build>-<round>/bench.csv), and each build's mean time over the first build's.

    ab_summary.py AB_DIR BUILD...
"""
import csv
import os
import re
import sys


def medians(ab_dir, build):
    """{workload: [median us per round]} of one build, rounds in order."""
    rounds = []
    for entry in os.listdir(ab_dir):
        m = re.fullmatch(re.escape(build) + r"-(\d+)", entry)
        if m and os.path.isfile(os.path.join(ab_dir, entry, "bench.csv")):
            rounds.append(int(m.group(1)))
    out = {}
    for r in sorted(rounds):
        with open(os.path.join(ab_dir, f"{build}-{r}", "bench.csv"), newline="") as f:
            for row in csv.DictReader(f):
                if row.get("backend") == "cuda" and row.get("median_us"):
                    out.setdefault(row["workload"], []).append(float(row["median_us"]))
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ab_dir, builds = argv[1], argv[2:]
    data = {b: medians(ab_dir, b) for b in builds}
    workloads = []
    for b in builds:
        for w in data[b]:
            if w not in workloads:
                workloads.append(w)
    head = "| workload | " + " | ".join(f"{b} (µs)" for b in builds)
    head += "".join(f" | {b} / {builds[0]}" for b in builds[1:]) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(builds) - 1))
    for w in workloads:
        cells = [", ".join(f"{t:.1f}" for t in data[b].get(w, [])) or "-" for b in builds]
        base = data[builds[0]].get(w)
        ratios = []
        for b in builds[1:]:
            t = data[b].get(w)
            ratios.append(f"{(sum(t) / len(t)) / (sum(base) / len(base)):.3f}x" if t and base else "-")
        print(f"| {w} | " + " | ".join(cells + ratios) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
