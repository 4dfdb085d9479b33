/*
 * iolens doctor: what this machine lets iolens measure (the library's
 * machine probe, the kernel's settings, each backend), and the commands
 * that enable what is missing.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_doctor.h"
#include "iolens/iolens.h"

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "unknown");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

int iolens__cli_doctor(void)
{
	const struct iolens_backend_info *b;
	size_t n = iolens_backends(&b);
	struct iolens_machine m;
	char paranoid[32], aio_nr[32], aio_max[32], uring[32];
	const char *tracefs;
	int counters;

	iolens_machine_probe(&m);
	tracefs = m.tracefs[0] ? m.tracefs : NULL;
	counters = m.can_count;

	read_line("/proc/sys/kernel/perf_event_paranoid", paranoid, sizeof(paranoid));
	read_line("/proc/sys/fs/aio-nr", aio_nr, sizeof(aio_nr));
	read_line("/proc/sys/fs/aio-max-nr", aio_max, sizeof(aio_max));
	read_line("/proc/sys/kernel/io_uring_disabled", uring, sizeof(uring));
	printf("running as:           %s\n", geteuid() == 0 ? "root" : "an unprivileged user");
	printf("tracefs:              %s\n", tracefs ? tracefs : "not mounted, or not readable by this user");
	printf("perf_event_paranoid:  %s\n", paranoid);
	printf("syscall counters:     %s\n", counters ? "available (syscalls are counted)" : m.why_not);
	printf("io_uring_disabled:    %s\n", uring);
	printf("aio-nr / aio-max-nr:  %s / %s\n", aio_nr, aio_max);
	for (size_t i = 0; i < n; i++)
		printf("backend %-12s  %s%s\n", b[i].name, b[i].available ? "available" : "unavailable: ",
		       b[i].available ? "" : b[i].reason);
	printf("hardware counters:    not used (iolens counts syscalls with tracepoints only)\n");
	if (!counters) {
		printf("\nTo count syscalls:\n");
		if (!tracefs && geteuid() == 0)
			printf("  mount -t tracefs nodev /sys/kernel/tracing\n");
		if (geteuid() != 0)
			printf("  run iolens as root (tracefs event ids are readable by root only),\n"
			       "  or as root: sysctl -w kernel.perf_event_paranoid=-1 and make\n"
			       "  /sys/kernel/tracing/events readable to this user\n");
	}
	return 0;
}
