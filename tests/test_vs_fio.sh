#!/usr/bin/env bash
# scripts/vs-fio.sh --quick end to end: checks the shape of what it writes,
# never the speeds (a 2-core machine under other load gives any ratio).
# Skips (exit 77) with the reason when fio is missing and cannot be installed.
set -uo pipefail
iolens=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

if ! command -v fio >/dev/null; then
	(. "$root/scripts/deps.sh" && iolens_install_deps fio) >"$work/install.log" 2>&1
	command -v fio >/dev/null || skip "fio is not installed and could not be installed: $(tail -1 "$work/install.log")"
fi

# Bad input: one line naming the option, exit 2, nothing created.
for bad in "--cpu 99" "--cpu x" "--repeats 0" "--pairs psync,nope" "--cells direct"; do
	# shellcheck disable=SC2086
	IOLENS=$iolens "$root/scripts/vs-fio.sh" $bad --out "$work/bad" >"$work/bad.out" 2>"$work/bad.err"
	rc=$?
	[ $rc -eq 2 ] || fail "vs-fio.sh $bad exited $rc, expected 2"
	[ "$(wc -l <"$work/bad.err")" -eq 1 ] && grep -q -- "${bad%% *}" "$work/bad.err" ||
		fail "vs-fio.sh $bad: expected one line naming ${bad%% *}, got: $(cat "$work/bad.err")"
	[ -e "$work/bad" ] && fail "vs-fio.sh $bad created its output directory"
done

# A relative --out is the caller's directory (the script works from the repository's).
# The runs it records go into a database of the test's own. Half-second runs:
# the test reads the shape, and fio's tuned runs made --quick's 1 s runs
# take 54 runs where they took 44.
export IOLENS_DB=$work/results.db
(cd "$work" && IOLENS=$iolens "$root/scripts/vs-fio.sh" --quick --runtime 0.5 --out out) >"$work/stdout" 2>"$work/stderr"
rc=$?
[ $rc -eq 0 ] || { cat "$work/stdout" "$work/stderr"; fail "vs-fio.sh --quick exited $rc"; }
[ ! -e "$root/out" ] || fail "a relative --out wrote into the source tree ($root/out)"
[ -d "$work/out" ] || fail "a relative --out did not land in the caller's directory"
cat "$work/stdout"

# Every fio run is in the database under its label, the tuned ones apart.
for label in fio fio-tuned; do
	"$iolens" history --label "out-$label" --limit 1000 --json >"$work/history-$label.json" ||
		fail "iolens history --label out-$label failed"
done

/usr/bin/python3 - "$work/out" "$work" <<'PY' || fail "output check"
import csv, glob, json, os, statistics, sys

out, work = sys.argv[1], sys.argv[2]
errors = []
path = f"{out}/ratios.csv"
if not os.path.exists(path):
    sys.exit(f"no {path}")
with open(path, newline="") as fh:
    rows = list(csv.reader(fh))
header = ["cell", "fio_engine", "iolens_backend", "metric", "against", "fio_run",
          "median", "min", "max", "n", "reason"]
if rows[0] != header:
    errors.append(f"header {rows[0]}, expected {header}")
cells = ["cached-qd1", "cached-qd32", "direct-qd32", "direct-qd32-batched"]
pairs = [("psync", "blocking"), ("libaio", "libaio"), ("posixaio", "posix-aio"), ("io_uring", "io_uring"),
         ("io_uring+fixed", "io_uring:fixed-files+fixed-bufs"), ("io_uring+sqpoll", "io_uring:sqpoll+cq-spin")]
metrics = ["iops", "p50", "p99", "cpu_per_op"]
# fio runs tuned too at depth 32 for the engines that batch, except where the
# cell's own fio run is the tuned one (libaio and io_uring+fixed, batched).
def tuned(c, f):
    if c == "cached-qd1" or f in ("psync", "posixaio"):
        return False
    return not (c.endswith("-batched") and f in ("libaio", "io_uring+fixed"))
# The batched cell runs only the engines that can submit a batch.
want = {(c, f, i, m, a) for c in cells for f, i in pairs for m in metrics
        for a in ["best", "fio"] + (["fio-tuned"] if tuned(c, f) else [])
        if not (c.endswith("-batched") and f in ("psync", "posixaio"))}
seen = {}
for row in rows[1:]:
    if len(row) != len(header):
        errors.append(f"row of {len(row)} fields: {row}")
        continue
    key = tuple(row[:5])
    if key in seen:
        errors.append(f"row twice: {key}")
    seen[key] = row
    against, fio_run = row[4], row[5]
    med, lo, hi, n, reason = row[6], row[7], row[8], row[9], row[10]
    if against != "best" and fio_run != against:
        errors.append(f"a row against {against} names fio run {fio_run!r}: {row}")
    if against == "best" and med != "" and fio_run not in ("fio", "fio-tuned"):
        errors.append(f"a headline row names no fio run: {row}")
    if med == "":
        if not reason:
            errors.append(f"no numbers and no reason: {row}")
        if lo or hi:
            errors.append(f"min/max without a median: {row}")
        continue
    med, lo, hi, n = float(med), float(lo), float(hi), int(n)
    if not med > 0:
        errors.append(f"median not > 0: {row}")
    if not lo <= med <= hi:
        errors.append(f"not min <= median <= max: {row}")
    if n < 1:
        errors.append(f"numbers from n={n}: {row}")
missing, extra = want - set(seen), set(seen) - want
if missing:
    errors.append(f"missing rows: {sorted(missing)}")
if extra:
    errors.append(f"unexpected rows: {sorted(extra)}")
numeric = [r for r in seen.values() if r[6] != ""]
if not numeric:
    errors.append("not one row with numbers")

