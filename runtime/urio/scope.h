/* Cancel scopes: deadlines (asyncio.timeout / timeout_at) and shields.
 *
 * A deadline covers every suspension between enter and exit: when it fires,
 * the op in flight is cancelled and every later suspension inside the scope
 * fails with -ECANCELED until exit, which then returns -ETIMEDOUT. Scopes
 * nest (an inner deadline never extends an outer one) and must be exited in
 * reverse order, by the task that entered them. A shield stops cancellation
 * from outside it (urio_cancel, outer deadlines) for cleanup code. Entering
 * and exiting a scope that does not fire makes no syscall. */
#ifndef URIO_SCOPE_H
#define URIO_SCOPE_H

#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_deadline {
	/* private: */
	struct urio_deadline *outer;
	void *rec;   /* the timer record, shared with the worker's heap */
	void *task;
	unsigned long long when; /* CLOCK_MONOTONIC ns */
	int kind;
	int err;
} urio_deadline;

typedef struct urio_shield {
	urio_deadline scope; /* private */
} urio_shield;

/* Opens a scope whose deadline is ms milliseconds from now. */
URIO_API void urio_timeout_enter(urio_deadline *d, uint64_t ms);
/* Opens a scope with an absolute CLOCK_MONOTONIC deadline (urio_now_ns). */
URIO_API void urio_timeout_enter_at(urio_deadline *d, uint64_t deadline_ns);
/* Closes the scope: 0, -ETIMEDOUT if it fired, -EPERM if entered outside a
 * task, -ENOMEM if its timer could not be armed. Like asyncio.timeout, a
 * deadline acts at suspensions: a scope left without one never fires. */
URIO_API int urio_timeout_exit(urio_deadline *d);
/* Shields the code up to urio_shield_exit from outside cancellation. */
URIO_API void urio_shield_enter(urio_shield *s);
URIO_API void urio_shield_exit(urio_shield *s);
/* True if a suspension here would fail with -ECANCELED right now. */
URIO_API bool urio_cancelled(void);
/* CLOCK_MONOTONIC in nanoseconds. */
URIO_API uint64_t urio_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
