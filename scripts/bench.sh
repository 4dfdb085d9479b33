#!/usr/bin/env bash
# The benchmark matrix for test machines: every combination of backends,
# workloads, block sizes, depths and connection counts, N repeats, one
# `iolens run` per cell, into a results directory that an interrupted run
# resumes without redoing what it finished.
#
#   scripts/bench.sh [--backends LIST] [--workloads LIST] [--bs LIST]
#                    [--depths LIST] [--conns LIST] [--msg LIST] [--repeats N]
#                    [--time DURATION] [--warmup DURATION] [--size SIZE]
#                    [--file PATH] [--direct] [--overwrite]
#                    [--config FILE] [--out DIR] [--label TEXT]
#                    [--db PATH | --no-db] [--mpi LAUNCHER] [--quick] [--help]
#
#   --backends LIST   backend specs as iolens takes them (io_uring:sqpoll);
#                     default: those `iolens list` marks available; `all`:
#                     every backend, the unavailable ones recorded as skipped
#   --workloads LIST  read, write, randread, randwrite, randrw (disk);
#                     echo, serve, stream (sockets)          default randread,echo
#   --bs LIST         disk block sizes, 512 to 64m                 default 4k
#   --depths LIST     operations in flight (sockets: per connection), 1..4096
#                                                                  default 1,32
#   --conns LIST      connections, socket workloads only, 1..100000 default 1
#   --msg LIST        message size, socket workloads only: `default` (iolens's:
#                     64 for echo and serve, 128k for stream) or 1 to 4m
#   --repeats N       the whole matrix N times, 1..1000             default 3
#   --time DURATION   measured window of each cell (5s, 500ms, 2m)  default 5s
#   --warmup DURATION run before each window, 0..1h                 default 1s
#   --size SIZE       bytes of file each disk cell covers           default 1g,
#                     with --file the size of the file
#   --file PATH       an existing file for the disk cells; default: iolens
#                     makes, fills and removes a temporary file per cell
#   --direct          disk cells open the file with O_DIRECT
#   --overwrite       allow write workloads on --file (its contents are lost)
#   --config FILE     `key = value` lines, keys as the long options without
#                     the dashes (backends = null,io_uring), `#` comments;
#                     the command line overrides it
#   --out DIR         results directory; default
#                     results/bench-<host>-<kernel>-<UTC yyyymmddTHHMMSSZ>
#   --label TEXT      the label every cell's run carries in the results
#                     database, so that `iolens diff` and `plot.py --runs`
#                     take all cells and repeats of this bench run as one;
#                     1..128 printable characters, not all digits, no '#'; default:
#                     the results directory's name (bench-<host>-...)
#   --db PATH         the results database every cell records into; default
#                     iolens's ($IOLENS_DB, else ~/.local/share/iolens/results.db)
#   --no-db           the cells record nothing
#   --mpi LAUNCHER    each cell runs as `LAUNCHER iolens-mpi run ...`, the
#                     same run on every rank, merged (docs/mpi.md); e.g.
#                     "mpirun --bind-to none -n 4 --host a,b,c,d": its words
#                     split at spaces (no quotes, no '#'), the first an
#                     executable on PATH; iolens-mpi is the one beside iolens,
#                     or IOLENS_MPI=path. Each cell is recorded by rank 0
#                     as a run of kind fleet, its figures the merged ones;
#                     echo and stream cells get --responder-rank 0, which serves
#                     on loopback (every rank on rank 0's host). A cell's JSON
#                     is the writing rank's (rank 0; rank 1 for echo) with a
#                     `fleet` object, written on that rank's host (DIR must be
#                     there); results.csv's rows are that rank's own figures.
#   --quick           a small matrix for a smoke test: null,blocking x
#                     randread,echo x depths 1,8, 1 repeat of 200ms, 16m
#
# Every LIST is comma-separated; every option also takes --opt=VALUE. Socket
# cells ignore --bs, --size, --file and --direct; disk cells ignore --conns and
# --msg. Relative paths are taken from the directory bench.sh was started in.
#
# Writes to DIR: matrix.txt (the matrix, in the config format), host.txt
# (host, kernel, CPU, nproc, iolens version, the MPI launcher and its version
# under --mpi), one iolens JSON per cell named
# from its parameters (randread-bs4k-d32-io_uring-r1.json,
# echo-c64-d1-epoll-r2.json, echo-msg4k-c1-d1-epoll-r1.json), logs/<cell>.log
# (what iolens printed), cells.tsv (each finished cell's exit status, seconds
# and time) and results.csv (one row per result, merged from the JSONs).
# A cell's JSON appears, by rename, only when its run finished: a present file
# is a done cell. A backend that failed or was skipped still makes its JSON.
#
# Resume: run again with --out DIR. The matrix comes from DIR/matrix.txt; the
# options may repeat it but not change it. Done cells are skipped, the rest run.
# The label is kept in matrix.txt too, so the cells a resume runs carry it;
# so is the --mpi launcher, which a resume may repeat but not change or add.
# Progress goes to stderr, one line per cell; stdout gets DIR at the end.
# Exit status: 0 every cell done and ok, 1 a cell's backend failed or a cell
# could not run, 2 bad usage (nothing is created), 130 interrupted.
# iolens is built Release into build-bench unless IOLENS=path is set; under
# --mpi iolens-mpi is taken from beside it unless IOLENS_MPI=path is set.
set -euo pipefail
caller_pwd=$PWD orig_args=("$@")
cd "$(dirname "$0")/.."
. scripts/deps.sh