raws = sorted(glob.glob(f"{out}/r*-*.json"))
if not raws:
    errors.append("no raw JSON files")
for p in raws:
    try:
        doc = json.load(open(p))
    except ValueError as e:
        errors.append(f"{p}: {e}")
        continue
    # How refills went in, on each side, per O_DIRECT cell.
    name = os.path.basename(p)
    if "-direct-qd32-" in name and "-iolens-" in name:
        sb = doc["results"][0]["workload"]["submit_batch"]
        want_sb = 0 if "-batched-" in name else 1
        if sb != want_sb:
            errors.append(f"{name}: submit_batch {sb}, expected {want_sb}")
    if "-fio-" not in name:
        continue
    opts = doc["jobs"][0]["job options"]
    # fio writes iodepth_batch_submit back under its alias iodepth_batch.
    submit = opts.get("iodepth_batch", opts.get("iodepth_batch_submit"))
    batched = submit == "32" and opts.get("iodepth_batch_complete_max") == "32"
    if "-fio-tuned-" in name:
        fixed = opts.get("registerfiles") == "1" and opts.get("fixedbufs") == "1"
        if not batched or opts.get("iodepth_batch_complete_min") != "1" or \
                fixed != (opts.get("ioengine") == "io_uring"):
            errors.append(f"{name}: fio-tuned job options {opts}")
    elif "-direct-qd32-" in name and batched != ("-batched-" in name):
        errors.append(f"{name}: fio job options {opts}")
for p in glob.glob(f"{out}/*.dev0") + glob.glob(f"{out}/*.dev1"):
    if len(open(p).read().split()) != 2:
        errors.append(f"{p}: expected reads and ms reading")
for name in ("ratios.md",):
    if not os.path.getsize(f"{out}/{name}"):
        errors.append(f"{name} is empty")

# fio-tuned ran where it should and nowhere else.
slug = lambda s: s.replace(":", "-").replace("+", "-")
for c in cells:
    for f, i in pairs:
        ran = glob.glob(f"{out}/r*-{c}-fio-tuned-{slug(f)}.json")
        if c.startswith("direct") and open(f"{out}/direct_ok").read().strip() != "1":
            continue
        if bool(ran) != tuned(c, f):
            errors.append(f"{c} {f}: fio-tuned {'ran' if ran else 'did not run'}")
# The headline is against the better fio run, recomputed here from the raw
# JSON: the fio run whose median figure is better (more IOPS, lower p50),
# and iolens over it per repeat.
def fio_fig(path, m):
    rd = json.load(open(path))["jobs"][0]["read"]
    return rd["iops"] if m == "iops" else float(rd["lat_ns"]["percentile"]["50.000000"])
def iolens_fig(path, m):
    res = json.load(open(path))["results"][0]
    return res["iops"] if m == "iops" else res["latency_ns"]["p50"]
checked = 0
for f, i in pairs:
    if not tuned("cached-qd32", f):
        continue
    for m in ("iops", "p50"):
        figs, ratios = {}, {}
        for v in ("fio", "fio-tuned"):
            reps = sorted(glob.glob(f"{out}/r*-cached-qd32-{v}-{slug(f)}.json"))
            pairs_r = [(fio_fig(p, m), iolens_fig(p.replace(f"-{v}-{slug(f)}", f"-iolens-{slug(i)}"), m))
                       for p in reps]
            figs[v] = statistics.median(x for x, _ in pairs_r)
            ratios[v] = statistics.median(y / x for x, y in pairs_r)
        best = max(figs, key=figs.get) if m == "iops" else min(figs, key=figs.get)
        row = seen.get(("cached-qd32", f, i, m, "best"))
        if row is None or row[6] == "":
            errors.append(f"cached-qd32 {f} {m}: no headline")
            continue
        if row[5] != best:
            errors.append(f"cached-qd32 {f} {m}: headline against {row[5]}, the better fio run was "
                          f"{best} ({figs})")
        if abs(float(row[6]) - ratios[best]) > 1e-3 * ratios[best]:
            errors.append(f"cached-qd32 {f} {m}: headline {row[6]}, iolens over the better fio "
                          f"run is {ratios[best]:.4g}")
        checked += 1
if not checked:
    errors.append("no headline of a cell where fio ran tuned")
md = open(f"{out}/ratios.md").read()
if "fio-tuned" not in md or not ("[T]" in md or "[D]" in md):
    errors.append("ratios.md names no fio-tuned run and marks no headline")
for line in md.splitlines():
    if line.startswith("| cached-qd32 | libaio / libaio | ") and line.count(" | ") == 5 and \
            not all(x.rstrip(" |").endswith("]") for x in line.split(" | ")[2:]):
        errors.append(f"ratios.md: headline without its mark: {line}")
    if line.startswith(("| cached-qd32 | psync", "| cached-qd32 | posixaio")) and "[" in line:
        errors.append(f"ratios.md: a mark where fio ran once: {line}")
# The database holds each fio run under its label.
for label in ("fio", "fio-tuned"):
    n_db = len(json.load(open(f"{work}/history-{label}.json")))
    n_raw = len([p for p in raws if f"-{label}-" in os.path.basename(p) and
                 (label == "fio-tuned" or "-fio-tuned-" not in p) and
                 not os.path.exists(p[:-5] + ".rc")])
    if n_db != n_raw:
        errors.append(f"database: {n_db} runs labelled out-{label}, {n_raw} such fio runs")

for e in errors:
    print("FAIL:", e)
print(f"{len(seen)} rows ({len(numeric)} with numbers), {len(raws)} raw JSON files")
sys.exit(1 if errors else 0)
PY
echo "PASS"
