/* The built-in peers in a child process (see peer_proc.c for why). */
#ifndef IOLENS_PEER_PROC_H
#define IOLENS_PEER_PROC_H

#include <sys/types.h>

#include "peer.h"

enum { IOLENS_PEER_PROC_RESPONDER = 1, IOLENS_PEER_PROC_LOADGEN };

struct iolens__peer_proc {
	pid_t pid;
	int ctl;
	struct iolens__addr addr; /* the responder's */
};

/*
 * Fork the child and start a responder (with *ro) or an idle load
 * generator in it. 0, or -errno with a one-line message in err.
 */
int iolens__peer_proc_start(struct iolens__peer_proc *p, int kind,
			    const struct iolens__responder_opts *ro, char *err, size_t errlen);
/* Hang up and reap the child (it stops its peer first). */
void iolens__peer_proc_stop(struct iolens__peer_proc *p);

/* The load generator's calls (peer.h), carried to the child. */
int iolens__peer_proc_lg_start(struct iolens__peer_proc *p, const struct iolens__loadgen_opts *o,
			       char *err, size_t errlen);
int iolens__peer_proc_lg_measure(struct iolens__peer_proc *p, int on);
int iolens__peer_proc_lg_finish(struct iolens__peer_proc *p, struct iolens_loadgen_figures *res);

#endif