die_usage() { echo "bench.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$caller_pwd" "$1" ;; esac; }

disk_workloads=" read write randread randwrite randrw "
socket_workloads=" echo serve stream "
matrix_keys=(backends workloads bs depths conns msg repeats time warmup size file direct overwrite)
declare -A accepts=(
	[backends]="backend names from 'iolens list', options after a colon (io_uring:sqpoll), comma-separated, or all"
	[workloads]="read, write, randread, randwrite, randrw, echo, serve, stream, comma-separated"
	[bs]="sizes 512 to 64m, comma-separated, e.g. 4k,64k"
	[depths]="whole numbers 1 to 4096, comma-separated"
	[conns]="whole numbers 1 to 100000, comma-separated"
	[msg]="default or sizes 1 to 4m, comma-separated"
	[repeats]="a whole number 1 to 1000"
	[time]="a duration 1ms to 7 days, e.g. 5s, 500ms, 2m"
	[warmup]="a duration 0 to 1h, e.g. 1s, 500ms"
	[size]="a size 1 to 1024t, e.g. 64m, 1g"
	[file]="an existing regular file"
	[direct]="yes or no"
	[overwrite]="yes or no"
	[quick]="yes or no"
	[out]="a directory path"
	[label]="1 to 128 printable characters, not all digits, no '#'"
	[db]="a file path"
	[no-db]="yes or no"
	[mpi]="a launcher command, its words split at spaces (no quotes, no '#'), the first an executable on PATH, e.g. 'mpirun --bind-to none -n 2'"
)

# size_bytes TEXT: bytes, as iolens reads a SIZE (k, m, g, t are powers of
# 1024; 4k, 4K, 4KiB, 4kb alike). Fails on anything else.
size_bytes() {
	local s=${1,,} n shift=0
	[[ $s =~ ^([0-9]{1,15})(([kmgt])(i?b)?)?$ ]] || return 1
	n=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[3]} in k) shift=10 ;; m) shift=20 ;; g) shift=30 ;; t) shift=40 ;; esac
	((n <= (1 << 62) >> shift)) || return 1
	echo $((n << shift))
}
# size_name BYTES: the shortest exact spelling (4096 -> 4k), used in names.
size_name() {
	local b=$1 u=0 units=("" k m g t)
	while ((u < 4 && b >= 1024 && b % 1024 == 0)); do b=$((b / 1024)) u=$((u + 1)); done
	echo "$b${units[u]}"
}
# duration_us TEXT: microseconds, as iolens reads a DURATION (no unit = s).
duration_us() {
	[[ $1 =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)(us|ms|s|m|h)?$ ]] || return 1
	local scale=1000000
	case ${BASH_REMATCH[2]} in us) scale=1 ;; ms) scale=1000 ;; m) scale=60000000 ;; h) scale=3600000000 ;; esac
	# %.0f, not %d: mawk's %d stops at 2^31 - 1, which is 35.8 minutes here.
	awk -v v="${BASH_REMATCH[1]}" -v s=$scale 'BEGIN { x = v * s; if (x > 1e15) exit 1; printf "%.0f\n", x }'
}
duration_name() {
	local us=$1
	if ((us == 0)); then echo 0
	elif ((us % 3600000000 == 0)); then echo "$((us / 3600000000))h"
	elif ((us % 60000000 == 0)); then echo "$((us / 60000000))m"
	elif ((us % 1000000 == 0)); then echo "$((us / 1000000))s"
	elif ((us % 1000 == 0)); then echo "$((us / 1000))ms"
	else echo "${us}us"; fi
}
whole() { # TEXT LO HI
	[[ $1 =~ ^[0-9]{1,9}$ ]] && (($((10#$1)) >= $2 && $((10#$1)) <= $3)) && echo $((10#$1))
}

# norm_element KEY ELEMENT: one list element in its canonical spelling.
norm_element() {
	local b
	case $1 in
	backends) [[ $2 =~ ^[A-Za-z0-9_.:+=-]+$ ]] && echo "$2" ;;
	workloads) [[ $disk_workloads$socket_workloads == *" $2 "* ]] && echo "$2" ;;
	bs) b=$(size_bytes "$2") && ((b >= 512 && b <= 64 << 20)) && size_name "$b" ;;
	depths) whole "$2" 1 4096 ;;
	conns) whole "$2" 1 100000 ;;
	msg) if [ "$2" = default ]; then echo default; else
		b=$(size_bytes "$2") && ((b >= 1 && b <= 4 << 20)) && size_name "$b"; fi ;;
	esac
}

