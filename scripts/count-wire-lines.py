#!/usr/bin/env python3
"""Count the hand-written wire/handler code of a revision (issue #12's "before/after" measure).

    scripts/count-wire-lines.py [REV ...]      (default: HEAD)

Counts non-blank lines that are not comments, outside test modules (`#[cfg(test)] mod … { … }` and files
only compiled for tests), in the parts that decode requests, validate them, run the IAM/STS actions, encode
answers, map errors and build audit events from requests:

  crates/stsd/src/{iam,sts,protocol,action}/   crates/stsd/src/validate.rs  crates/{stsd,core}/src/error.rs
  crates/stsd/src/audit/{event,synth}.rs        crates/wire/src/*.rs (not generated/, not tests.rs)

Generated code (crates/wire/src/generated/, written by scripts/gen_wire.py) is counted apart. Reads the
revision with `git show`, so the working tree is not involved.
"""

import re
import subprocess
import sys

PARTS = [
    ("iam/ (IAM actions)", r"crates/stsd/src/iam/"),
    ("sts/ (STS actions)", r"crates/stsd/src/sts/"),
    ("protocol/ + validate.rs", r"crates/stsd/src/(protocol/|validate\.rs$)"),
    ("errors (ApiError, codes)", r"crates/(stsd|core)/src/error\.rs$"),
    ("audit event building", r"crates/stsd/src/audit/(event|synth)\.rs$"),
    ("action/ (typed!, Ctx, audit slot)", r"crates/stsd/src/action/"),
    ("wire runtime (hand-written)", r"crates/wire/src/[^/]+\.rs$"),
]
GENERATED = r"crates/wire/src/generated/"


def git(*args):
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def strip_tests(text):
    """Drop `#[cfg(test)]` items that are modules with a body (brace-matched)."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*(pub(\(\w+\))? )?mod \w+ \{", lines[i + 1]):
            depth, i = 0, i + 1
            while i < len(lines):
                depth += lines[i].count("{") - lines[i].count("}")
                i += 1
                if depth <= 0:
                    break
            continue
        out.append(line)
        i += 1
    return out


def code_lines(lines):
    n, in_block = 0, False
    for line in lines:
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if not s or s.startswith("//"):
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            continue
        n += 1
    return n


def count(rev):
    files = [f for f in git("ls-tree", "-r", "--name-only", rev).split("\n") if f.endswith(".rs")]
    totals = {name: 0 for name, _ in PARTS}
    generated = 0
    for f in files:
        if re.search(r"tests?\.rs$|/tests/", f):
            continue
        if re.match(GENERATED, f):
            generated += sum(1 for l in git("show", f"{rev}:{f}").split("\n") if l.strip())
            continue
        for name, pat in PARTS:
            if re.match(pat, f):
                totals[name] += code_lines(strip_tests(git("show", f"{rev}:{f}")))
                break
    return totals, generated


def main():
    revs = sys.argv[1:] or ["HEAD"]
    results = [(rev, *count(rev)) for rev in revs]
    head = "| part | " + " | ".join(f"{r} ({git('rev-parse', '--short', r).strip()})" for r in revs) + " |"
    print(head)
    print("|" + " --- |" * (len(revs) + 1))
    for name, _ in PARTS:
        print(f"| {name} | " + " | ".join(f"{t[name]:,}" for _, t, _ in results) + " |")
    totals = [sum(t.values()) for _, t, _ in results]
    print("| **total hand-written** | " + " | ".join(f"**{x:,}**" for x in totals) + " |")
    print("| generated (not counted above) | " + " | ".join(f"{g:,}" for _, _, g in results) + " |")
    if len(totals) > 1 and totals[0]:
        print(f"change {revs[0]} → {revs[-1]}: {100.0 * (totals[-1] - totals[0]) / totals[0]:+.1f} %")


if __name__ == "__main__":
    main()
