/* placeholder until the backend lands */
#include <errno.h>
#include "backend.h"
static int ph_init(struct iolens_ctx *ctx) { (void)ctx; return -ENOSYS; }
static void ph_destroy(struct iolens_ctx *ctx) { (void)ctx; }
static int ph_submit(struct iolens_ctx *c, struct iolens_op *const *o, unsigned n) { (void)c; (void)o; (void)n; return -ENOSYS; }
static int ph_reap(struct iolens_ctx *c, struct iolens_op **o, unsigned a, unsigned b, int64_t t) { (void)c; (void)o; (void)a; (void)b; (void)t; return -ENOSYS; }
static int ph_probe(const char **why) { *why = "not implemented yet"; return -ENOSYS; }
const struct iolens_backend iolens_backend_blocking = { .name = "blocking", .model = "?", .summary = "?", .probe = ph_probe, .init = ph_init, .destroy = ph_destroy, .submit = ph_submit, .reap = ph_reap };
