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

/* Opens a scope whose deadline is ms milliseconds from now (d NULL: does
 * nothing). Prefer the block form URIO_TIMEOUT below: it cannot be left
 * without the exit. A task that returns inside a scope is reported on
 * stderr by name and its scopes are closed for it. */
URIO_API void urio_timeout_enter(urio_deadline *d, uint64_t ms);
/* Opens a scope with an absolute CLOCK_MONOTONIC deadline (urio_now_ns). */
URIO_API void urio_timeout_enter_at(urio_deadline *d, uint64_t deadline_ns);
/* Closes the scope: 0, -ETIMEDOUT if it fired, -EPERM if entered outside a
 * task, -ENOMEM if its timer could not be armed (suspensions inside then
 * failed at once, as if it had fired), -EINVAL if d is NULL. Like
 * asyncio.timeout, a deadline acts at suspensions: a scope left without one
 * never fires. */
URIO_API int urio_timeout_exit(urio_deadline *d);
/* Shields the code up to urio_shield_exit from outside cancellation (s
 * NULL: does nothing). */
URIO_API void urio_shield_enter(urio_shield *s);
URIO_API void urio_shield_exit(urio_shield *s);
/* True if a suspension here would fail with -ECANCELED right now. */
URIO_API bool urio_cancelled(void);
/* CLOCK_MONOTONIC in nanoseconds. */
URIO_API uint64_t urio_now_ns(void);

/* --- block form -------------------------------------------------------------
 * URIO_TIMEOUT(err, ms) { block }: runs the block once inside a deadline
 * scope of ms milliseconds, and exits the scope however the block is left
 * (its end, break, continue, return, goto): err, an int lvalue, gets
 * urio_timeout_exit's result (0 or -ETIMEDOUT). */
typedef struct urio_timeout_scope {
	/* private: */
	urio_deadline d;
	int *err;
	uint64_t ms;
	int step;
} urio_timeout_scope;

static inline void urio__timeout_scope_end(urio_timeout_scope *s)
{
	if (s->step == 1) {
		int r = urio_timeout_exit(&s->d);
		if (s->err)
			*s->err = r;
	}
	s->step = 2;
}

/* First call: enters (the block runs); second: exits (the loop ends). */
static inline bool urio__timeout_scope_step(urio_timeout_scope *s)
{
	if (s->step == 0) {
		urio_timeout_enter(&s->d, s->ms);
		s->step = 1;
		return true;
	}
	urio__timeout_scope_end(s);
	return false;
}

#ifndef URIO__CAT
#define URIO__CAT2(a, b) a##b
#define URIO__CAT(a, b) URIO__CAT2(a, b)
#endif

#define URIO_TIMEOUT(err, ms)                                                \
	for (urio_timeout_scope URIO__CAT(urio_ts_, __LINE__)                 \
		     __attribute__((cleanup(urio__timeout_scope_end))) = {    \
			     {0, 0, 0, 0, 0, 0}, &(err), (ms), 0};            \
	     urio__timeout_scope_step(&URIO__CAT(urio_ts_, __LINE__));)

#ifdef __cplusplus
}
#endif
#endif
