/* Blocking offload (asyncio.to_thread / run_in_executor): run a blocking
 * function on a thread pool while only the calling task waits; and
 * task-local values, which such a function sees as its caller's.
 *
 * Functions returning int give >= 0 or -errno. */
#ifndef URIO_OFFLOAD_H
#define URIO_OFFLOAD_H

#include <urio/runtime.h>
#include <urio/future.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs fn(arg) on the default pool and suspends the calling task until it
 * returns. Returns fn's result, -EINVAL (fn NULL), -ENOMEM, -EAGAIN (no
 * thread could be started), or -ECANCELED at once when the task is
 * cancelled: fn then never starts if it had not, or runs on in the
 * background and its result is dropped, so arg must stay valid until fn
 * returns (urio_executor_submit plus a done callback can free it then).
 * Outside a task (a plain thread) it calls fn(arg) inline. */
URIO_API intptr_t urio_offload(urio_fn fn, void *arg);

typedef struct urio_executor urio_executor;

/* Pool sizing. A zeroed struct means all defaults. */
typedef struct urio_executor_opts {
	unsigned min_threads;   /* started at once, never retired; 0 */
	unsigned max_threads;   /* 0 = 64 */
	uint64_t keep_alive_ms; /* idle time before a thread retires; 0 = 10 s */
	unsigned queue_max;     /* jobs waiting for a thread; 0 = 4096 */
	unsigned flags;         /* URIO_EXEC_* */
} urio_executor_opts;

/* A full queue refuses a job with -EAGAIN instead of making it wait. */
#define URIO_EXEC_NOWAIT (1u << 0)

typedef struct urio_exec_stats {
	unsigned threads;       /* alive now */
	unsigned idle;          /* of those, waiting for a job */
	unsigned running;       /* jobs inside fn now */
	unsigned queued;        /* jobs waiting for a thread */
	unsigned peak_threads;  /* most threads alive at once */
	unsigned max_threads;
	uint64_t submitted;     /* jobs queued */
	uint64_t completed;     /* jobs whose fn returned */
	uint64_t cancelled;     /* calls that returned -ECANCELED */
	uint64_t dropped;       /* jobs that never ran (cancelled first) */
	uint64_t waited;        /* submissions that waited for queue room */
	uint64_t rejected;      /* submissions refused (NOWAIT, no thread) */
	uint64_t started;       /* threads started */
	uint64_t retired;       /* threads that exited */
} urio_exec_stats;

/* A pool that starts threads when every thread is busy (up to max_threads)
 * and retires them after keep_alive_ms idle. NULL with errno: EINVAL
 * (min_threads > max_threads), ENOMEM, EAGAIN. */
URIO_API urio_executor *urio_executor_new(const urio_executor_opts *o);
/* urio_offload on e. In a task, a full queue suspends the task until there
 * is room (cancellable); on a plain thread it blocks the thread, and so
 * does waiting for fn. Also -ESHUTDOWN while e is being freed. */
URIO_API intptr_t urio_executor_run(urio_executor *e, urio_fn fn, void *arg);
/* Queues fn(arg) on e and returns a future of its result (set to it, or
 * failed with it if negative); the caller owns the future's reference.
 * Cancelling the future before fn starts keeps fn from running. NULL with
 * errno as urio_executor_run's result. */
URIO_API urio_future *urio_executor_submit(urio_executor *e, urio_fn fn,
					   void *arg);
/* Changes e's thread limit (>= its min_threads). Returns 0 or -EINVAL. */
URIO_API int urio_executor_set_max(urio_executor *e, unsigned max_threads);
/* A consistent snapshot of e's counters. */
URIO_API void urio_executor_stats(urio_executor *e, urio_exec_stats *out);
/* Runs the jobs still queued, waits for every running one (abandoned ones
 * too), stops the threads, frees e; calls waiting for queue room get
 * -ESHUTDOWN. Blocks the calling thread, so call it once no task uses e
 * (or from a plain thread). e may be NULL. */
URIO_API void urio_executor_free(urio_executor *e);

/* The pool urio_offload uses, made on first use: max_threads from
 * URIO_OFFLOAD_MAX (default 64), freed at exit after waiting at most a
 * second for the functions still running (a call that blocks on, say one
 * whose task was cancelled, is left to end with the process; exit() from
 * inside an offloaded function does not wait for itself). NULL with errno
 * if it cannot be made. */
URIO_API urio_executor *urio_offload_executor(void);

/* --- task-local values ---------------------------------------------------
 * A key names one value per task. In a task, get and set its own value;
 * in a function run by urio_offload / urio_executor_run (also submit), get
 * reads the submitting task's values (read-only: set gives -EPERM). Values
 * are not inherited by spawned tasks. A key's destructor runs on each
 * non-NULL value when its task has returned and no offloaded call of it
 * still runs; a value replaced by set is not destroyed (pthread keys'
 * rule), but a call the task abandoned may still read it. */
#define URIO_LOCAL_KEYS 64

typedef unsigned urio_local_key; /* 0 is never a valid key */

/* Makes a key; dtor may be NULL. Returns 0, -EINVAL, or -EAGAIN when all
 * URIO_LOCAL_KEYS keys are taken (keys are never freed). */
URIO_API int urio_local_key_new(urio_local_key *k, void (*dtor)(void *));
/* Sets the calling task's value. Returns 0, -EINVAL (bad key), -EPERM (not
 * in a task), -ENOMEM. */
URIO_API int urio_local_set(urio_local_key k, void *v);
/* The caller's value, or NULL (unset, bad key, no task). */
URIO_API void *urio_local_get(urio_local_key k);

#ifdef __cplusplus
}
#endif
#endif
