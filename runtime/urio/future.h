/* Futures (asyncio.Future): one result, set once from any thread, awaited
 * by any number of tasks and threads.
 *
 * Ownership: urio_future_new returns a future holding one reference, owned
 * by the caller. urio_future_ref adds one, urio_future_free drops one, and
 * the last drop frees the future. Whoever calls a function on f must own a
 * reference for the duration of the call: before handing f to a completer
 * on another thread, take a reference for it (it frees it after setting).
 * Waiters and callbacks need nothing more than their caller's reference.
 *
 * Functions returning int give >= 0 or -errno. */
#ifndef URIO_FUTURE_H
#define URIO_FUTURE_H

#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_future urio_future;

enum {
	URIO_FUTURE_PENDING,
	URIO_FUTURE_FINISHED,  /* set or failed */
	URIO_FUTURE_CANCELLED,
};

/* A pending future with one reference. NULL with errno ENOMEM. */
URIO_API urio_future *urio_future_new(void);
/* Adds a reference to f and returns f. */
URIO_API urio_future *urio_future_ref(urio_future *f);
/* Drops a reference; the last one frees f. Callbacks of a future freed
 * while still pending never run. f may be NULL. */
URIO_API void urio_future_free(urio_future *f);

/* Completes f with value, from any thread (tasks, offload threads, threads
 * the runtime does not own). Wakes every waiter, then runs the callbacks
 * on the calling thread. Returns 0, or -EALREADY if f was already done. */
URIO_API int urio_future_set(urio_future *f, intptr_t value);
/* Completes f with the error err (negative errno), as urio_future_set.
 * Returns 0, -EALREADY, or -EINVAL if err >= 0. */
URIO_API int urio_future_fail(urio_future *f, int err);
/* Cancels f: state URIO_FUTURE_CANCELLED, waiters get -ECANCELED. Returns
 * 0, or -EALREADY if f was already done. */
URIO_API int urio_future_cancel(urio_future *f);

/* Waits until f is done. In a task it suspends only the task; elsewhere it
 * blocks the thread (-EDEADLK on a worker thread outside a task). Returns 0
 * and *value (may be NULL), or f's error, or -ECANCELED if f was cancelled
 * or the waiting task was (f itself stays pending then). A future already
 * done returns at once, even to a cancelled task. */
URIO_API int urio_future_wait(urio_future *f, intptr_t *value);
/* Like urio_future_wait but never waits: -EAGAIN while f is pending. */
URIO_API int urio_future_result(const urio_future *f, intptr_t *value);
/* URIO_FUTURE_PENDING, _FINISHED or _CANCELLED; -EINVAL if f is NULL. */
URIO_API int urio_future_state(const urio_future *f);

/* Calls cb(f, arg) once f is done: at once, on the calling thread, if it
 * already is; otherwise inside the urio_future_set/fail/cancel that
 * completes f, on that thread (a task, a pool thread, a foreign thread),
 * after the waiters are woken and in the order the callbacks were added;
 * keep it short. Returns 0, -EINVAL, -ENOMEM. */
URIO_API int urio_future_on_done(urio_future *f,
				 void (*cb)(urio_future *f, void *arg),
				 void *arg);

#ifdef __cplusplus
}
#endif
#endif
