#!/usr/bin/env bash
# The harness's own floor and its memory, measured against the targets:
#
#   1. the null backend at depth 32 does >= 10 M ops/s on one job (depth 1
#      and 32, batch 1 and 32; timestamps and histogram included);
#   2. recording one latency sample costs <= 10 ns (tests/bench_hist);
#   3. io_uring at depth 32, batch 32: <= 0.1 io_uring_enter per op, and
#      under SQPOLL none from the job (submitting) thread;
#   4. peak RSS the same within 5% for a 10 s and a 60 s run, and <= 4 KiB
#      of iolens's memory per connection at 10,000 connections.
#
#   scripts/floor.sh [--quick] [--repeats N] [--out DIR] [--build DIR]
#
# Every figure is the median (min-max) over the repeats. Peak RSS is VmHWM
# from /proc, sampled from outside every 50 ms for iolens and, separately,
# for its built-in peer (a child process), one backend per run. Raw outputs
# go to DIR (default results/floor-<UTC>); one markdown table per target
# goes to stdout and DIR/floor.md. Exit 0 when every table printed, whether
# or not the targets were met; 2 on bad usage.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."

usage_error() { echo "floor.sh: $*" >&2; exit 2; }
quick=0 repeats="" out="" build=""
while [ $# -gt 0 ]; do
	opt=$1 val=""
	case $opt in
	--*=*) val=${opt#*=}; opt=${opt%%=*} ;;
	esac
	case $opt in
	--quick) [ -z "$val" ] || usage_error "--quick takes no value"; quick=1 ;;
	--repeats | --out | --build)
		if [ -z "$val" ]; then
			if [ $# -lt 2 ] || [[ $2 == --* ]]; then usage_error "$opt needs a value"; fi
			val=$2; shift
		fi
		case $opt in
		--repeats)
			if ! [[ $val =~ ^[0-9]{1,3}$ ]] || [ "$val" -lt 1 ] || [ "$val" -gt 100 ]; then
				usage_error "--repeats accepts 1 to 100, not '$val'"
			fi
			repeats=$val ;;
		--out) out=$val ;;
		--build)
			if [ ! -x "$val/iolens" ] || [ ! -x "$val/tests/bench_hist" ]; then
				usage_error "--build accepts a build tree holding iolens and tests/bench_hist, not '$val'"
			fi
			build=$val ;;
		esac ;;
	*) usage_error "unknown option '$opt' (accepts --quick, --repeats N, --out DIR, --build DIR)" ;;
	esac
	shift
done

# shellcheck source=scripts/deps.sh
. scripts/deps.sh
if [ -z "$build" ]; then
	# shellcheck disable=SC2119 # the build's packages, nothing more
	iolens_install_deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$(nproc)" >/dev/null
	build="build-bench"
