#!/usr/bin/env bash
# The same disk jobs through fio and through iolens, in one run, alternating,
# N repeats: how far iolens's figures are from fio's on this machine.
#
#   scripts/vs-fio.sh [--quick] [--repeats N] [--runtime S] [--size SIZE]
#                     [--out DIR] [--dir DIR] [--cpu N|none] [--pairs LIST]
#                     [--cells LIST]
#
# Pairs (fio engine / iolens backend): psync/blocking, libaio/libaio,
# posixaio/posix-aio, io_uring/io_uring, and io_uring with registered files and
# fixed buffers (fio --registerfiles=1 --fixedbufs=1 / io_uring:fixed-files+fixed-bufs)
# and with SQPOLL (fio --sqthread_poll=1 / io_uring:sqpoll+cq-spin: under
# SQPOLL fio reaps by polling the CQ, never entering, which is what cq-spin
# does), each with its own default ring setup otherwise. --pairs takes a
# comma-separated list of the fio labels (psync, libaio, posixaio, io_uring,
# io_uring+fixed, io_uring+sqpoll) to run only those. Cells: 4 KiB random reads of one file,
# page-cached at depth 1 and 32, O_DIRECT at depth 32 twice. One job, time based,
# both sides on the same file (written once by fio before the first run).
# The two O_DIRECT cells differ in how refills reach the kernel, since a
# device (a virtual disk in particular) can serve a burst of requests slower
# than the same requests one at a time:
#   direct-qd32          one op per submit call on both sides: fio's defaults
#                        (iodepth_batch_submit=1, iodepth_batch_complete_max=1),
#                        iolens --submit-batch 1 (fio-tuned, batched, runs
#                        beside them, as in every cell of depth > 1);
#   direct-qd32-batched  all that were reaped go back in one call on both
#                        sides: fio iodepth_batch_submit=32 with
#                        iodepth_batch_complete_max=32, iolens's default; run
#                        for the engines that can submit a batch (libaio and
#                        the io_uring pairs).
# Around each O_DIRECT run the device's /proc/diskstats line is read, for the
# device's own time per read (time reading / reads completed) on each side.
# --cells takes a comma-separated list of cell names to run only those.
# fio's defaults reap one completion per call and submit one op per call,
# which at depth 32 in the page cache costs fio far more than the reads do, so
# at depth > 1 fio also runs tuned (fio-tuned): iodepth_batch_submit and
# iodepth_batch_complete_max = depth, iodepth_batch_complete_min=1, and on
# the io_uring engines registerfiles=1 and fixedbufs=1 (io_uring+sqpoll
# included; io_uring+fixed has them already). The engines that cannot batch
# run no tuned variant: psync is D jobs of depth 1, and fio's posixaio engine
# has no batched submit, each op being its own aio_read (page-cached at depth
# 32 on a 2-vCPU VM the batching options moved it by under 4%, within the
# noise). Nor do libaio and io_uring+fixed in direct-qd32-batched, whose fio
# run already is the tuned configuration (iodepth_batch_complete_min=1 is
# fio's default).
# Page-cached runs: the file is read in right before each run (cat for fio,
# iolens's --cache warm); fio runs with --invalidate=0 so it keeps the pages.
# O_DIRECT runs: fio invalidates the file's pages, iolens runs --cache cold.
# Each repeat runs every (cell, pair) as fio, fio-tuned (where it runs), then
# iolens, each repeat starting one further along that list (fio iolens, then
# iolens fio; or fio fio-tuned iolens, then fio-tuned iolens fio, then iolens
# fio fio-tuned), so drift on a noisy machine hits every side alike.
# Placement: both tools run their job on CPU N (--cpu, default the last CPU;
# fio --cpus_allowed, iolens --cpu), so the threads they start (glibc's AIO
# threads, io_uring's SQPOLL thread) inherit the same CPU on both sides; D
# psync jobs are spread over every CPU from 0 (fio cpus_allowed_policy=split,
# iolens --cpu 0 puts thread i on CPU i mod CPUs). The SQPOLL pair puts the
# kernel's polling thread on the next CPU (fio --sqthread_poll_cpu, iolens
# io_uring:sqpoll-cpu): on the job's own CPU it would take turns with the job.
# --cpu none: unpinned.
#
# Ratios are iolens/fio per repeat, printed as median (min-max). Where fio ran
# twice, the headline ratio of each metric is against the better of the two
# fio runs for that metric (more IOPS; lower p50, p99, CPU/op), the better
# being the one whose own median over the repeats is better; the table marks
# it [D] (fio's defaults) or [T] (fio-tuned), and a second table gives the
# ratios against each of the two. The figures:
#   IOPS     fio jobs[0].read.iops        iolens iops
#   p50, p99 fio jobs[0].read.lat_ns percentiles (--lat_percentiles=1: submission
#            to completion, what iolens measures); clat_ns when lat_ns has none
#   CPU/op   fio (usr_cpu + sys_cpu)% / 100 * job_runtime / read.total_ios
#            (fio's percentages are per job, its job_runtime the sum over
#            jobs), in ns                                 iolens cpu.per_op_ns
# fio runs its jobs as threads (--thread). psync is synchronous, so depth D is
# D psync jobs of depth 1 (group_reporting), as iolens's blocking backend runs
# D threads; the other engines run one job at depth D.
# Caveats the ratios carry:
# - fio takes its CPU time with getrusage(RUSAGE_THREAD): the job threads only.
#   iolens counts the whole process, so glibc's AIO threads (posix-aio) and
#   io_uring's io-wq workers are in iolens's CPU/op and not in fio's.
# - libaio on a page-cached file completes inside io_submit on both sides.
#
# Defaults: 3 repeats, 5 s measured after 1 s warmup (fio ramp_time), 1 GiB.
# --quick: 1 repeat, 1 s after 0.2 s, 64 MiB. --dir DIR: where the test file
# is made (default a temporary directory under $TMPDIR, removed after).
# iolens is built Release into build-bench unless IOLENS=path is set.
#
# Writes DIR/ratios.csv (cell, fio_engine, iolens_backend, metric, against,
# fio_run, median, min, max, n, reason: against is best for the headline,
# fio or fio-tuned for the ratio against that run alone; fio_run names the
# fio run the ratios are against, on the best rows the better one; reason is
# set, and the numbers empty, when a side was skipped or failed),
# DIR/ratios.md, and every raw JSON (r<R>-<cell>-fio-<engine>.json,
# r<R>-<cell>-fio-tuned-<engine>.json, r<R>-<cell>-iolens-<backend>.json)
# with the stderr of each run beside it. Every side also goes into the
# results database ($IOLENS_DB, else iolens's default): iolens's runs
# labelled <DIR name>-iolens, fio's JSON imported (iolens import) labelled
# <DIR name>-fio and <DIR name>-fio-tuned, so `iolens diff` and
# `plot.py --runs` can set them side by side later.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
. scripts/deps.sh

