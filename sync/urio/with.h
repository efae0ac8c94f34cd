/* Scoped resources: asyncio's `async with` in C.
 *
 * urio_with(ops, res, body, ctx) enters res, runs body, then exits res with
 * the body's error, shielded from cancellation so cleanup that suspends
 * (a rollback, a flush, a close) still runs in a cancelled task. The guard
 * form URIO_GUARD pairs an acquire with a release that runs on every exit
 * from its block: falling off the end, break, return or goto. */
#ifndef URIO_WITH_H
#define URIO_WITH_H

#include <stdbool.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_scope_ops {
	int (*enter)(void *res);         /* < 0: body and exit are skipped */
	int (*exit)(void *res, int err); /* returns the error to propagate; 0 suppresses */
} urio_scope_ops;

/* Runs enter(res), body(res, ctx) and exit(res, err). Returns enter's error
 * if it failed, else exit's result. A body that returns >= 0 in a task that
 * has been cancelled meanwhile is reported to exit as -ECANCELED, so a
 * cancelled body never commits. -EINVAL if ops or body is NULL. */
URIO_API int urio_with(const urio_scope_ops *ops, void *res,
		       int (*body)(void *res, void *ctx), void *ctx);

/* --- guard form ----------------------------------------------------------- */
typedef struct urio_guard {
	void (*release)(void *res); /* NULL once released, or if never acquired */
	void *res;
	bool once;
} urio_guard;

static inline void urio__guard_cleanup(urio_guard *g)
{
	if (g->release)
		g->release(g->res);
}

#define URIO__CAT2(a, b) a##b
#define URIO__CAT(a, b) URIO__CAT2(a, b)

/* URIO_GUARD(err, acquire(res), release, res) { block }: evaluates the
 * acquire expression into err (an int lvalue); if it is >= 0 runs the block
 * once and calls release(res) however the block is left (a break leaves the
 * guarded block itself). If it is < 0 the block is skipped. */
#define URIO_GUARD(err, acquire, release_fn, res)                           \
	for (urio_guard URIO__CAT(urio_guard_, __LINE__)                     \
		     __attribute__((cleanup(urio__guard_cleanup))) = {       \
			     ((err) = (acquire)) < 0 ? (void (*)(void *))0   \
						     : (release_fn),         \
			     (res), 1};                                      \
	     URIO__CAT(urio_guard_, __LINE__).once && (err) >= 0;             \
	     URIO__CAT(urio_guard_, __LINE__).once = false)

#ifdef __cplusplus
}
#endif
#endif
