/* Resource pools (connections, sessions, ...), generic over the resource
 * through create / destroy / check callbacks, safe across workers.
 *
 * At most max_size resources exist at once (leased, idle or being made).
 * Acquirers wait in FIFO order for room, take the most recently released
 * idle resource (checked first, since it idled) or create one; a creation
 * failure is the acquirer's error. A resource released with err < 0 is
 * destroyed and replaced on demand. A background task keeps min_idle
 * resources warm and retires those idle past idle_timeout_ms (down to
 * min_idle) or older than max_lifetime_ms. Call the functions from tasks;
 * the callbacks run in tasks (create and check may suspend and are
 * cancellable; destroy runs shielded). */
#ifndef URIO_POOL_H
#define URIO_POOL_H

#include <stdint.h>
#include <urio/runtime.h>
#include <urio/with.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_pool urio_pool;

typedef struct urio_pool_ops {
	int (*create)(void *ctx, void **res); /* 0 or -errno */
	void (*destroy)(void *ctx, void *res);
	int (*check)(void *ctx, void *res); /* may be NULL; < 0: broken, destroy it */
} urio_pool_ops;

typedef struct urio_pool_opts { /* zero = default / unlimited */
	unsigned max_size, min_idle;
	uint64_t idle_timeout_ms, max_lifetime_ms, acquire_timeout_ms;
} urio_pool_opts;

/* A pool of resources made by ops (create and destroy required) with ctx;
 * opts may be NULL (no limits). Call from a task: the pool's background
 * task runs on that runtime. NULL with errno EINVAL (bad ops, min_idle >
 * max_size), EPERM (not in a task), ENOMEM. */
URIO_API urio_pool *urio_pool_new(const urio_pool_ops *ops, void *ctx,
				  const urio_pool_opts *opts);
/* Leases a resource into *res: 0, -ETIMEDOUT after acquire_timeout_ms,
 * -ECANCELED, create's error (-ECONNREFUSED ...), -ESHUTDOWN once
 * urio_pool_free has begun, -EINVAL, -EPERM outside a task. */
URIO_API int urio_pool_acquire(urio_pool *p, void **res);
/* Returns a leased resource; err < 0 (or a lifetime past max_lifetime_ms)
 * destroys it. A pointer that is not leased from p is ignored. */
URIO_API void urio_pool_release(urio_pool *p, void *res, int err);
/* Waits for the leases still out and the acquirers inside, stops the
 * background task, destroys every resource and frees p. Call from a task. */
URIO_API void urio_pool_free(urio_pool *p);

typedef struct urio_pool_stats {
	unsigned in_use, idle, waiting; /* now */
	unsigned creating;              /* creations under way now */
	uint64_t created, destroyed;    /* since urio_pool_new */
	uint64_t create_errors;         /* creations that failed */
	uint64_t broken;                /* check failures and releases with err < 0 */
	uint64_t acquires, timeouts;    /* leases handed out; acquires timed out */
	uint64_t wait_ns;               /* summed over acquires: time inside them */
} urio_pool_stats;

/* A snapshot of p's counters (from any thread). */
URIO_API void urio_pool_get_stats(urio_pool *p, urio_pool_stats *out);

/* --- lease scope ---------------------------------------------------------
 * urio_with(&urio_pool_lease_scope, &lease, body, ctx) with lease.pool set:
 * enter acquires into lease.res, exit releases it with the body's error, so
 * a body that fails, is cancelled or times out gives back a destroyed
 * resource (a connection in an unknown state is not reused). */
typedef struct urio_pool_lease {
	urio_pool *pool;
	void *res; /* out: the leased resource, inside the body */
} urio_pool_lease;

URIO_API extern const urio_scope_ops urio_pool_lease_scope;

#ifdef __cplusplus
}
#endif
#endif
