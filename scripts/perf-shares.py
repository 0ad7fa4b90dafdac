#!/usr/bin/env python3
"""Shares of a profile's samples (issue #14): read `perf script` output (call graphs) on stdin and print, for each
thread name and for each frame pattern given, the percentage of all samples whose stack contains it (inclusive).

Usage: perf script -i perf.data | scripts/perf-shares.py 'label=regex' ...
"""
import re
import sys
from collections import Counter


def samples(lines):
    """(thread name, [frame symbols]) per sample."""
    thread, frames = None, []
    for line in lines:
        if not line.strip():
            if thread is not None:
                yield thread, frames
            thread, frames = None, []
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                # `symbol+0x1f (dso)` → `symbol`
                frames.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (")[0]))
        else:
            thread = line.split()[0] if line.split() else "?"
    if thread is not None:
        yield thread, frames


def main():
    patterns = []
    for arg in sys.argv[1:]:
        label, _, pattern = arg.partition("=")
        patterns.append((label, re.compile(pattern)))
    total, threads, hits = 0, Counter(), Counter()
    for thread, frames in samples(sys.stdin):
        total += 1
        threads[thread] += 1
        for label, pattern in patterns:
            if any(pattern.search(f) for f in frames):
                hits[label] += 1
    if total == 0:
        sys.exit("no samples")
    print(f"{total} samples")
    print("| thread | share |")
    print("|---|---|")
    for thread, n in threads.most_common():
        print(f"| {thread} | {100 * n / total:.1f} % |")
    print()
    print("| part (frames matching) | share of samples |")
    print("|---|---|")
    for label, _ in patterns:
        print(f"| {label} | {100 * hits[label] / total:.1f} % |")


if __name__ == "__main__":
    main()
