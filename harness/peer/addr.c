/*
 * Addresses: parsed and formatted for tcp, tcp6 and unix; loopback
 * addresses with a unix socket in a directory of its own; unix socket paths
 * claimed, bound and released only when they are still ours; the file
 * descriptor limit raised.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer_kit.h"

/* PORT: decimal digits only. 0 ok, -ERANGE (too big or 0 when not listening), -EINVAL. */
static int parse_port(const char *s, int listening, unsigned *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -ERANGE;
	}
	if (v == 0 && !listening)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

static int resolve(const char *host, int family, void *addr, const char *opt, char *err,
		   size_t errlen)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM }, *res;
	int r;

	if (inet_pton(family, host, addr) == 1)
		return 0;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r)
		return iolens__peer_fail(err, errlen, -EINVAL, "%s: cannot resolve '%s' (%s)", opt, host,
					 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	if (family == AF_INET)
		memcpy(addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
		       sizeof(struct in_addr));
	else
		memcpy(addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
		       sizeof(struct in6_addr));
	freeaddrinfo(res);
	return 0;
}

int iolens__addr_parse(const char *s, int transport, const char *opt, int listening,
		       struct iolens__addr *out, char *err, size_t errlen)
{
	const char *form = transport == IOLENS_TR_TCP6 ? "[ADDR]:PORT" : "HOST:PORT";
	const char *lo = listening ? "0" : "1";
	char host[256];
	const char *colon, *port;
	unsigned p;
	size_t hl;
	int r;

	memset(out, 0, sizeof(*out));
	out->transport = transport;
	if (!s)
		s = "";
	if (transport == IOLENS_TR_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;

		if (!*s)
			return iolens__peer_fail(err, errlen, -EINVAL,
						 "%s: empty path (accepts a filesystem path for a unix socket)",
						 opt);
		if (strlen(s) >= sizeof(un->sun_path))
			return iolens__peer_fail(err, errlen, -EINVAL,
						 "%s: '%s': path too long (accepts a path of at most %zu bytes)",
						 opt, s, sizeof(un->sun_path) - 1);
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, s);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(s) + 1);
		return 0;
	}
	if (transport != IOLENS_TR_TCP && transport != IOLENS_TR_TCP6)
		return iolens__peer_fail(err, errlen, -EINVAL, "%s: unknown transport %d", opt, transport);

	if (transport == IOLENS_TR_TCP6 && s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return iolens__peer_fail(err, errlen, -EINVAL,
						 "%s: '%s' is not an address (accepts %s with a port %s..65535)",
						 opt, s, form, lo);
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return iolens__peer_fail(err, errlen, -EINVAL,
						 "%s: '%s' has no port (accepts %s with a port %s..65535)", opt,
						 s, form, lo);
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
		if (transport == IOLENS_TR_TCP6 && strchr(host, ':'))
			return iolens__peer_fail(err, errlen, -EINVAL,
						 "%s: '%s': put an IPv6 address in brackets (accepts %s with a port %s..65535)",
						 opt, s, form, lo);
	}
	if (!host[0])
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "%s: '%s' has no host (accepts %s with a port %s..65535)", opt, s,
					 form, lo);
	r = parse_port(port, listening, &p);
	if (r == -ERANGE)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "%s: '%s': port out of range (accepts %s with a port %s..65535)", opt,
					 s, form, lo);
	if (r)
		return iolens__peer_fail(err, errlen, -EINVAL,
					 "%s: '%s': '%s' is not a port (accepts %s with a port %s..65535)", opt,
					 s, port, form, lo);
	if (transport == IOLENS_TR_TCP) {
		struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;

		r = resolve(host, AF_INET, &in->sin_addr, opt, err, errlen);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		out->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

		r = resolve(host, AF_INET6, &in6->sin6_addr, opt, err, errlen);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		out->len = sizeof(*in6);
	}
	return r;
}

void iolens__addr_format(const struct iolens__addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (a->ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(buf, len, "%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
		break;
	default:
		snprintf(buf, len, "(no address)");
	}
}

int iolens__addr_loopback(int transport, struct iolens__addr *out)
{
	memset(out, 0, sizeof(*out));
	out->transport = transport;
	switch (transport) {
	case IOLENS_TR_TCP: {
		struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out->len = sizeof(*in);
		return 0;
	}
	case IOLENS_TR_TCP6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		out->len = sizeof(*in6);
		return 0;
	}
	case IOLENS_TR_UNIX: {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
		const char *tmp = getenv("TMPDIR");
		char dir[sizeof(un->sun_path)];
		int n;

		if (!iolens__tmpdir_fits(tmp, sizeof(LOOPBACK_DIR_PREFIX "XXXXXX/" LOOPBACK_SOCK_NAME)))
			tmp = "/tmp";
		n = snprintf(dir, sizeof(dir), "%s/" LOOPBACK_DIR_PREFIX "XXXXXX", tmp);
		if (n < 0 || (size_t)n + sizeof("/" LOOPBACK_SOCK_NAME) > sizeof(un->sun_path))
			return -ENAMETOOLONG;
		if (!mkdtemp(dir))
			return -errno;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, dir, (size_t)n);
		memcpy(un->sun_path + n, "/" LOOPBACK_SOCK_NAME, sizeof("/" LOOPBACK_SOCK_NAME));
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				       strlen(un->sun_path) + 1);
		return 0;
	}
	}
	return -EINVAL;
}

