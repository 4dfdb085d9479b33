#!/usr/bin/env bash
# scripts/vs-sockperf.sh end to end on the built iolens: bad options (exit 2,
# one line naming the option, nothing created), a --quick run (the ratio
# table's shape and the files written), and SIGINT in the middle (exit 130,
# no peer left running, the pairs done summarised and marked interrupted).
# The shape of the output, never the speeds; and that iolens's stream ran
# with its sink's check off (--no-check), as iperf3 does not check. Skips
# (exit 77) when sockperf or iperf3 is missing and cannot be installed.
set -uo pipefail
iolens=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
script=$root/scripts/vs-sockperf.sh
work=$(mktemp -d)
bg=""
cleanup() {
	if [ -n "$bg" ]; then kill -TERM "$bg" 2>/dev/null; wait "$bg" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
export IOLENS=$iolens
cd "$work" || fail "cd $work"

for tool in sockperf iperf3 ss; do
	command -v "$tool" >/dev/null && continue
	(. "$root/scripts/deps.sh" && iolens_install_deps sockperf iperf3 iproute2) >install.log 2>&1
	command -v "$tool" >/dev/null || skip "$tool is not installed and could not be installed: $(tail -1 install.log)"
done

# Bad options: one line on stderr that names the option, exit 2, no DIR.
while IFS='|' read -r args want; do
	# shellcheck disable=SC2086
	"$script" $args --out bad >bad.out 2>bad.err
	rc=$?
	[ $rc -eq 2 ] || fail "'$args': exit $rc, expected 2"
	[ "$(wc -l <bad.err)" -eq 1 ] || fail "'$args': stderr is not one line: $(cat bad.err)"
	grep -q -- "$want" bad.err || fail "'$args': stderr does not name $want: $(cat bad.err)"
	[ ! -e bad ] || fail "'$args': created the output directory"
	[ ! -s bad.out ] || fail "'$args': wrote to stdout"
done <<'EOF'
--repeats 0|--repeats
--repeats x|--repeats
--time 0|--time
--placement diagonal|--placement
--backends nosuch|--backends
--backends io_uring:nosuch|--backends
--server-cpu 4096|--server-cpu
--server-cpu 0 --client-cpu 0|--client-cpu
--frobnicate|--frobnicate
--repeats|--repeats
EOF
mkdir full && touch full/x
"$script" --quick --out full >/dev/null 2>bad.err
[ $? -eq 2 ] && grep -q -- "--out" bad.err || fail "--out on a non-empty directory: $(cat bad.err)"
echo "ok: bad options"

# check DIR PAIRS PLACEMENTS BACKENDS INTERRUPTED: ratios.csv, ratios.md, the
# raw files of every pair and runs.tsv.
check() {
	/usr/bin/python3 - "$@" <<'PY'
import csv, json, os, re, sys

out, pairs, placements, backends, interrupted = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4].split(","), sys.argv[5] == "1"
errors = []
with open(f"{out}/ratios.csv", newline="") as fh:
    rows = list(csv.reader(fh))
header = ["placement", "backend", "metric", "median", "min", "max", "n", "target", "verdict",
          "iolens_median", "peer_median", "iperf3_received_gbit_median", "reason"]
if rows[0] != header:
    errors.append(f"ratios.csv header {rows[0]}")
want = {(p, b, m) for p in placements for b in backends for m in ("echo_p50", "stream_gbit")}
seen = {}
for row in rows[1:]:
    if len(row) != len(header):
        errors.append(f"ratios.csv row of {len(row)} fields: {row}")
        continue
    seen[tuple(row[:3])] = row
    med, lo, hi, n, target, verdict = row[3], row[4], row[5], row[6], row[7], row[8]
    if target != {"echo_p50": "<= 1.1", "stream_gbit": ">= 0.95"}.get(row[2]):
        errors.append(f"target {target}: {row}")
    if med == "":
        if pairs and not row[12]:
            errors.append(f"no numbers and no reason: {row}")
        continue
    med, lo, hi, n = float(med), float(lo), float(hi), int(n)
    if not (0 < lo <= med <= hi) or not 1 <= n <= pairs:
        errors.append(f"not 0 < min <= median <= max, 1 <= n <= {pairs}: {row}")
    if verdict not in ("met", "NOT met"):
        errors.append(f"verdict {verdict}: {row}")
    if not (float(row[9]) > 0 and float(row[10]) > 0):
        errors.append(f"side medians not > 0: {row}")
if set(seen) != want:
    errors.append(f"ratios.csv rows: missing {sorted(want - set(seen))}, unexpected {sorted(set(seen) - want)}")
if pairs and not any(r[3] for r in seen.values()):
    errors.append("not one ratio with numbers")

md = open(f"{out}/ratios.md").read().splitlines()
table = [l for l in md if l.startswith("|")]
if len(table) != 2 + len(placements) * len(backends):
    errors.append(f"ratios.md: {len(table)} table lines, expected {2 + len(placements) * len(backends)}")
if any(l.count("|") != 11 for l in table):
    errors.append("ratios.md: a table line without 10 columns")
title = [l for l in md if l.startswith("### ")]
if len(title) != 1 or ("INTERRUPTED" in title[0]) != interrupted:
    errors.append(f"ratios.md title {title}, interrupted {interrupted}")
for p in placements:
    if not any(l.startswith(f"- {p}: ") for l in md):
        errors.append(f"ratios.md: no placement line for {p}")

for r in range(1, pairs + 1):
    for p in placements:
        for name in ("echo-iolens.json", "echo-sockperf.txt", "stream-iolens.json", "stream-iperf3.json"):
            path = f"{out}/r{r}-{p}-{name}"
            if not os.path.exists(path):
                errors.append(f"missing {path}")
            elif path.endswith(".json"):
                try:
                    json.load(open(path))
                except ValueError as e:
                    errors.append(f"{path}: {e}")
        doc = json.load(open(f"{out}/r{r}-{p}-echo-iolens.json"))
        got = [x["backend"] for x in doc["results"]]
        if got != [b.split(":")[0] for b in backends]:
            errors.append(f"r{r}-{p}-echo-iolens.json: backends {got}")
        # iperf3 does not check what it reads: iolens's stream ran with its check off.
        for x in json.load(open(f"{out}/r{r}-{p}-stream-iolens.json"))["results"]:
            if x["workload"]["no_check"] is not True or (
                    x["status"] == "ok" and x["net"]["data_check"] != "not checked"):
                errors.append(f"r{r}-{p}-stream-iolens.json: {x['backend']} no_check "
                              f"{x['workload']['no_check']}, data_check {x['net']['data_check']}")
runs = [l.split("\t") for l in open(f"{out}/runs.tsv").read().splitlines()]
if runs[0] != ["pair", "placement", "workload", "tool", "start", "seconds", "rc"]:
    errors.append(f"runs.tsv header {runs[0]}")
if not interrupted:
    # Pair 1 runs iolens first, pair 2 the peer first.
    order = [(r[0], r[1], r[2], r[3]) for r in runs[1:]]
    want_order = []
    for r in range(1, pairs + 1):
        for p in placements:
            for w, peer in (("echo", "sockperf"), ("stream", "iperf3")):
                two = [(str(r), p, w, "iolens"), (str(r), p, w, peer)]
                want_order += two if r % 2 else two[::-1]
    if order != want_order:
        errors.append(f"runs.tsv order {order}")
if errors:
    print("\n".join(errors))
    sys.exit(1)
PY
}