usage_err() { echo "vs-fio.sh: $*" >&2; exit 2; }
quick=0 repeats="" runtime="" size="" out="" dir="" cpu=$(($(nproc) - 1)) only="" only_cells=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--repeats | --runtime | --size | --out | --dir | --cpu | --pairs | --cells)
		[ $# -ge 2 ] || usage_err "$1 needs a value"
		case $1 in
		--repeats) [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_err "--repeats: expected a positive integer, got '$2'"
			repeats=$2 ;;
		--runtime) [[ $2 =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && awk "BEGIN{exit !($2 > 0)}" ||
			usage_err "--runtime: expected seconds > 0 (e.g. 5 or 0.5), got '$2'"
			runtime=$2 ;;
		--size) [[ $2 =~ ^[1-9][0-9]*[kKmMgG]?$ ]] || usage_err "--size: expected a size like 64m or 1g, got '$2'"
			size=$2 ;;
		--out) out=$2 ;;
		--dir) [ -d "$2" ] || usage_err "--dir: '$2' is not a directory"
			dir=$2 ;;
		--cpu) [[ $2 == none || ( $2 =~ ^[0-9]+$ && $2 -lt $(nproc) ) ]] ||
			usage_err "--cpu: expected a CPU number 0..$(($(nproc) - 1)) or none, got '$2'"
			cpu=$2 ;;
		--pairs) [[ $2 =~ ^(psync|libaio|posixaio|io_uring|io_uring\+fixed|io_uring\+sqpoll)(,(psync|libaio|posixaio|io_uring|io_uring\+fixed|io_uring\+sqpoll))*$ ]] ||
			usage_err "--pairs: expected a comma-separated list of psync, libaio, posixaio, io_uring, io_uring+fixed, io_uring+sqpoll, got '$2'"
			only=$2 ;;
		--cells) [[ $2 =~ ^(cached-qd1|cached-qd32|direct-qd32|direct-qd32-batched)(,(cached-qd1|cached-qd32|direct-qd32|direct-qd32-batched))*$ ]] ||
			usage_err "--cells: expected a comma-separated list of cached-qd1, cached-qd32, direct-qd32, direct-qd32-batched, got '$2'"
			only_cells=$2 ;;
		esac
		shift ;;
	*) usage_err "unknown option '$1' (accepts --quick, --repeats N, --runtime S, --size SIZE, --out DIR, --dir DIR, --cpu N|none, --pairs LIST, --cells LIST)" ;;
	esac
	shift
