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
(cd "$work" && IOLENS=$iolens "$root/scripts/vs-fio.sh" --quick --out out) >"$work/stdout" 2>"$work/stderr"
rc=$?
[ $rc -eq 0 ] || { cat "$work/stdout" "$work/stderr"; fail "vs-fio.sh --quick exited $rc"; }
[ ! -e "$root/out" ] || fail "a relative --out wrote into the source tree ($root/out)"
[ -d "$work/out" ] || fail "a relative --out did not land in the caller's directory"
cat "$work/stdout"

/usr/bin/python3 - "$work/out" <<'PY' || fail "output check"
import csv, glob, json, os, sys

out = sys.argv[1]
errors = []
path = f"{out}/ratios.csv"
if not os.path.exists(path):
    sys.exit(f"no {path}")
with open(path, newline="") as fh:
    rows = list(csv.reader(fh))
header = ["cell", "fio_engine", "iolens_backend", "metric", "median", "min", "max", "n", "reason"]
if rows[0] != header:
    errors.append(f"header {rows[0]}, expected {header}")
cells = ["cached-qd1", "cached-qd32", "direct-qd32", "direct-qd32-batched"]
pairs = [("psync", "blocking"), ("libaio", "libaio"), ("posixaio", "posix-aio"), ("io_uring", "io_uring"),
         ("io_uring+fixed", "io_uring:fixed-files+fixed-bufs"), ("io_uring+sqpoll", "io_uring:sqpoll+cq-spin")]
metrics = ["iops", "p50", "p99", "cpu_per_op"]
# The batched cell runs only the engines that can submit a batch.
want = {(c, f, i, m) for c in cells for f, i in pairs for m in metrics
        if not (c.endswith("-batched") and f in ("psync", "posixaio"))}
seen = {}
for row in rows[1:]:
    if len(row) != len(header):
        errors.append(f"row of {len(row)} fields: {row}")
        continue
    key = tuple(row[:4])
    if key in seen:
        errors.append(f"row twice: {key}")
    seen[key] = row
    med, lo, hi, n, reason = row[4], row[5], row[6], row[7], row[8]
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
numeric = [r for r in seen.values() if r[4] != ""]
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
    if "-direct-qd32-" in name and "-fio-" in name:
        opts = doc["jobs"][0]["job options"]
        # fio writes iodepth_batch_submit back under its alias iodepth_batch.
        submit = opts.get("iodepth_batch", opts.get("iodepth_batch_submit"))
        batched = submit == "32" and opts.get("iodepth_batch_complete_max") == "32"
        if batched != ("-batched-" in name):
            errors.append(f"{name}: fio job options {opts}")
for p in glob.glob(f"{out}/*.dev0") + glob.glob(f"{out}/*.dev1"):
    if len(open(p).read().split()) != 2:
        errors.append(f"{p}: expected reads and ms reading")
for name in ("ratios.md",):
    if not os.path.getsize(f"{out}/{name}"):
        errors.append(f"{name} is empty")

for e in errors:
    print("FAIL:", e)
print(f"{len(seen)} rows ({len(numeric)} with numbers), {len(raws)} raw JSON files")
sys.exit(1 if errors else 0)
PY
echo "PASS"