# normalize KEY VALUE ORIGIN: the canonical value of one option or config key
# (lists trimmed and each element canonical, sizes and durations spelled the
# way cell names use them), or a usage error naming ORIGIN.
normalize() {
	local key=$1 value=$2 origin=$3 el v out="" seen=","
	local bad="$origin: '$value' is not accepted (accepts ${accepts[$key]})"
	case $key in
	backends | workloads | bs | depths | conns | msg)
		value=$(tr -d '[:space:]' <<<"$value")
		[[ -n $value && $value != ,* && $value != *, && $value != *,,* ]] ||
			die_usage "$origin: '$value' has an empty element (accepts ${accepts[$key]})"
		local -a parts
		IFS=, read -ra parts <<<"$value"
		for el in "${parts[@]}"; do
			v=$(norm_element "$key" "$el") ||
				die_usage "$origin: '$el' is not accepted (accepts ${accepts[$key]})"
			[[ $seen != *",$v,"* ]] || die_usage "$origin: '$el' is listed twice (as $v; accepts ${accepts[$key]})"
			seen+="$v," out+="${out:+,}$v"
		done
		;;
	repeats) out=$(whole "$value" 1 1000) || die_usage "$bad" ;;
	time)
		{ v=$(duration_us "$value") && ((v >= 1000 && v <= 7 * 86400 * 1000000)); } || die_usage "$bad"
		out=$(duration_name "$v") ;;
	warmup)
		{ v=$(duration_us "$value") && ((v <= 3600 * 1000000)); } || die_usage "$bad"
		out=$(duration_name "$v") ;;
	size)
		{ v=$(size_bytes "$value") && ((v >= 1 && v <= 1 << 50)); } || die_usage "$bad"
		out=$(size_name "$v") ;;
	direct | overwrite | quick | no-db)
		case ${value,,} in
		yes | true | on | 1) out=yes ;;
		no | false | off | 0) out=no ;;
		*) die_usage "$bad" ;;
		esac ;;
	file)
		[ -n "$value" ] || { echo ""; return; }
		out=$(abspath "$value")
		{ [ -f "$out" ] && [ -r "$out" ]; } || die_usage "$origin: '$value' is not an existing, readable regular file (accepts ${accepts[$key]})"
		;;
	out | db) [ -n "$value" ] || die_usage "$bad"; out=$(abspath "$value") ;;
	mpi)
		# Words split as the cells will split them; a relative command is the caller's.
		local LC_ALL=C
		local -a words
		[[ $value != *$'\n'* ]] || die_usage "${bad%%$'\n'*}...' is not accepted (accepts ${accepts[$key]})"
		read -ra words <<<"$value"
		value=${words[*]}
		[[ -n $value && $value =~ ^[[:print:]]+$ && $value != *[\#\'\"\\]* ]] || die_usage "$bad"
		[[ ${words[0]} != */* ]] || words[0]=$(realpath -ms -- "$(abspath "${words[0]}")")
		[ -n "$(type -P "${words[0]}")" ] ||
			die_usage "$origin: '${words[0]}' is not an executable$([[ ${words[0]} == */* ]] || echo ' on PATH') (accepts ${accepts[$key]})"
		out=${words[*]} ;;
	label)
		# iolens's own rule, in bytes: a label that is a number would name a run id.
		local LC_ALL=C
		# No '#': matrix.txt keeps the label, and '#' starts a comment there.
		[[ ${#value} -le 128 && $value =~ ^[[:print:]]+$ && ! $value =~ ^[0-9]+$ && $value != *#* ]] ||
			die_usage "$bad"
		out=$value ;;
	esac
	echo "$out"
}

# read_conf FILE ARRAY: `key = value` lines into the associative array ARRAY
# (normalized), and the origin of each into ARRAY_origin.
# shellcheck disable=SC2034,SC2004 # conf and conf_origin name the caller's associative arrays
read_conf() {
	local file=$1 line key value n=0
	local -n conf=$2 conf_origin=$2_origin
	{ [ -f "$file" ] && [ -r "$file" ]; } || die_usage "--config: cannot read '$file' (accepts a readable file of key = value lines)"
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%$'\r'}
		[[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
		[[ $line =~ ^(.*[^[:space:]])[[:space:]]+#.*$ ]] && line=${BASH_REMATCH[1]}
		[[ $line =~ ^[[:space:]]*([A-Za-z_-]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]] ||
			die_usage "$file:$n: expected 'key = value' (keys: ${matrix_keys[*]} mpi quick out)"
		key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
		[[ -n ${accepts[$key]+x} ]] ||
			die_usage "$file:$n: unknown key '$key' (accepts ${matrix_keys[*]} mpi quick out)"
		[ -n "$value" ] || [ "$key" = file ] || die_usage "$file:$n: $key needs a value (accepts ${accepts[$key]})"
		conf[$key]=$(normalize "$key" "$value" "$file:$n: $key") || exit
		conf_origin[$key]="$file:$n: $key"
	done <"$file"
}

# The command line, then the config file under it, then --quick under both.
# shellcheck disable=SC2034 # rec_origin is filled by read_conf, not read
declare -A opt=() opt_origin=() cfg=() cfg_origin=() rec=() rec_origin=()
config=""
for a in "$@"; do [[ $a == -h || $a == --help ]] && { usage; exit 0; }; done
while [ $# -gt 0 ]; do
	name=$1 value="" has_value=0
	if [[ $name == --*=* ]]; then value=${name#*=} name=${name%%=*} has_value=1; fi
	key=${name#--}
	case $name in
	--quick | --direct | --overwrite | --no-db)
		[ $has_value -eq 0 ] || die_usage "$name takes no value"
		opt[$key]=yes opt_origin[$key]=$name ;;
	--backends | --workloads | --bs | --depths | --conns | --msg | --repeats | --time | --warmup | --size | --file | --out | --label | --db | --mpi | --config)
		if [ $has_value -eq 0 ]; then
			[[ $# -ge 2 && $2 != --* ]] || die_usage "$name needs a value (accepts ${accepts[$key]:-a readable file of key = value lines})"
			value=$2
			shift
		fi
		if [ "$key" = config ]; then
			[ -n "$value" ] || die_usage "--config needs a value (accepts a readable file of key = value lines)"
			config=$(abspath "$value")
		else
			opt[$key]=$(normalize "$key" "$value" "$name") || exit
			opt_origin[$key]=$name
		fi ;;
	*) die_usage "unknown option '$name' (accepts --backends --workloads --bs --depths --conns --msg --repeats --time --warmup --size --file --direct --overwrite --config --out --label --db --no-db --mpi --quick --help)" ;;
	esac
	shift
done
[ -z "$config" ] || read_conf "$config" cfg
for key in "${!cfg[@]}"; do
	if [ -z "${opt[$key]+x}" ]; then opt[$key]=${cfg[$key]} opt_origin[$key]=${cfg_origin[$key]}; fi
done
quick=${opt[quick]:-no}
unset 'opt[quick]' 'opt_origin[quick]'
# Where the cells record: not part of the matrix (a resume may record elsewhere).
db=${opt[db]:-} no_db=${opt[no-db]:-no}
if [ "$no_db" = yes ] && [ -n "${opt[db]+x}${opt[label]+x}" ]; then
	other=$([ -n "${opt[db]+x}" ] && echo db || echo label)
	die_usage "${opt_origin[no-db]}: not with ${opt_origin[$other]} (nothing is recorded)"
fi
unset 'opt[db]' 'opt_origin[db]' 'opt[no-db]' 'opt_origin[no-db]'
# With --file the default size is the file's own: iolens refuses more than it holds.
if [ -z "${opt[size]+x}" ] && [ -n "${opt[file]:-}" ] && [ -e "${opt[file]}" ]; then
	if [ -b "${opt[file]}" ]; then fsize=$(blockdev --getsize64 "${opt[file]}" 2>/dev/null || echo 0); else fsize=$(stat -Lc %s "${opt[file]}"); fi
	((fsize > 0)) && opt[size]=$(size_name "$fsize") opt_origin[size]="the size of ${opt_origin[file]}"
fi
if [ "$quick" = yes ]; then
	declare -A quick_set=([backends]="null,blocking" [workloads]="randread,echo" [bs]=4k [depths]="1,8"
		[conns]=1 [msg]=default [repeats]=1 [time]=200ms [warmup]=0 [size]=16m)
	for key in "${!quick_set[@]}"; do
		if [ -z "${opt[$key]+x}" ]; then opt[$key]=${quick_set[$key]} opt_origin[$key]="--quick: $key"; fi
	done
fi

# iolens itself: it says which backends exist and checks each spec.
if [ -n "${IOLENS:-}" ]; then
	iolens=$(abspath "$IOLENS")
	{ [ -x "$iolens" ] && [ -f "$iolens" ]; } || die_usage "IOLENS: no executable at '$IOLENS'"
else
	iolens_install_deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$(nproc)" >/dev/null
	iolens=$PWD/build-bench/iolens
fi
[ -x /usr/bin/python3 ] || iolens_install_deps python3
list=$("$iolens" list) || { echo "bench.sh: '$iolens list' failed" >&2; exit 1; }
all_backends=$(awk 'NR > 1 { printf "%s%s", s, $1; s = "," }' <<<"$list")
available_backends=$(awk 'NR > 1 && $2 == "yes" { printf "%s%s", s, $1; s = "," }' <<<"$list")

# check_backends VALUE ORIGIN: each spec through iolens's own parser. The run
# is given an output it cannot create (/dev/null/x), which iolens checks right
# after the backend specs: refusing the output means the specs passed.
# A spec passes when it fits a disk workload or a socket one (serve takes
# every socket option).
spec_error() { # SPEC WORKLOAD: iolens's complaint about SPEC on WORKLOAD, or nothing
	local err
	err=$("$iolens" run --backend "$1" --workload "$2" --time 1s --json /dev/null/x 2>&1 >/dev/null) && return 0
	[[ $err == "iolens: --json:"* ]] || echo "${err%%$'\n'*}"
}
check_backends() {
	local spec err
	local -a specs
	IFS=, read -ra specs <<<"$1"
	for spec in "${specs[@]}"; do
		[ "$spec" != all ] || continue
		err=$(spec_error "$spec" randread)
		[ -z "$err" ] || [ -z "$(spec_error "$spec" serve)" ] || die_usage "$2: ${err#iolens: --backend: }"
	done
}
# fits SPEC WORKLOAD: whether iolens takes SPEC's options on WORKLOAD (io_uring:fixed-bufs
# is for disks, epoll:et for sockets); a cell that does not fit is left out, and said.
declare -A fit_memo
fits() {
	local key="$1 $2"
	[ -n "${fit_memo[$key]+x}" ] || fit_memo[$key]=$(spec_error "$1" "$2")
	[ -z "${fit_memo[$key]}" ]
}
if [ -n "${opt[backends]+x}" ]; then
	check_backends "${opt[backends]}" "${opt_origin[backends]}"
	if [[ ,${opt[backends]}, == *,all,* ]]; then
		expanded=""
		IFS=, read -ra specs <<<"${opt[backends]}"
		for spec in "${specs[@]}"; do
			[ "$spec" != all ] || spec=$all_backends
			expanded+="${expanded:+,}$spec"
		done
		opt[backends]=$(normalize backends "$expanded" "${opt_origin[backends]}") || exit
	fi
fi

# The results directory: a new one, or one to resume whose matrix wins.
host=$(uname -n) kernel=$(uname -r)
if [ -n "${opt[out]+x}" ]; then
	out=${opt[out]}
else
	out=$PWD/results/bench-$host-$kernel-$(date -u +%Y%m%dT%H%M%SZ)
	[ ! -e "$out" ] || die_usage "--out: '$out' exists already (accepts a new directory, or one to resume)"
fi
resume=0
if [ -f "$out/matrix.txt" ]; then
	resume=1
	read_conf "$out/matrix.txt" rec
	for key in "${matrix_keys[@]}"; do
		[ -n "${rec[$key]+x}" ] || die_usage "--out: '$out/matrix.txt' has no $key (not a bench.sh matrix; accepts a new directory, or one to resume)"
		if [ -n "${opt[$key]+x}" ] && [ "${opt[$key]}" != "${rec[$key]}" ]; then
			die_usage "${opt_origin[$key]}: '${opt[$key]}' contradicts the matrix in '$out' ($key = ${rec[$key]}); leave it out to resume, or choose a new --out"
		fi
		opt[$key]=${rec[$key]}
	done
	# The label is the run's: a resume keeps it (a matrix from before labels has none).
	if [ -n "${rec[label]+x}" ]; then
		if [ -n "${opt[label]+x}" ] && [ "${opt[label]}" != "${rec[label]}" ]; then
			die_usage "${opt_origin[label]}: '${opt[label]}' contradicts the label in '$out' (label = ${rec[label]}); leave it out to resume, or choose a new --out"
		fi
		opt[label]=${rec[label]}
	fi
	# So is the MPI launcher: a matrix run without one resumes without one.
	if [ -n "${opt[mpi]+x}" ] && [ "${opt[mpi]}" != "${rec[mpi]:-}" ]; then
		die_usage "${opt_origin[mpi]}: '${opt[mpi]}' contradicts the matrix in '$out' (${rec[mpi]:+mpi = }${rec[mpi]:-it runs without --mpi}); leave it out to resume, or choose a new --out"
	fi
	if [ -n "${rec[mpi]+x}" ]; then opt[mpi]=${rec[mpi]} opt_origin[mpi]=${rec_origin[mpi]}; fi
	was=$(awk -F' = ' '$1 == "host" || $1 == "kernel" { printf "%s%s", s, $2; s = " " }' "$out/host.txt" 2>/dev/null || true)
	[ "$was" = "$host $kernel" ] ||
		die_usage "--out: '$out' was started on ${was:-an unknown host}, this is $host $kernel (a matrix comes from one machine; choose a new --out)"
elif [ -e "$out" ]; then
	{ [ -d "$out" ] && [ -z "$(ls -A "$out")" ]; } ||
		die_usage "--out: '$out' exists and has no matrix.txt (accepts a new or empty directory, or one to resume)"
fi

declare -A default=([backends]=$available_backends [workloads]="randread,echo" [bs]=4k [depths]="1,32"
	[conns]=1 [msg]=default [repeats]=3 [time]=5s [warmup]=1s [size]=1g [file]="" [direct]=no [overwrite]=no)
for key in "${matrix_keys[@]}"; do
	if [ -z "${opt[$key]+x}" ]; then opt[$key]=${default[$key]} opt_origin[$key]="default $key"; fi
done
if [ -z "${opt[label]+x}" ]; then
	label=${out##*/} label=${label:0:128}
	[[ ! $label =~ ^[0-9]+$ ]] || label=bench-$label
	opt[label]=$label
fi
[ -n "${opt[backends]}" ] || die_usage "--backends: iolens lists no available backend here (accepts ${accepts[backends]})"

# Under --mpi: iolens-mpi beside iolens, and nothing it would refuse in every cell.
mpi=${opt[mpi]:-} launcher=() iolens_mpi=""
if [ -n "$mpi" ]; then
	if [ -n "${IOLENS_MPI:-}" ]; then iolens_mpi=$(abspath "$IOLENS_MPI"); else iolens_mpi=${iolens%/*}/iolens-mpi; fi
	{ [ -x "$iolens_mpi" ] && [ -f "$iolens_mpi" ]; } ||
		die_usage "--mpi: no iolens-mpi at '$iolens_mpi' (accepts a launcher when iolens-mpi is built beside iolens, as it is where MPI's C bindings are installed, or IOLENS_MPI=path names it)"
	read -ra launcher <<<"$mpi"
fi
runner=iolens # what a cell's exit status is of
[ -z "$mpi" ] || runner=${launcher[0]##*/}

IFS=, read -ra backends <<<"${opt[backends]}"
IFS=, read -ra workloads <<<"${opt[workloads]}"
IFS=, read -ra bss <<<"${opt[bs]}"
IFS=, read -ra depths <<<"${opt[depths]}"
IFS=, read -ra conns <<<"${opt[conns]}"
IFS=, read -ra msgs <<<"${opt[msg]}"
repeats=${opt[repeats]} time=${opt[time]} warmup=${opt[warmup]} size=${opt[size]} file=${opt[file]}

# What iolens would refuse in every cell of a kind, refused here instead.
writes="" has_disk=0
for w in "${workloads[@]}"; do
	[[ $disk_workloads == *" $w "* ]] || continue
	has_disk=1
	[[ $w == read || $w == randread ]] || writes+="${writes:+,}$w"
done
if [ $has_disk -eq 1 ]; then
	for bs in "${bss[@]}"; do
		(($(size_bytes "$bs") <= $(size_bytes "$size"))) ||
			die_usage "${opt_origin[size]}: '$size' is smaller than the block size $bs (accepts a size of at least the largest --bs)"
	done
fi
if [ -n "$file" ] && [ -n "$writes" ] && [ "${opt[overwrite]}" != yes ]; then
	die_usage "${opt_origin[file]}: '$file' exists and $writes would overwrite it (add --overwrite, or leave out the write workloads)"
fi

# The cells, repeat outermost so repeats are spread over the run and the
# backends of one cell run back to back.
cells=() # name|description|iolens arguments, tab-separated
for ((r = 1; r <= repeats; r++)); do
	for w in "${workloads[@]}"; do
		if [[ $disk_workloads == *" $w "* ]]; then
			for bs in "${bss[@]}"; do for d in "${depths[@]}"; do for b in "${backends[@]}"; do
				fits "$b" "$w" || continue
				args="--workload $w --bs $bs --depth $d --size $size"
				cells+=("$w-bs$bs-d$d-${b//:/.}-r$r|$w bs=$bs depth=$d $b r$r|$b|$args")
			done; done; done
		else
			for m in "${msgs[@]}"; do for c in "${conns[@]}"; do for d in "${depths[@]}"; do for b in "${backends[@]}"; do
				fits "$b" "$w" || continue
				args="--workload $w --conns $c --depth $d" mname="" mdesc=""
				if [ "$m" != default ]; then args+=" --msg $m" mname="-msg$m" mdesc=" msg=$m"; fi
				cells+=("$w$mname-c$c-d$d-${b//:/.}-r$r|$w$mdesc conns=$c depth=$d $b r$r|$b|$args")
			done; done; done; done
		fi
	done
done
ncells=${#cells[@]}
for key in "${!fit_memo[@]}"; do
	[ -z "${fit_memo[$key]}" ] || echo "bench.sh: no cells of ${key% *} on ${key#* }: ${fit_memo[$key]#iolens: --backend: }" >&2
done
[ "$ncells" -gt 0 ] || die_usage "--backends/--workloads: no backend option fits any workload of the matrix"

# Everything is checked: now the directory.
err=$(mkdir -p "$out/logs" 2>&1) || die_usage "--out: cannot create '$out': ${err##*: } (accepts a directory this user can create)"
exec {lock}<"$out"
flock -n "$lock" || { echo "bench.sh: another bench.sh is running in '$out'" >&2; exit 1; }
rm -f "$out"/.*.part "$out"/.iolens-out-*
if [ $resume -eq 0 ]; then
	{
		echo "# bench.sh matrix: a run with --out on this directory resumes it"
		for key in "${matrix_keys[@]}"; do echo "$key =${opt[$key]:+ ${opt[$key]}}"; done
		echo "label = ${opt[label]}"
		# A matrix without MPI has no mpi key.
		[ -z "$mpi" ] || echo "mpi = $mpi"
	} >"$out/.matrix.txt.part"
	{
		echo "host = $host"
		echo "kernel = $kernel"
		echo "cpu = $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
		echo "nproc = $(nproc)"
		echo "memory = $(awk '/^MemTotal/ {print $2, $3; exit}' /proc/meminfo)"
		echo "os = $(awk -F= '$1 == "PRETTY_NAME" { gsub(/"/, "", $2); print $2 }' /etc/os-release 2>/dev/null)"
		echo "iolens = $("$iolens" --version)"
		if [ -n "$mpi" ]; then
			echo "mpi = $mpi"
			echo "mpi-version = $(timeout 10 "${launcher[0]}" --version 2>/dev/null </dev/null | head -n 1 || true)"
			echo "iolens-mpi = $iolens_mpi"
		fi
		echo "started = $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	} >"$out/host.txt"
	printf 'cell\trc\tseconds\tfinished\n' >"$out/cells.tsv"
	mv "$out/.matrix.txt.part" "$out/matrix.txt"
else
	ver=$(awk -F' = ' '$1 == "iolens" {print $2}' "$out/host.txt")
	[ "$ver" = "$("$iolens" --version)" ] ||
		echo "bench.sh: note: '$out' was started with $ver, this is $("$iolens" --version)" >&2
fi

# results.csv from every done cell's JSON, one row per result, cells in
# matrix order; the exit status comes from cells.tsv.
merge() {
	local names=() c
	for c in "${cells[@]}"; do names+=("${c%%|*}"); done
	/usr/bin/python3 - "$out" "${names[@]}" <<'PY'
import csv, json, os, re, sys

out, names = sys.argv[1], sys.argv[2:]
rcs = {}
with open(f"{out}/cells.tsv", newline="") as fh:
    for row in csv.DictReader(fh, delimiter="\t"):
        rcs[row["cell"]] = row["rc"]
cols = ["cell", "workload", "backend", "variant", "bs", "msg", "depth", "conns", "repeat", "rc",
        "status", "reason", "ops", "seconds", "iops", "mib_s", "gbit_s", "p50_ns", "p99_ns",
        "p99_9_ns", "max_ns", "cpu_per_op_ns", "syscalls_per_op", "vcsw_per_op",
        "model_declared", "model_measured", "model_mismatch"]

def cell_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v

rows = []
for name in names:
    path = f"{out}/{name}.json"
    if not os.path.exists(path):
        continue
    try:
        results = json.load(open(path))["results"]
    except (OSError, ValueError, KeyError) as e:
        print(f"bench.sh: {path}: not an iolens JSON ({e}); left out of results.csv", file=sys.stderr)
        continue
    repeat = re.search(r"-r(\d+)$", name).group(1)
    for res in results:
        wl = res.get("workload") or {}
        lat = res.get("latency_ns") or {}
        ops = res.get("ops")
        vcsw = (res.get("ctx_switches") or {}).get("voluntary")
        model = res.get("model") or {}
        rows.append({
            "cell": name, "workload": wl.get("name"), "backend": res.get("backend"),
            "variant": res.get("variant"), "bs": wl.get("bs"), "msg": wl.get("msg"),
            "depth": wl.get("depth"), "conns": wl.get("conns"), "repeat": repeat,
            "rc": rcs.get(name), "status": res.get("status"), "reason": res.get("reason"),
            "ops": ops, "seconds": res.get("seconds"), "iops": res.get("iops"),
            "mib_s": res.get("mib_s"), "gbit_s": (res.get("net") or {}).get("gbit_s"),
            "p50_ns": lat.get("p50"), "p99_ns": lat.get("p99"), "p99_9_ns": lat.get("p99_9"),
            "max_ns": lat.get("max"), "cpu_per_op_ns": (res.get("cpu") or {}).get("per_op_ns"),
            "syscalls_per_op": (res.get("syscalls") or {}).get("per_op"),
            "vcsw_per_op": f"{vcsw / ops:.4g}" if vcsw is not None and ops else None,
            "model_declared": model.get("declared"), "model_measured": model.get("measured"),
            "model_mismatch": model.get("mismatch"),
        })
tmp = f"{out}/.results.csv.part"
with open(tmp, "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(cols)
    for row in rows:
        w.writerow([cell_text(row[c]) for c in cols])
os.replace(tmp, f"{out}/results.csv")
PY
}

resume_hint() {
	local cmd=("$0" "$@")
	[[ " $* " == *" --out "* || " $* " == *" --out="* ]] || cmd+=(--out "$out")
	local text
	text=$(printf ' %q' "${cmd[@]}")
	printf '%s%s%s' "${IOLENS:+IOLENS=$(printf '%q' "$IOLENS") }" \
		"${IOLENS_MPI:+IOLENS_MPI=$(printf '%q' "$IOLENS_MPI") }" "${text# }"
}
count_done() {
	local c n=0
	for c in "${cells[@]}"; do [ ! -f "$out/${c%%|*}.json" ] || n=$((n + 1)); done
	echo $n
}
child="" part=""
on_signal() {
	local job
	trap '' INT TERM
	# Every job, not just $child: the signal may land before $! is saved.
	for job in $(jobs -p); do kill -TERM "$job" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "$part" ] || rm -f "$part"
	merge 2>/dev/null || true
	echo "bench.sh: interrupted; $(count_done) of $ncells cells done in '$out'" >&2
	echo "bench.sh: resume with: $(resume_hint "${orig_args[@]}")" >&2
	exit 130
}
trap on_signal INT TERM
trap '[ -z "$part" ] || rm -f "$part"' EXIT

todo=$((ncells - $(count_done)))
echo "bench.sh: $ncells cells, $((ncells - todo)) done already, into $out" >&2

now_us() { echo "${EPOCHREALTIME/./}"; }
guess_s=$(awk -v t="$(duration_us "$time")" -v w="$(duration_us "$warmup")" 'BEGIN { printf "%d", 2 * (t + w) / 1e6 + 1 }')
t_start=$(now_us) ran=0 ran_us=0 i=0 failed=()
for c in "${cells[@]}"; do
	i=$((i + 1))
	IFS='|' read -r name desc b args <<<"$c"
	if [ -f "$out/$name.json" ]; then
		echo "[$i/$ncells] $desc — skip (done)" >&2
		continue
	fi
	elapsed=$((($(now_us) - t_start) / 1000000))
	if [ $ran -gt 0 ]; then left=$((ran_us * todo / ran / 1000000)); else left=$((guess_s * todo)); fi
	echo "[$i/$ncells] $desc — $elapsed s elapsed, ~$left s left" >&2

	read -ra cell_args <<<"$args"
	cmd=(run --backend "$b" "${cell_args[@]}" --time "$time")
	[ "$warmup" = 0 ] || cmd+=(--warmup "$warmup")
	if [ "$no_db" = yes ]; then cmd+=(--no-db); else cmd+=(--label "${opt[label]}"); fi
	[ -z "$db" ] || cmd+=(--db "$db")
	if [ -n "$mpi" ]; then
		# echo's and stream's clients need a rank that serves them.
		cmd=("${launcher[@]}" "$iolens_mpi" "${cmd[@]}")
		[[ ${cell_args[1]} != echo && ${cell_args[1]} != stream ]] || cmd+=(--responder-rank 0)
	else
		cmd=("$iolens" "${cmd[@]}")
	fi
	if [[ $disk_workloads == *" ${cell_args[1]} "* ]]; then
		[ -z "$file" ] || cmd+=(--file "$file")
		[ "${opt[direct]}" != yes ] || cmd+=(--direct)
		[ "${opt[overwrite]}" != yes ] || cmd+=(--overwrite)
	fi
	part=$out/.$name.json.part
	t0=$(now_us)
	"${cmd[@]}" --json "$part" >"$out/logs/$name.log" 2>&1 </dev/null {lock}<&- &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=""
	secs=$(awk -v us=$(($(now_us) - t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
	ran=$((ran + 1)) ran_us=$((ran_us + $(now_us) - t0)) todo=$((todo - 1))
	if [ $rc -eq 130 ]; then
		rm -f "$part"
		part=""
		echo "bench.sh: $runner was interrupted in $name; resume with: $(resume_hint "${orig_args[@]}")" >&2
		exit 130
	fi
	# A rank lost mid-run leaves the writing rank's own results, marked, and
	# mpirun's status need not say so: such a cell is not done.
	lost=""
	if [[ -n $mpi && $rc -le 1 && -s $part ]]; then
		lost=$(/usr/bin/python3 -c 'import json, sys
try:
    fleet = json.load(open(sys.argv[1])).get("fleet")
except (OSError, ValueError):
    sys.exit()
if isinstance(fleet, dict) and fleet.get("error"):
    print(fleet["error"])' "$part" || true)
	fi
	if [[ $rc -le 1 && -s $part && -z $lost ]]; then
		printf '%s\t%d\t%s\t%s\n' "$name" "$rc" "$secs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$out/cells.tsv"
		mv -f "$part" "$out/$name.json"
		[ $rc -eq 0 ] || echo "  $name: a backend failed ($runner exit 1), see logs/$name.log" >&2
	else
		rm -f "$part"
		failed+=("$name")
		if [ -n "$lost" ]; then
			why="fleet.error: ${lost%%$'\n'*}"
		else
			why=$(tail -n 1 "$out/logs/$name.log")
			# mpirun ends with its own banner: iolens-mpi's line says more.
			[ -z "$mpi" ] || why=$(grep '^iolens-mpi: ' "$out/logs/$name.log" | tail -n 1 | grep . || echo "$why")
		fi
		echo "  $name: $runner exit $rc, no result (the cell runs again on resume): $why" >&2
	fi
	part=""
done

merge
rows=$(($(wc -l <"$out/results.csv") - 1))
bad=$(awk -F'\t' 'NR > 1 { rc[$1] = $2 } END { n = 0; for (c in rc) if (rc[c] != 0) n++; print n }' "$out/cells.tsv")
echo "bench.sh: $ncells cells, ${#failed[@]} not done, $bad with a failed backend; results.csv has $rows rows" >&2
echo "$out"
[ ${#failed[@]} -eq 0 ] && [ "$bad" -eq 0 ] || exit 1