done

warmup=1
if [ $quick -eq 1 ]; then
	repeats=${repeats:-1} runtime=${runtime:-1} size=${size:-64m} warmup=0.2
fi
repeats=${repeats:-3} runtime=${runtime:-5} size=${size:-1g}
ms() { awk "BEGIN{printf \"%d\", $1 * 1000 + 0.5}"; }
run_ms=$(ms "$runtime") warm_ms=$(ms "$warmup")

command -v fio >/dev/null || iolens_install_deps fio
command -v fio >/dev/null || { echo "vs-fio.sh: fio is not installed and could not be installed" >&2; exit 1; }

if [ -n "${IOLENS:-}" ]; then
	iolens=$IOLENS
	[ -x "$iolens" ] || usage_err "IOLENS: no executable at '$iolens'"
else
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$(nproc)" >/dev/null
	iolens=build-bench/iolens
fi

# A relative --out is the caller's, not the source tree's.
case $out in "" | /*) ;; *) out=$caller_pwd/$out ;; esac
out=${out:-results/vs-fio-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
store_label=$(basename "$out")
if [ -n "$dir" ]; then
	file=$dir/vs-fio.$$.dat
	trap 'rm -f "$file"' EXIT
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vs-fio.XXXXXX")
	file=$dir/vs-fio.dat
	trap 'rm -rf "$dir"' EXIT
fi

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
fstype=$(df -PT "$dir" | awk 'NR == 2 {print $2}')
host="host: kernel $(uname -r), $(nproc) CPUs, ${cpu_model:-unknown CPU}; $(fio --version); file $size on $fstype ($dir); $repeats repeat(s) of ${runtime}s after ${warmup}s warmup; jobs $([ "$cpu" = none ] && echo unpinned || echo "pinned to CPU $cpu (psync depth D: spread over CPUs 0-$(($(nproc) - 1)); SQPOLL thread on CPU $(((cpu + 1) % $(nproc))))")"
echo "$host"
echo "$host" >"$out/host.txt"

echo "== writing the test file ($size)" >&2
fio --name=prep --rw=write --bs=1m --size="$size" --filename="$file" --end_fsync=1 \
	--output-format=terse >/dev/null 2>"$out/prep.err" ||
	{ cat "$out/prep.err" >&2; echo "vs-fio.sh: could not write $file" >&2; exit 1; }

direct_ok=1
dd if="$file" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null || direct_ok=0
[ $direct_ok -eq 1 ] || echo "O_DIRECT not supported on $dir: the direct cell is listed, not run" >&2
echo "$direct_ok" >"$out/direct_ok"

# keep_named ARRAY LIST SEP: keep the entries of ARRAY whose name (the part
# before the first SEP) is in the comma-separated LIST.
keep_named() {
	local -n arr=$1
	local keep=() e
	for e in "${arr[@]}"; do [[ ,$2, == *,"${e%%"$3"*}",* ]] && keep+=("$e"); done
	arr=("${keep[@]}")
}
# cell: name depth direct submit (how refills go in: - default, one, batched)
cells=("cached-qd1 1 0 -" "cached-qd32 32 0 -" "direct-qd32 32 1 one" "direct-qd32-batched 32 1 batched")
[ -n "$only_cells" ] && keep_named cells "$only_cells" " "
# The device under the file, for its diskstats line (empty if not found).
devname=$(basename "$(df -P "$dir" | awk 'NR == 2 {print $1}')")
grep -q " $devname " /proc/diskstats 2>/dev/null || devname=""
# devstat DIRECT FILE: for an O_DIRECT run (DIRECT 1), the device's reads
# completed and ms spent reading into FILE; no file without a device (tmpfs).
devstat() {
	[ "$1" -eq 1 ] && [ -n "$devname" ] || return 0
	awk -v d="$devname" '$3 == d {print $4, $7}' /proc/diskstats >"$2"
}
# label, fio options, iolens backend spec (labels name the raw files)
pairs=("psync|--ioengine=psync|blocking" "libaio|--ioengine=libaio|libaio"
	"posixaio|--ioengine=posixaio|posix-aio" "io_uring|--ioengine=io_uring|io_uring"
	"io_uring+fixed|--ioengine=io_uring --registerfiles=1 --fixedbufs=1|io_uring:fixed-files+fixed-bufs"
	"io_uring+sqpoll|--ioengine=io_uring --sqthread_poll=1|io_uring:sqpoll+cq-spin")
[ -n "$only" ] && keep_named pairs "$only" "|"
# tuned_opts CELL PAIR: the options of fio's tuned run of PAIR in CELL, or
# nothing when fio runs no tuned variant there: at depth 1, for psync (D jobs
# of depth 1) and posixaio (it cannot batch), and where the cell's own fio run
# already has every tuned option (libaio and io_uring+fixed in the batched
# cell, whose iodepth_batch_complete_min is fio's default 1).
tuned_opts() {
	local depth submit label fopts t
	read -r _ depth _ submit <<<"$1"
	IFS='|' read -r label fopts _ <<<"$2"
	[ "$depth" -gt 1 ] && [[ ! $label =~ ^(psync|posixaio)$ ]] || return 0
	t="--iodepth_batch_submit=$depth --iodepth_batch_complete_max=$depth --iodepth_batch_complete_min=1"
	[[ $fopts == *io_uring* && $fopts != *registerfiles* ]] && t+=" --registerfiles=1 --fixedbufs=1"
	[[ $submit == batched && $t != *registerfiles* ]] && return 0
	echo "$t"
}
# The matrix, "cell|pair|tuned options": every pair in every cell, except that
# psync and posixaio submit no batches and so sit out the batched cell. The
# summary reads its rows (cell|fio label|iolens spec|1 if fio ran tuned too)
# from runs.txt.
runs=()
for c in "${cells[@]}"; do
	for p in "${pairs[@]}"; do
		[[ ${c##* } == batched && ${p%%|*} =~ ^(psync|posixaio)$ ]] || runs+=("$c|$p|$(tuned_opts "$c" "$p")")
	done
done
for x in "${runs[@]}"; do
	IFS='|' read -r c label _ backend tuned <<<"$x"
	echo "${c%% *}|$label|$backend|$([ -n "$tuned" ] && echo 1 || echo 0)"
done >"$out/runs.txt"
slug() { echo "${1//[:+]/-}"; }
[ "$cpu" != none ] && sq_cpu=$(((cpu + 1) % $(nproc)))

run_fio() { # cell depth direct label fio-options submit variant (fio or fio-tuned)
	local base=$out/r$r-$1-$7-$(slug "$4") inval=0 pin=() batched=()
	if [ "$3" -eq 1 ]; then inval=1; else cat "$file" >/dev/null; fi
	echo "== r$r $1 $7 $4" >&2
	# psync is synchronous: depth D is D jobs of one read each, as iolens's
	# blocking backend runs D threads.
	local iodepth=$2 numjobs=1
	[ "$4" = psync ] && iodepth=1 numjobs=$2
	if [ "$cpu" != none ]; then
		pin=(--cpus_allowed="$cpu")
		[ "$numjobs" -gt 1 ] && pin=(--cpus_allowed=0-$(($(nproc) - 1)) --cpus_allowed_policy=split)
		[[ $5 == *sqthread_poll* ]] && pin+=(--sqthread_poll_cpu="$sq_cpu")
	fi
	# The tuned variant's options (in $5) carry the batched cell's two.
	[ "$6" = batched ] && [ "$7" = fio ] && batched=(--iodepth_batch_submit="$2" --iodepth_batch_complete_max="$2")
	devstat "$3" "$base.dev0"
	# shellcheck disable=SC2086
	fio --name="$1" --filename="$file" --rw=randread --bs=4k --size="$size" $5 "${pin[@]}" \
		--iodepth=$iodepth --numjobs=$numjobs --thread --direct="$3" --invalidate=$inval --time_based \
		--runtime="${run_ms}ms" --ramp_time="${warm_ms}ms" --norandommap --randrepeat=0 \
		--lat_percentiles=1 --group_reporting --output-format=json "${batched[@]}" \
		--output="$base.json" 2>"$base.err" || echo $? >"$base.rc"
	devstat "$3" "$base.dev1"
	[ -e "$base.rc" ] || "$iolens" import "$base.json" --label "$store_label-$7" >/dev/null \
		2>>"$base.err" || echo "vs-fio.sh: $base.json is not in the results database (see $base.err)" >&2
}
run_iolens() { # cell depth direct backend submit
	local base=$out/r$r-$1-iolens-$(slug "$4") extra=(--cache warm) spec=$4
	[ "$3" -eq 1 ] && extra=(--direct --cache cold)
	[ "$5" = one ] && extra+=(--submit-batch 1)
	if [ "$cpu" != none ] && [ "$4" = blocking ] && [ "$2" -gt 1 ]; then
		extra+=(--cpu 0)
	elif [ "$cpu" != none ]; then
		extra+=(--cpu "$cpu")
		[ "$spec" = io_uring:sqpoll+cq-spin ] && spec=io_uring:sqpoll-cpu=$sq_cpu+cq-spin
	fi
	echo "== r$r $1 iolens $4" >&2
	devstat "$3" "$base.dev0"
	"$iolens" run --backend "$spec" --workload randread --file "$file" --size "$size" --bs 4k \
		--depth "$2" --jobs 1 --time "${run_ms}ms" --warmup "${warm_ms}ms" --count off \
		--label "$store_label-iolens" "${extra[@]}" --json "$base.json" >/dev/null 2>"$base.err" ||
		echo $? >"$base.rc"
	devstat "$3" "$base.dev1"
}

for ((r = 1; r <= repeats; r++)); do
	for x in "${runs[@]}"; do
		IFS='|' read -r c label fopts backend tuned <<<"$x"
		read -r cell depth direct submit <<<"$c"
		[ "$direct" -eq 1 ] && [ $direct_ok -eq 0 ] && continue
		# Each repeat starts one later in the list (fio, [fio-tuned,] iolens),
		# so every side takes every place in turn.
		sides=(fio iolens)
		[ -n "$tuned" ] && sides=(fio fio-tuned iolens)
		n=${#sides[@]}
		for ((k = 0; k < n; k++)); do
			case ${sides[(k + r - 1) % n]} in
			fio) run_fio "$cell" "$depth" "$direct" "$label" "$fopts" "$submit" fio ;;
			fio-tuned) run_fio "$cell" "$depth" "$direct" "$label" "$fopts $tuned" "$submit" fio-tuned ;;
			iolens) run_iolens "$cell" "$depth" "$direct" "$backend" "$submit" ;;
			esac
		done
	done
done

/usr/bin/python3 - "$out" "$repeats" "$dir" <<'PY'
import csv, json, os, statistics, sys

out, repeats, tdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
direct_ok = open(f"{out}/direct_ok").read().strip() == "1"
# cell, fio label, iolens spec, "1" when fio also ran its tuned configuration
runs = [tuple(line.strip().split("|")) for line in open(f"{out}/runs.txt") if line.strip()]
slug = lambda s: s.replace(":", "-").replace("+", "-")
# What iolens should reach, as iolens/fio: page-cached IOPS >= 1 and p50 <= 1;
# O_DIRECT IOPS >= 0.98 (the device bounds both).
def targets(cell):
    return {"iops": 0.98} if cell.startswith("direct") else {"iops": 1.0, "p50": -1.0}
def verdict(m, med, cell):
    t = targets(cell).get(m)
    if t is None:
        return ""
    ok = med >= t if t > 0 else med <= -t
    return " met" if ok else " NOT met"
metrics = [("iops", "IOPS"), ("p50", "p50"), ("p99", "p99"), ("cpu_per_op", "CPU/op")]

def first_line(path):
    try:
        for line in open(path):
            if line.strip():
                return line.strip()
    except OSError:
        pass
    return ""

def fio_side(base, variant):
    """(figures, None) or (None, why); VARIANT (fio, fio-tuned) names the run in why."""
    try:
        j = json.load(open(base + ".json"))
        job = j["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        why = first_line(base + ".err") or "no JSON"
        return None, f"{variant} failed: {why}"
    if job.get("error"):
        return None, f"{variant} failed: error {job['error']} {first_line(base + '.err')}".strip()
    rd = job["read"]
    if not rd.get("iops"):
        return None, f"{variant} completed no reads"
    pct = (rd.get("lat_ns") or {}).get("percentile") or (rd.get("clat_ns") or {}).get("percentile") or {}
    def p(k):
        v = pct.get(k)
        return float(v) if v else None
    cpu_s = (job.get("usr_cpu", 0) + job.get("sys_cpu", 0)) / 100.0 * job.get("job_runtime", 0) / 1e3
    ios = rd.get("total_ios", 0)
    return {"iops": rd["iops"], "p50": p("50.000000"), "p99": p("99.000000"),
            "cpu_per_op": cpu_s * 1e9 / ios if cpu_s > 0 and ios else None}, None

def device_us_per_read(base):
    """The device's time per read over one run (diskstats), or None."""
    try:
        r0, t0 = map(int, open(base + ".dev0").read().split())
        r1, t1 = map(int, open(base + ".dev1").read().split())
    except (OSError, ValueError):
        return None
    return (t1 - t0) * 1e3 / (r1 - r0) if r1 > r0 else None

def iolens_side(base):
    try:
        res = json.load(open(base + ".json"))["results"][0]
    except (OSError, ValueError, KeyError, IndexError):
        why = first_line(base + ".err") or "no JSON"
        return None, f"iolens failed: {why}"
    if res["status"] != "ok":
        return None, f"iolens {res['status']}: {res.get('reason') or '-'}"
    return {"iops": res["iops"], "p50": res["latency_ns"]["p50"], "p99": res["latency_ns"]["p99"],
            "cpu_per_op": res["cpu"]["per_op_ns"]}, None

# A fio figure better than another: more IOPS, less time per op otherwise.
def better(m, a, b):
    return a > b if m == "iops" else a < b
def span(v):
    return f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})" + \
        (f" n={len(v)}" if len(v) < repeats else "")
def csv_row(cell, fe, ib, m, against, fio_run, v, why):
    if v:
        return [cell, fe, ib, m, against, fio_run, f"{statistics.median(v):.4g}", f"{min(v):.4g}",
                f"{max(v):.4g}", len(v), why]
    return [cell, fe, ib, m, against, fio_run, "", "", "", 0, why or f"no {m} figure from one side"]

rows, table, each, absolute = [], [], [], []
for cell, fe, ib, tuned in runs:
    variants = ["fio", "fio-tuned"] if tuned == "1" else ["fio"]
    pair = f"{fe} / {ib}"
    if cell.startswith("direct") and not direct_ok:
        why = f"O_DIRECT not supported on {tdir}"
        for m, _ in metrics:
            rows += [csv_row(cell, fe, ib, m, a, "" if a == "best" else a, [], why)
                     for a in ["best"] + variants]
        table.append([cell, pair] + [why] * 4)
        each += [[cell, pair, v] + [why] * 4 for v in variants if len(variants) > 1]
        continue
    # Per side, per metric: {repeat: figure}; "dev" is the device's us per read.
    got = {side: {m: {} for m, _ in metrics + [("dev", "")]} for side in variants + ["iolens"]}
    whys = {side: [] for side in variants + ["iolens"]}
    for r in range(1, repeats + 1):
        for side in variants + ["iolens"]:
            tool = side + "-" + slug(ib if side == "iolens" else fe)
            base = f"{out}/r{r}-{cell}-{tool}"
            f, w = iolens_side(base) if side == "iolens" else fio_side(base, side)
            if w and w not in whys[side]:
                whys[side].append(w)
            if f is None:
                continue
            f["dev"] = device_us_per_read(base)
            for m in f:
                if f[m] or (m == "dev" and f[m] is not None):
                    got[side][m][r] = f[m]
    # iolens over each fio run, per metric, from the repeats where both had a figure.
    ratios = {v: {m: [got["iolens"][m][r] / got[v][m][r] for r in sorted(got[v][m])
                      if r in got["iolens"][m]] for m, _ in metrics} for v in variants}
    def fio_median(v, m):
        return statistics.median(got[v][m][r] for r in got[v][m] if r in got["iolens"][m])
    md_cells = []
    for m, _ in metrics:
        have = [v for v in variants if ratios[v][m]]
        best = None
        for v in have:
            if best is None or better(m, fio_median(v, m), fio_median(best, m)):
                best = v
        why_all = "; ".join(w for side in variants + ["iolens"] for w in whys[side])
        rows.append(csv_row(cell, fe, ib, m, "best", best or "", ratios[best][m] if best else [], why_all))
        for v in variants:
            rows.append(csv_row(cell, fe, ib, m, v, v, ratios[v][m], "; ".join(whys[v] + whys["iolens"])))
        if best is None:
            md_cells.append(why_all or f"no {m} figure from one side")
            continue
        s = span(ratios[best][m]) + verdict(m, statistics.median(ratios[best][m]), cell)
        if len(variants) > 1:
            s += " [T]" if best == "fio-tuned" else " [D]" if len(have) > 1 else " [D; no fio-tuned figure]"
        md_cells.append(s)
    table.append([cell, pair] + md_cells)
    if len(variants) > 1:
        for v in variants:
            each.append([cell, pair, v] + [span(ratios[v][m]) if ratios[v][m] else
                                           ("; ".join(whys[v] + whys["iolens"]) or "no figure")
                                           for m, _ in metrics])
    def med(side, m, scale=1.0):
        if side not in got:
            return "not run"
        v = list(got[side][m].values())
        return f"{statistics.median(v) / scale:.1f}" if v else "-"
    sides = ("fio", "fio-tuned", "iolens")
    absolute.append([cell, pair] + [med(s, "iops") for s in sides] + [med(s, "p50", 1e3) for s in sides] +
                    [med(s, "p99", 1e3) for s in sides] + [med(s, "cpu_per_op", 1e3) for s in sides] +
                    [med(s, "dev") for s in sides])

with open(f"{out}/ratios.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["cell", "fio_engine", "iolens_backend", "metric", "against", "fio_run",
                "median", "min", "max", "n", "reason"])
    w.writerows(rows)

def md(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in body]
    return "\n".join(lines)

host = open(f"{out}/host.txt").read().strip()
sides_hdr = lambda what: [f"{what} fio", f"{what} fio-tuned", f"{what} iolens"]
text = "\n".join([
    host, "",
    f"### iolens / the better fio run, median (min–max) over {repeats} repeat(s); targets: "
    "page-cached IOPS >= 1 and p50 <= 1, O_DIRECT IOPS >= 0.98",
    md(["cell", "fio / iolens", "IOPS ratio", "p50 ratio", "p99 ratio", "CPU/op ratio"], table),
    "Where fio ran twice, each ratio is against the better of its two runs for that metric "
    "(more IOPS; lower p50, p99, CPU/op; by their medians): [D] fio's defaults (fio), "
    "[T] its tuned configuration (fio-tuned). No mark: fio ran one configuration.", "",
    "### iolens / each fio run, where fio ran twice",
    md(["cell", "fio / iolens", "against", "IOPS ratio", "p50 ratio", "p99 ratio", "CPU/op ratio"], each)
    if each else "(no cell ran fio twice)", "",
    "### medians of each side (p50, p99, CPU/op in us)",
    md(["cell", "fio / iolens"] + sides_hdr("IOPS") + sides_hdr("p50") + sides_hdr("p99") +
       sides_hdr("CPU/op") + sides_hdr("device us/read"), absolute), "",
    "fio: its defaults (in direct-qd32-batched, the cell's batched options); fio-tuned: "
    "iodepth_batch_submit = iodepth_batch_complete_max = depth with iodepth_batch_complete_min=1, "
    "and registerfiles=1 fixedbufs=1 on io_uring, run at depth > 1 for libaio and the io_uring "
    "pairs where it differs from fio's own run (psync runs D jobs of depth 1; posixaio has no "
    "batched submit). "
    "fio latency: lat_ns (submission to completion); fio CPU: the job threads only "
    "(RUSAGE_THREAD), iolens: the whole process; psync at depth D is D fio jobs, "
    "as iolens blocking runs D threads. direct-qd32: one op per submit call on iolens's side "
    "and in fio's defaults (iolens --submit-batch 1); direct-qd32-batched: each reaped batch "
    "resubmitted in one call (fio iodepth_batch_submit and iodepth_batch_complete_max = depth, "
    "iolens's default). Device us/read: the device's time reading over reads completed "
    "(/proc/diskstats) during the run.", ""])
open(f"{out}/ratios.md", "w").write(text)
print("\n" + text.split("\n", 2)[2])
PY
echo "results in $out" >&2
echo "results database: labels $store_label-fio, $store_label-fio-tuned and $store_label-iolens (iolens diff $store_label-fio $store_label-iolens)" >&2
