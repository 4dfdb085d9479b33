/*
 * Every backend iolens knows, in the order reports list them. A backend the
 * build left out stays listed with the reason, so `iolens list` and results
 * say why it did not run.
 */
#include "backend.h"
#include "iolens_config.h"

extern const struct iolens_backend iolens_backend_null;
extern const struct iolens_backend iolens_backend_blocking;
extern const struct iolens_backend iolens_backend_select;
extern const struct iolens_backend iolens_backend_poll;
extern const struct iolens_backend iolens_backend_epoll;
extern const struct iolens_backend iolens_backend_posix_aio;
extern const struct iolens_backend iolens_backend_threadpool;
extern const struct iolens_backend iolens_backend_nowait;
extern const struct iolens_backend iolens_backend_coro_epoll;
#if IOLENS_HAVE_LIBURING
extern const struct iolens_backend iolens_backend_io_uring;
extern const struct iolens_backend iolens_backend_coro;
#endif
#if IOLENS_HAVE_LIBAIO
extern const struct iolens_backend iolens_backend_libaio;
#endif

#define BUILT(sym) { &(sym), NULL, NULL, NULL }

const struct iolens__registry_entry iolens__registry[] = {
	BUILT(iolens_backend_null),
	BUILT(iolens_backend_blocking),
	BUILT(iolens_backend_select),
	BUILT(iolens_backend_poll),
	BUILT(iolens_backend_epoll),
#if IOLENS_HAVE_LIBURING
	BUILT(iolens_backend_io_uring),
#else
	{ NULL, "io_uring", IOLENS_MODEL_ASYNC_KERNEL, IOLENS_LIBURING_MISSING },
#endif
	BUILT(iolens_backend_posix_aio),
	BUILT(iolens_backend_threadpool),
	BUILT(iolens_backend_nowait),
#if IOLENS_HAVE_LIBURING
	BUILT(iolens_backend_coro),
#else
	{ NULL, "coro", IOLENS_MODEL_ASYNC_KERNEL, IOLENS_LIBURING_MISSING },
#endif
	BUILT(iolens_backend_coro_epoll),
#if IOLENS_HAVE_LIBAIO
	BUILT(iolens_backend_libaio),
#else
	{ NULL, "libaio", IOLENS_MODEL_ASYNC_KERNEL, IOLENS_LIBAIO_MISSING },
#endif
};

const unsigned iolens__registry_len = sizeof(iolens__registry) / sizeof(iolens__registry[0]);
