/* urio runtime: coroutines (tasks) scheduled across per-worker io_uring rings.
 *
 * Every function returns >= 0 on success or -errno, unless it says otherwise.
 * Constructors return a pointer, or NULL with errno set; one that suspends
 * sets it after its last suspension, on the thread the task resumed on.
 * Read it with urio_errno() in a task: see there. */
#ifndef URIO_RUNTIME_H
#define URIO_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define URIO_API __attribute__((visibility("default")))

/* A task's body. A negative result is a failure (-errno). */
typedef intptr_t (*urio_fn)(void *arg);

typedef struct urio_rt urio_rt;
typedef struct urio_task urio_task;

/* Runtime configuration. A zeroed struct means all defaults. */
typedef struct urio_config {
	unsigned workers;      /* 0 = one per CPU in the affinity mask */
	size_t stack_size;     /* per-task stack; 0 = 256 KiB (lazily committed) */
	unsigned ring_entries; /* SQ entries per worker ring; 0 = 256 */
	unsigned flags;        /* URIO_CFG_* */
	/* Report a task that runs this long without suspending (it holds up
	 * its worker's timers and completions); 0 = 1000 ms. Also
	 * URIO_WATCHDOG_MS=n (0 = off), which overrides it. */
	unsigned watchdog_ms;
	/* How long urio_rt_free waits for tasks to finish once cancelled;
	 * 0 = 10 s. A task stuck in a call that ignores cancellation (a
	 * blocking syscall, a loop) is then reported and left running. */
	unsigned shutdown_ms;
} urio_config;

/* Do not use IORING_SETUP_DEFER_TASKRUN / SINGLE_ISSUER / COOP_TASKRUN even
 * when the kernel has them (for comparison and tests of the fallback). */
#define URIO_CFG_PLAIN_RING (1u << 0)
/* Wake idle workers through an eventfd even when MSG_RING is available. */
#define URIO_CFG_EVENTFD_WAKE (1u << 1)
/* Serve urio-ps on /tmp/urio-<pid>.sock (also URIO_INTROSPECT=1). */
#define URIO_CFG_INTROSPECT (1u << 2)
/* Do not use io_uring: poll(2) for sockets and pipes, blocking calls for
 * files. Chosen by itself when io_uring is missing; also URIO_BACKEND=poll. */
#define URIO_CFG_NO_RING (1u << 3)
/* No stuck-task watchdog thread (see watchdog_ms). */
#define URIO_CFG_NO_WATCHDOG (1u << 4)

/* Runs main(arg) as a task on a new runtime and returns when it returns.
 * Tasks still alive then are cancelled and waited for. *result (may be NULL)
 * gets main's result. Returns 0, or -errno if the runtime cannot start. */
URIO_API int urio_run(const urio_config *cfg, urio_fn main, void *arg,
		      intptr_t *result);

/* Starts the workers of a runtime that outlives several block_on calls.
 * Returns NULL with errno set on failure. */
URIO_API urio_rt *urio_rt_new(const urio_config *cfg);
/* Runs fn(arg) as a task on rt and blocks the calling (non-runtime) thread
 * until it returns. Returns 0, -EINVAL, -EDEADLK from inside a task. */
URIO_API int urio_rt_block_on(urio_rt *rt, urio_fn fn, void *arg,
			      intptr_t *result);
/* Spawns fn(arg) on rt from any thread, including ones rt does not own. */
URIO_API urio_task *urio_rt_spawn(urio_rt *rt, urio_fn fn, void *arg);
/* Cancels every live task, waits for them, stops the workers, frees rt.
 * Returns within urio_config.shutdown_ms (plus a little): tasks still
 * running then (stuck in calls that ignore cancellation) are named on
 * stderr, and their workers are left to free rt once they return. From a
 * task or worker of rt itself it would wait for itself: it says so on
 * stderr and returns without doing anything. */
URIO_API void urio_rt_free(urio_rt *rt);
/* Number of worker threads of rt. */
URIO_API unsigned urio_rt_workers(const urio_rt *rt);

/* Spawns fn(arg) on the caller's runtime (call from a task). The handle must
 * be joined or detached. NULL with errno: EINVAL, EPERM (not in a task),
 * ENOMEM / EAGAIN (no memory or mappings for a stack). */
URIO_API urio_task *urio_spawn(urio_fn fn, void *arg);
/* Like urio_spawn, with a stack of stack_size bytes (0 = runtime default;
 * below 16 KiB: NULL, errno EINVAL). */
URIO_API urio_task *urio_spawn_ex(urio_fn fn, void *arg, size_t stack_size);
/* Waits for t, stores its result, frees t. Returns 0, or -ECANCELED if t was
 * cancelled (or the caller was: t is then cancelled and waited for too).
 * -EINVAL if t's handle is taken: another join is waiting for it (from a
 * task or a thread), it was detached, or a group owns it. Once a join has
 * returned, t is freed: joining it again is a use after free (ASan sees
 * it; the runtime cannot). */
URIO_API int urio_join(urio_task *t, intptr_t *result);
/* Lets t run to completion on its own; it frees itself. Ignored when t's
 * handle is taken (joined, detached, a group's child). */
URIO_API void urio_detach(urio_task *t);
/* Requests cancellation of t from any thread: the op it waits in is
 * cancelled and every later suspension of t fails with -ECANCELED.
 * Returns 0, or -EALREADY if t has already finished. */
URIO_API int urio_cancel(urio_task *t);
/* True once t's function has returned. */
URIO_API bool urio_task_done(const urio_task *t);
/* Names t (copied, truncated to 31 bytes) for reports and urio-ps. */
URIO_API void urio_task_set_name(urio_task *t, const char *name);
URIO_API const char *urio_task_name(const urio_task *t);
/* Process-unique id of t (1, 2, ...). */
URIO_API uint64_t urio_task_id(const urio_task *t);
/* The calling task, or NULL outside a task. */
URIO_API urio_task *urio_self(void);
/* Index of the worker running the caller, or -1 outside the runtime. */
URIO_API int urio_worker_index(void);
/* errno of the thread running the caller. A task may resume on another
 * thread, and glibc lets the compiler keep errno's address across calls,
 * so after a call that may suspend read errno with this, not directly. */
URIO_API int urio_errno(void);

/* Lets other runnable tasks run; returns when the caller is scheduled again. */
URIO_API void urio_yield(void);
/* Suspends the calling task. Returns 0, or -ECANCELED. */
URIO_API int urio_sleep_ms(uint64_t ms);
URIO_API int urio_sleep_ns(uint64_t ns);

/* Counters of a runtime, summed over workers. */
typedef struct urio_stats {
	uint64_t spawned, finished, steals, stolen_tasks, parks, wakes_sent;
	uint64_t submits, ops, cq_overflow_flushes, live_tasks;
	uint64_t stuck_reports; /* tasks the watchdog found running too long */
	unsigned workers;
	unsigned ring_flags; /* IORING_SETUP_* flags the rings were made with */
	bool msg_ring_wake;  /* cross-worker wake uses IORING_OP_MSG_RING */
	bool guard_madvise;  /* stack guards use MADV_GUARD_INSTALL */
	const char *backend; /* "io_uring" or "poll" */
} urio_stats;
/* out NULL: does nothing; rt NULL: *out zeroed. */
URIO_API void urio_rt_stats(urio_rt *rt, urio_stats *out);
/* Prints the kernel features urio probed and the choices it made. */
URIO_API void urio_print_features(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