fi
iolens_mount_tracefs
iolens=$build/iolens
bench=$build/tests/bench_hist
# A relative --out is the caller's, not the source tree's.
case $out in "" | /*) ;; *) out=$caller_pwd/$out ;; esac
out=${out:-results/floor-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"

if [ $quick -eq 1 ]; then
	repeats=${repeats:-2}
	t_null=200ms t_sc=200ms t_short=1 t_long=3 t_conn=300ms conns_lo=10 conns_hi=1000
	samples=200000
else
	repeats=${repeats:-5}
	t_null=2s t_sc=2s t_short=10 t_long=60 t_conn=2s conns_lo=100 conns_hi=10000
	samples=4000000
fi
mem_repeats=$repeats
[ $quick -eq 1 ] || mem_repeats=$((repeats < 3 ? repeats : 3))
{
	echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), kernel $(uname -r), $(nproc) CPUs"
	echo "$("$iolens" --version 2>&1 | head -1), repeats $repeats, quick $quick"
	grep -m1 "model name" /proc/cpuinfo || true
	echo "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
	echo "load $(cat /proc/loadavg)"
} >"$out/host.txt"

step() { echo "== $*" >&2; }

# peak NAME ARGS...: run iolens with ARGS, JSON into $out/NAME.json, and the
# peak resident sizes (VmHWM, KiB) of iolens and of its peer child into
# $out/NAME.rss as "iolens KIB peer KIB".
peak() {
	local name=$1; shift
	/usr/bin/python3 - "$out/$name" "$iolens" "$@" <<'PY'
import subprocess, sys, time

base, cmd = sys.argv[1], sys.argv[2:]

def hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []

with open(base + ".txt", "w") as log:
    p = subprocess.Popen(cmd + ["--json", base + ".json"], stdout=log, stderr=log)
    own = peer = 0
    while p.poll() is None:
        own = max(own, hwm(p.pid))
        for c in children(p.pid):
            peer = max(peer, hwm(c))
        time.sleep(0.05)
if p.returncode != 0:
    sys.exit(f"floor.sh: {' '.join(cmd)} exited {p.returncode} (see {base}.txt)")
with open(base + ".rss", "w") as f:
    f.write(f"iolens {own} peer {peer}\n")
PY
}

# 1. The harness floor: the null backend, timestamps and histogram included.
step "null backend, $repeats x $t_null per setting"
for r in $(seq "$repeats"); do
	for db in 1:1 32:1 32:32; do
		d=${db%:*} b=${db#*:}
		"$iolens" run --backend null --depth "$d" --batch "$b" --time "$t_null" --size 16m \
			--count off --json "$out/null-d$d-b$b-r$r.json" >"$out/null-d$d-b$b-r$r.txt"
	done
done

# 2. Recording one sample.
step "bench_hist, $repeats repeats of $samples samples"
"$bench" --samples "$samples" --repeats "$repeats" >"$out/bench_hist.txt"

# 3. The syscall floor (counted in the separate pass).
step "io_uring depth 32 batch 32, $repeats x $t_sc"
for r in $(seq "$repeats"); do
	# A warmup keeps the poller's first wake-up (an SQ_WAKEUP enter) out of the window.
	"$iolens" run --backend io_uring,io_uring:sqpoll,io_uring:sqpoll+cq-spin --depth 32 --batch 32 \
		--size 64m --time "$t_sc" --warmup 100ms --json "$out/uring-r$r.json" >"$out/uring-r$r.txt"
done

# 4. Memory: run length, then connections.
step "peak RSS, ${t_short} s and ${t_long} s runs, $mem_repeats each"
for r in $(seq "$mem_repeats"); do
	for t in "$t_short" "$t_long"; do
		peak "len-${t}s-r$r" run --backend io_uring --depth 32 --size 64m --time "${t}s" \
			--count off
	done
done
step "peak RSS at $conns_lo and $conns_hi connections"
for r in $(seq "$mem_repeats"); do
	for wl in echo serve; do
		for be in epoll io_uring; do
			for c in "$conns_lo" "$conns_hi"; do
				peak "$wl-$be-c$c-r$r" run --workload "$wl" --backend "$be" --conns "$c" \
					--time "$t_conn" --count off
			done
		done
	done
done

/usr/bin/python3 - "$out" "$repeats" "$mem_repeats" "$t_short" "$t_long" "$conns_lo" "$conns_hi" <<'PY' | tee "$out/floor.md"
import json, re, statistics, sys

out, repeats, mem_repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t_short, t_long, lo, hi = sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])

def result(path, i=0):
    with open(path) as f:
        return json.load(f)["results"][i]

def stat(xs, fmt):
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"

def verdict(ok):
    return "met" if ok else "NOT met"

def table(title, rows):
    print(f"### {title}\n")
    print("| measurement | measured: median (min–max) | target | verdict |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()

rows = []
for d, b in ((1, 1), (32, 1), (32, 32)):
    xs = [result(f"{out}/null-d{d}-b{b}-r{r}.json")["iops"] / 1e6 for r in range(1, repeats + 1)]
    if d == 32:
        rows.append((f"null depth {d} batch {b}, M ops/s", stat(xs, "{:.1f}"), ">= 10",
                     verdict(statistics.median(xs) >= 10)))
    else:
        rows.append((f"null depth {d} batch {b}, M ops/s", stat(xs, "{:.1f}"), "(reference)", "—"))
table(f"Harness floor (null backend, one job, {repeats} runs each)", rows)

bench = {}
with open(f"{out}/bench_hist.txt") as f:
    for line in f:
        if not line.startswith("#"):
            name, med, mn, mx = line.split()
            bench[name] = (float(med), float(mn), float(mx))
def brow(name, what, target):
    med, mn, mx = bench[name]
    shown = f"{med:.1f} ({mn:.1f}–{mx:.1f})"
    if target is None:
        return (what, shown, "(breakdown)", "—")
    return (what, shown, f"<= {target}", verdict(med <= target))
table(f"Recording one latency sample, ns (bench_hist, {repeats} repeats)", [
    brow("hist_add", "iolens_hist_add", 10),
    brow("record_b32", "runner's record, 32 ops per reaped batch (1 clock read per batch)", 10),
    brow("record", "runner's record, 1 op per reaped batch (1 clock read per op)", 10),
    brow("clock", "clock_gettime(CLOCK_MONOTONIC) alone", None),
])

enter, sq_job, spin_job, spin_all = [], [], [], []
counted = True
for r in range(1, repeats + 1):
    plain, sq, spin = (result(f"{out}/uring-r{r}.json", i) for i in range(3))
    if any(x["syscalls"]["total"] is None for x in (plain, sq, spin)):
        counted = False
        why = next(x["syscalls"]["why"] or x["reason"] for x in (plain, sq, spin)
                   if x["syscalls"]["total"] is None)
        break
    enter.append(plain["syscalls"]["by_name"]["io_uring_enter"] / plain["syscalls"]["ops"])
    sq_job.append(sq["syscalls"]["job_threads"]["io_uring_enter"] / sq["syscalls"]["ops"])
    jt = spin["syscalls"]["job_threads"]["io_uring_enter"]
    spin_job.append(jt / spin["syscalls"]["ops"])
    spin_all.append(jt)
if counted:
    table(f"Syscall floor (io_uring depth 32 batch 32, counting pass, {repeats} runs)", [
        ("io_uring: io_uring_enter per op", stat(enter, "{:.4f}"), "<= 0.1",
         verdict(statistics.median(enter) <= 0.1)),
        ("io_uring:sqpoll (reap waits in the kernel): job thread's io_uring_enter per op",
         stat(sq_job, "{:.4f}"), "-", "-"),
        ("io_uring:sqpoll+cq-spin: job thread's io_uring_enter per op", stat(spin_job, "{:.4f}"), "0",
         verdict(max(spin_all) == 0)),
        ("io_uring:sqpoll+cq-spin: job thread's io_uring_enter in the window", stat(spin_all, "{:.0f}"), "0",
         verdict(max(spin_all) == 0)),
    ])
else:
    table("Syscall floor (io_uring depth 32 batch 32)", [
        ("io_uring_enter per op", f"not counted: {why}", "<= 0.1", "NOT met"),
    ])

def rss(name):
    with open(f"{out}/{name}.rss") as f:
        v = f.read().split()
    return int(v[1]), int(v[3])
short = [rss(f"len-{t_short}s-r{r}")[0] for r in range(1, mem_repeats + 1)]
long_ = [rss(f"len-{t_long}s-r{r}")[0] for r in range(1, mem_repeats + 1)]
growth = statistics.median(long_) / statistics.median(short) - 1
rows = [
    (f"io_uring randread d32, {t_short} s run: peak RSS KiB", stat(short, "{:.0f}"), "", ""),
    (f"io_uring randread d32, {t_long} s run: peak RSS KiB", stat(long_, "{:.0f}"), "", ""),
    (f"{t_long} s over {t_short} s (medians)", f"{100 * growth:+.1f}%", "within ±5%",
     verdict(abs(growth) <= 0.05)),
]
for wl in ("echo", "serve"):
    for be in ("epoll", "io_uring"):
        own, peer = [], []
        for r in range(1, mem_repeats + 1):
            a, b = rss(f"{wl}-{be}-c{lo}-r{r}"), rss(f"{wl}-{be}-c{hi}-r{r}")
            own.append((b[0] - a[0]) * 1024 / (hi - lo))
            peer.append((b[1] - a[1]) * 1024 / (hi - lo))
        peer_role = "responder" if wl == "echo" else "load generator"
        rows.append((f"{wl} {be}: iolens bytes per connection ({lo} → {hi})", stat(own, "{:.0f}"),
                     "<= 4096", verdict(statistics.median(own) <= 4096)))
        rows.append((f"{wl} {be}: its {peer_role} (child process), bytes per connection",
                     stat(peer, "{:.0f}"), "(beside it)", "—"))
table(f"Memory (peak RSS, VmHWM sampled every 50 ms, {mem_repeats} runs each)", rows)
PY
echo "raw outputs: $out" >&2
