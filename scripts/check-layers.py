#!/usr/bin/env python3
"""Shows that the top-level modules of every workspace crate form no import cycle (issue #12: layers).

For each crate root of each workspace member (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`), the nodes are the
root's top-level modules (`mod x;` / `mod x { … }`) and there is an edge x → y when code in x names y through a
path that leaves x: `crate::y…`, `$crate::y…`, `use crate::{y, …}`, or `super::y…` / `super::super::y…` whose
`super`s climb to the crate root. A root item re-exported from a module (`pub use y::Item;`) or a
`#[macro_export]` macro defined in y counts as y. Cargo itself forbids cycles between crates.

Not counted: comments (so doc links are not references), string and character literals, and — unless
`--include-tests` — `#[cfg(test)]` modules (inline or in their own file): test code may reach across layers
to build fixtures. Integration tests, examples, benches and fuzz targets are separate crates and not read.

Prints each graph (`module -> the modules it uses`) and every cycle (strongly connected component of two or
more modules) with the references behind each of its edges. Exits 1 when a crate not named by `--report-only`
has a cycle (`--report-only CRATE` prints that crate's cycles without failing; scripts/test.sh enforces every
crate).

Python standard library only.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """`text` with comments and string/char literals blanked (newlines kept, so offsets and lines hold)."""
    out = list(text)
    n = len(text)
    i = 0

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" or (c in "bc" and i + 1 < n and text[i + 1] == "r"):
            # Raw strings: r"…", r#"…"#, br"…", cr#"…"# (an identifier otherwise).
            m = re.compile(r'[bc]?r(#*)"').match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                close = '"' + m.group(1)
                j = text.find(close, m.end())
                j = n if j < 0 else j + len(close)
                blank(i, j)
                i = j
            else:
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # A character literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a, 'static).
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 2)
                j = n if j < 0 else j
                blank(i, j + 1)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                i += 1
        elif c.isalnum() or c == "_":
            # Skip the rest of an identifier (so the `r` in `for` never starts a raw string).
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            i = j
        else:
            i += 1
    return "".join(out)


def matching_brace(text, open_at):
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(text) - 1


CFG_TEST_MOD = re.compile(
    r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub\s*(?:\([^)]*\))?\s*)?mod\s+(" + IDENT + r")\s*([{;])"
)
MOD_DECL = re.compile(r"(?<![\w])(?:pub\s*(?:\([^)]*\))?\s*)?mod\s+(" + IDENT + r")\s*([{;])")


def drop_test_modules(text):
    """Blank `#[cfg(test)] mod x { … }`; return the text and the names of `#[cfg(test)] mod x;` files."""
    skipped = set()
    while True:
        m = CFG_TEST_MOD.search(text)
        if not m:
            return text, skipped
        if m.group(2) == ";":
            skipped.add(m.group(1))
            end = m.end()
        else:
            end = matching_brace(text, m.end() - 1) + 1
        text = text[: m.start()] + "".join(ch if ch == "\n" else " " for ch in text[m.start() : end]) + text[end:]


def inline_mod_spans(text):
    """(start, end) of the bodies of inline `mod x { … }` blocks."""
    spans = []
    for m in MOD_DECL.finditer(text):
        if m.group(2) == "{":
            spans.append((m.end() - 1, matching_brace(text, m.end() - 1)))
    return spans


class Module:
    def __init__(self, name):
        self.name = name
        self.files = []  # (path, depth of the file's module below the crate root)


def module_files(src_dir, name, depth, include_tests, parent_text=None):
    """The files of module `name` declared in a file of `src_dir`, with their depths, recursively."""
    files = []
    for candidate in (src_dir / f"{name}.rs", src_dir / name / "mod.rs"):
        if candidate.exists():
            files.append((candidate, depth))
            text = strip(candidate.read_text(encoding="utf-8"))
            if not include_tests:
                text, skipped = drop_test_modules(text)
            else:
                skipped = set()
            sub_dir = src_dir / name
            spans = inline_mod_spans(text)
            for m in MOD_DECL.finditer(text):
                if m.group(2) != ";" or m.group(1) in skipped:
                    continue
                if any(a < m.start() < b for a, b in spans):
                    continue  # `mod x;` inside an inline module: rare, not followed
                files.extend(module_files(sub_dir, m.group(1), depth + 1, include_tests))
            break
    return files


PATH = re.compile(
    r"(?<![\w:$])(\$crate|crate|super(?:\s*::\s*super)*)\s*::\s*(?:(" + IDENT + r")|(\{))"
)


def brace_heads(text, open_at):
    """The first identifier of each comma-separated element of the `{ … }` group opening at `open_at`."""
    close = matching_brace(text, open_at)
    body = text[open_at + 1 : close]
    heads, depth, start = [], 0, 0
    for k, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            m = re.match(r"\s*(" + IDENT + r")", body[start:k])
            if m:
                heads.append(m.group(1))
            start = k + 1
    return heads


def analyze_root(root_file, include_tests):
    """(modules, edges) of one crate root: edges[(a, b)] = [(file, line, snippet), …]."""
    src_dir = root_file.parent
    text = strip(root_file.read_text(encoding="utf-8"))
    if not include_tests:
        text, skipped = drop_test_modules(text)
    else:
        skipped = set()
    modules = {}
    inline_roots = []
    for m in MOD_DECL.finditer(text):
        name = m.group(1)
        if name in skipped:
            continue
        mod = Module(name)
        if m.group(2) == ";":
            mod.files = module_files(src_dir, name, 1, include_tests)
        else:
            inline_roots.append((name, m.end() - 1, matching_brace(text, m.end() - 1)))
        modules[name] = mod
    # Root items that stand for a module: `pub use y::Item;`, `pub use y::{A, B};`, exported macros.
    aliases = {}
    for m in re.finditer(r"(?<![\w])use\s+(?:crate::|self::)?(" + IDENT + r")\s*::\s*(?:(" + IDENT + r")|\{([^}]*)\})", text):
        if m.group(1) in modules:
            names = [m.group(2)] if m.group(2) else [s.strip().split()[-1] for s in m.group(3).split(",") if s.strip()]
            for item in names:
                aliases.setdefault(item, m.group(1))
    for name, mod in modules.items():
        for path, _ in mod.files:
            for mm in re.finditer(r"#\s*\[\s*macro_export\s*\]\s*macro_rules\s*!\s*(" + IDENT + ")", strip(path.read_text(encoding="utf-8"))):
                aliases.setdefault(mm.group(1), name)

    edges = {}

    def scan(owner, path, body, base_depth, offset=0, full=None):
        full = body if full is None else full
        spans = inline_mod_spans(body)
        for m in PATH.finditer(body):
            head = m.group(1)
            if head in ("crate", "$crate"):
                target_depth = 0
            else:
                target_depth = base_depth + sum(1 for a, b in spans if a < m.start() < b) - head.count("super")
            if target_depth != 0:
                continue  # stays inside `owner` (or is not a valid path)
            names = [m.group(2)] if m.group(2) else brace_heads(body, m.end() - 1)
            for name in names:
                target = name if name in modules else aliases.get(name)
                if target and target != owner:
                    line = full.count("\n", 0, offset + m.start()) + 1
                    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    edges.setdefault((owner, target), []).append((str(rel), line, f"{head}::{name}"))

    for name, mod in modules.items():
        for path, depth in mod.files:
            body = strip(path.read_text(encoding="utf-8"))
            if not include_tests:
                body, _ = drop_test_modules(body)
            scan(name, path, body, depth)
    for name, a, b in inline_roots:
        scan(name, root_file, text[a : b + 1], 1, offset=a, full=text)
    return modules, edges


def cycles(nodes, edges):
    """Strongly connected components of two or more nodes (Tarjan), each sorted, in a stable order."""
    succ = {n: sorted({b for (a, b) in edges if a == n}) for n in nodes}
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return sorted(out)


def crate_roots(member):
    manifest = tomllib.loads((member / "Cargo.toml").read_text(encoding="utf-8"))
    name = manifest["package"]["name"]
    roots = []
    lib = member / manifest.get("lib", {}).get("path", "src/lib.rs")
    if lib.exists():
        roots.append(("lib", lib))
    bins = [(b.get("name", name), member / b["path"]) for b in manifest.get("bin", []) if "path" in b]
    if not bins and (member / "src/main.rs").exists():
        bins.append((name, member / "src/main.rs"))
    bins += [(p.stem, p) for p in sorted((member / "src/bin").glob("*.rs"))]
    seen = set()
    for bname, path in bins:
        if path.exists() and path not in seen:
            seen.add(path)
            roots.append((f"bin {bname}", path))
    return name, roots


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report-only", action="append", default=[], metavar="CRATE",
                    help="print this crate's cycles without failing on them (repeatable)")
    ap.add_argument("--include-tests", action="store_true", help="read #[cfg(test)] modules too")
    ap.add_argument("--refs", type=int, default=2, metavar="N",
                    help="references shown per edge of a cycle (default 2; 0 for all)")
    ap.add_argument("crates", nargs="*", metavar="CRATE", help="only these crates (default: every member)")
    args = ap.parse_args()

    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]
    failed = []
    for member in workspace["members"]:
        name, roots = crate_roots(ROOT / member)
        if args.crates and name not in args.crates:
            continue
        enforcing = name not in args.report_only
        for kind, root in roots:
            modules, edges = analyze_root(root, args.include_tests)
            mode = "enforcing" if enforcing else "report only"
            print(f"== {name} ({kind}: {root.relative_to(ROOT)}; {mode})")
            if not modules:
                print("   (no modules)")
            for n in sorted(modules):
                deps = sorted({b for (a, b) in edges if a == n})
                print(f"   {n} -> {' '.join(deps) if deps else '(nothing)'}")
            found = cycles(modules, edges)
            if not found:
                print("   no cycle")
                continue
            print(f"   {len(found)} cycle(s):")
            for comp in found:
                print(f"   * {{{', '.join(comp)}}}")
                members = set(comp)
                for (a, b), refs in sorted(edges.items()):
                    if a in members and b in members:
                        shown = refs if args.refs == 0 else refs[: args.refs]
                        where = "; ".join(f"{f}:{line} {what}" for f, line, what in shown)
                        more = f" (+{len(refs) - len(shown)} more)" if len(refs) > len(shown) else ""
                        print(f"       {a} -> {b}: {where}{more}")
            if enforcing:
                failed.append(f"{name} ({kind})")
    if failed:
        print(f"check-layers: import cycles in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