int iolens__tmpdir_fits(const char *tmp, size_t tail)
{
	return tmp && *tmp && strlen(tmp) + 1 + tail <= sizeof(((struct sockaddr_un *)0)->sun_path);
}

int iolens__unix_claim(const char *path, int remove_stale, const char *opt, char *err,
		       size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	const char *sep = opt && *opt ? ": " : "";
	struct stat st;
	int fd, e;

	if (!opt)
		opt = "";

	if (lstat(path, &st))
		return errno == ENOENT ? 0
				       : iolens__peer_fail(err, errlen, -errno, "%s%s'%s': %s", opt, sep, path,
							   strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return iolens__peer_fail(err, errlen, -EEXIST,
					 "%s%s'%s' exists and is not a socket (iolens never replaces it)", opt,
					 sep, path);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	/* Non-blocking: a listener with a full backlog answers EAGAIN, not a wait. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return iolens__peer_fail(err, errlen, -errno, "%s%s'%s': %s", opt, sep, path, strerror(errno));
	e = connect(fd, (struct sockaddr *)&un, sizeof(un)) ? errno : 0;
	close(fd);
	if (!e || e == EAGAIN || e == EINPROGRESS)
		return iolens__peer_fail(err, errlen, -EADDRINUSE,
					 "%s%s'%s' is in use: a process is listening on it", opt, sep, path);
	if (e != ECONNREFUSED)
		return iolens__peer_fail(err, errlen, -EEXIST,
					 "%s%s'%s' is a socket iolens cannot tell is stale (connect: %s); iolens never replaces it",
					 opt, sep, path, strerror(e));
	if (remove_stale && unlink(path) && errno != ENOENT)
		return iolens__peer_fail(err, errlen, -errno, "%s%s'%s': stale socket: %s", opt, sep, path,
					 strerror(errno));
	return 0;
}

void iolens__unix_bound(const char *path, struct iolens__unix_id *id)
{
	struct stat st;

	id->set = !lstat(path, &st) && S_ISSOCK(st.st_mode);
	id->dev = id->set ? (uint64_t)st.st_dev : 0;
	id->ino = id->set ? (uint64_t)st.st_ino : 0;
}

int iolens__unix_release(const char *path, const struct iolens__unix_id *id)
{
	struct stat st;

	if (!id->set || lstat(path, &st) || !S_ISSOCK(st.st_mode) || (uint64_t)st.st_dev != id->dev ||
	    (uint64_t)st.st_ino != id->ino)
		return 0;
	return !unlink(path);
}

/* The directory iolens__addr_loopback made for path, if path is in one, removed. */
void iolens__loopback_rmdir(const char *path)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *dir, *name;

	snprintf(copy, sizeof(copy), "%s", path);
	name = strrchr(copy, '/');
	if (!name || strcmp(name + 1, LOOPBACK_SOCK_NAME))
		return;
	*name = '\0';
	dir = strrchr(copy, '/');
	dir = dir ? dir + 1 : copy;
	if (!strncmp(dir, LOOPBACK_DIR_PREFIX, strlen(LOOPBACK_DIR_PREFIX)))
		rmdir(copy);
}

/* Remove a unix listener's path if it is still the socket bound, and a loopback directory. */
void iolens__unix_cleanup(const struct iolens__addr *a, const struct iolens__unix_id *id)
{
	const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;

	iolens__unix_release(path, id);
	iolens__loopback_rmdir(path);
}

void iolens__addr_loopback_cleanup(const struct iolens__addr *a)
{
	const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
	const char *slash = strrchr(path, '/'), *dir;
	struct stat st;

	if (a->ss.ss_family != AF_UNIX || !slash || strcmp(slash + 1, LOOPBACK_SOCK_NAME))
		return;
	for (dir = slash; dir > path && dir[-1] != '/'; dir--)
		;
	/* Only in a directory of mkdtemp's making: a unique name, nobody else's socket. */
	if (strncmp(dir, LOOPBACK_DIR_PREFIX, strlen(LOOPBACK_DIR_PREFIX)))
		return;
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	iolens__loopback_rmdir(path);
}

uint64_t iolens__raise_nofile(void)
{
	struct rlimit rl;
	FILE *f;
	unsigned long long nr_open;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (geteuid() == 0 && (f = fopen("/proc/sys/fs/nr_open", "re"))) {
		if (fscanf(f, "%llu", &nr_open) == 1 && nr_open > rl.rlim_max) {
			struct rlimit want = { .rlim_cur = nr_open, .rlim_max = nr_open };

			if (!setrlimit(RLIMIT_NOFILE, &want))
				rl = want;
		}
		fclose(f);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}
