#!/bin/bash
# What counting syscalls inline costs: the same backends timed with
# --count separate (the timing pass has no counter open) and --count inline
# (counters and per-call getrusage in the timed pass), in alternating pairs so
# drift on a noisy machine hits both sides alike. Prints p50, p99 and IOPS of
# each pass and the inline/separate ratio of their medians.
#
#   scripts/count_overhead.sh [pairs] [iolens run options...]
#
# Default: 3 pairs of --backend blocking,io_uring --depth 1 --size 256m --time 2s.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${IOLENS_BIN:-$root/build/iolens}
pairs=${1:-3}
if [[ ! $pairs =~ ^[1-9][0-9]*$ ]]; then
	echo "count_overhead.sh: pairs: expected a positive integer, got '$pairs'" >&2
	exit 2
fi
shift || true
if [ $# -eq 0 ]; then
	set -- --backend blocking,io_uring --depth 1 --size 256m --time 2s
fi
if [ ! -x "$bin" ]; then
	echo "count_overhead.sh: no iolens binary at $bin (build first, or set IOLENS_BIN)" >&2
	exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= pairs; i++)); do
	for mode in separate inline; do
		"$bin" run "$@" --count "$mode" --json "$out/$mode.$i.json" >/dev/null
	done
done

/usr/bin/python3 - "$out" "$pairs" <<'EOF'
import json, statistics, sys

out, pairs = sys.argv[1], int(sys.argv[2])
rows = {}
for mode in ("separate", "inline"):
    for i in range(1, pairs + 1):
        with open(f"{out}/{mode}.{i}.json") as f:
            for r in json.load(f)["results"]:
                if r["status"] != "ok":
                    continue
                name = r["backend"] + (":" + r["variant"] if r["variant"] else "")
                d = rows.setdefault(name, {}).setdefault(mode, {"p50": [], "p99": [], "iops": []})
                d["p50"].append(r["latency_ns"]["p50"])
                d["p99"].append(r["latency_ns"]["p99"])
                d["iops"].append(r["iops"])

print(f"{'backend':<16} {'figure':<6} {'separate (each pass)':<34} {'inline (each pass)':<34} {'ratio':>6}")
for name, d in rows.items():
    if "separate" not in d or "inline" not in d:
        continue
    for fig in ("p50", "p99", "iops"):
        s, n = d["separate"][fig], d["inline"][fig]
        fmt = (lambda v: f"{v:.0f}") if fig == "iops" else (lambda v: f"{v / 1000:.2f}us")
        ratio = statistics.median(n) / statistics.median(s) if statistics.median(s) else float("nan")
        print(f"{name:<16} {fig:<6} {' '.join(fmt(v) for v in s):<34} {' '.join(fmt(v) for v in n):<34} {ratio:>6.2f}")
EOF