# One quick pair, both placements, the default backends.
"$script" --quick --out quick >quick.out 2>quick.err
rc=$?
[ $rc -eq 0 ] || { cat quick.out quick.err; fail "--quick exited $rc"; }
cat quick.out
grep -q "^| same | blocking | " quick.out || fail "no ratio table on stdout"
check quick 1 cross,same blocking,epoll,io_uring 0 || fail "--quick output"
echo "ok: --quick"

# Two pairs on one placement and backend: the second runs the peer first.
"$script" --quick --repeats 2 --placement same --backends blocking --out two >two.out 2>two.err
rc=$?
[ $rc -eq 0 ] || { cat two.out two.err; fail "--repeats 2 exited $rc"; }
check two 2 same blocking 0 || fail "--repeats 2 output"
echo "ok: alternating pairs"

# SIGINT during the second pair: exit 130 soon, no peer left, pair 1 summarised.
set -m # a background job that takes SIGINT (without job control it ignores it)
VS_SOCKPERF_TEST=$work "$script" --quick --repeats 3 --placement cross --backends blocking \
	--out int >int.out 2>int.err &
bg=$!
set +m
for _ in $(seq 600); do
	grep -q "== r2 " int.err 2>/dev/null && break
	sleep 0.05
done
grep -q "== r2 " int.err || fail "SIGINT: the second pair never started: $(cat int.err)"
t0=$(date +%s%N)
kill -INT "$bg"
wait "$bg"
rc=$?
bg=""
took_ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -eq 130 ] || { cat int.err; fail "SIGINT: exit $rc, expected 130"; }
[ $took_ms -lt 5000 ] || fail "SIGINT: took $took_ms ms to stop"
grep -q "interrupted after 1 of 3" int.err || { cat int.err; fail "SIGINT: no interrupted line"; }
# Everything the script started carries its environment: none may be left.
for p in /proc/[0-9]*; do
	[ "$p" = "/proc/$$" ] && continue
	tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "VS_SOCKPERF_TEST=$work" &&
		fail "still running after SIGINT: $(tr '\0' ' ' <"$p/cmdline")"
done
ls int | grep -q '^r2-' && fail "SIGINT left the half-done pair's files: $(ls int | grep '^r2-')"
check int 1 cross blocking 1 || fail "output after SIGINT"
echo "ok: SIGINT (stopped in $took_ms ms)"
