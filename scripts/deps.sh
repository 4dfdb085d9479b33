# Sourced by the other scripts: install the Debian packages iolens needs, only
# those missing, so a second run touches nothing.
iolens_install_deps() {
	local want=(cmake make gcc pkg-config liburing-dev libaio-dev libcmocka-dev libsqlite3-dev zlib1g-dev libinih-dev python3 "$@")
	local missing=() p
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Syscall tracepoints need tracefs; mount it when we can.
iolens_mount_tracefs() {
	[ -d /sys/kernel/tracing/events ] && return 0
	[ "$(id -u)" -eq 0 ] || return 0
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
}
