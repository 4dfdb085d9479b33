"""The one-way rule of the source tree, checked from the #include lines.

Usage: check_includes.py [SOURCE-ROOT]. Exits 1 naming each include that
breaks the rule, 0 when there is none.

The rule. Every C file and private header belongs to one wing, and the wings
are stacked; a file may include headers of its own wing and of the wings
below it, never of a wing above it:

    cli      harness/cli/         the command line; public headers and the store's only
    store    harness/store/       what outlasts a run, for the command line alone: the
                                  results database, diff's pairing and statistics, logs
    run      harness/run/         runs and passes, job threads, the disk loop, the
                                  figures of a pass, the target
    net      harness/net/         the socket loop: connections, loop, drain, figures
    job      harness/job/         what both loops stand on: struct run and struct job,
                                  per-call bookkeeping, the parsed spec
    peer     harness/peer/        the built-in responder and load generator, addresses,
                                  the pattern, the child process that hosts them
    report   harness/report/      the walk, JSON, CSV, the table, the verdict
    measure  harness/measure/     histogram, syscall counters, the model
    backends backends/            the backends, the context API and their kit
    public   include/iolens/, iolens_config.h (generated), system headers

So data flows down: the CLI drives a run, the run drives the disk loop and
the socket loop, both stand on the job layer and drive the backends, and
measurements and reports never reach back up into the run that feeds them.
The public headers include nothing private. A CLI file includes public
headers, the CLI's own and the store's, nothing else: the command line is a
user of the library like any other, and the store (which the library never
links: SQLite, zlib) is the command line's own.
A file of harness/ outside these folders belongs to no wing and is an error.
"""
import os
import re
import sys

WINGS = ["public", "backends", "measure", "report", "peer", "job", "net", "run", "store", "cli"]
RANK = {w: i for i, w in enumerate(WINGS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def wing_of(rel):
    """The wing of a file, by its path relative to the source root."""
    parts = rel.split("/")
    if parts[0] == "include":
        return "public"
    if parts[0] == "backends":
        return "backends"
    if parts[0] == "harness" and len(parts) > 2 and parts[1] in RANK:
        return parts[1]
    return None


def sources(root):
    for top in ("include", "backends", "harness"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def header_index(root):
    """Where each private header lives: its name, as the includes give it."""
    index = {}
    for rel in sources(root):
        if rel.endswith(".h"):
            name = rel[len("include/"):] if rel.startswith("include/") else os.path.basename(rel)
            index.setdefault(name, []).append(rel)
    return index


def check(root):
    index = header_index(root)
    broken = []
    for rel in sources(root):
        mine = wing_of(rel)
        if mine is None:
            broken.append(f"{rel}: belongs to no wing (put it in one of {', '.join(WINGS[1:])})")
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            name = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            if name == "iolens_config.h":
                continue
            homes = index.get(name)
            if not homes:
                broken.append(f"{rel}:{line}: includes \"{name}\", which is no header of the tree")
                continue
            if len(homes) > 1:
                broken.append(f"{rel}:{line}: \"{name}\" is ambiguous: {', '.join(homes)}")
                continue
            theirs = wing_of(homes[0])
            if mine == "cli" and theirs not in ("cli", "store", "public"):
                broken.append(f"{rel}:{line}: the cli wing includes \"{name}\" of the {theirs} "
                              "wing: the command line uses the public headers and the store's only")
            elif RANK[theirs] > RANK[mine]:
                broken.append(f"{rel}:{line}: the {mine} wing includes \"{name}\" of the "
                              f"{theirs} wing above it")
    return broken


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    broken = check(os.path.abspath(root))
    for b in broken:
        print(b)
    if broken:
        print(f"check_includes: {len(broken)} include(s) against the one-way rule")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
