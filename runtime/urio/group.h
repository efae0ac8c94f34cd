/* Structured concurrency: task groups (asyncio.TaskGroup, Trio nurseries),
 * gather, as_completed and wait-for-first.
 *
 * Children of a group cannot outlive it: urio_group_wait waits for all of
 * them. The first child that fails (returns < 0, other than -ECANCELED
 * after the group was cancelled) cancels its siblings; cancelling the task
 * that owns the group cancels the group. Every failure is kept (the
 * ExceptionGroup equivalent): see urio_group_errors. */
#ifndef URIO_GROUP_H
#define URIO_GROUP_H

#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

#define URIO_GROUP_ERRORS 8

typedef struct urio_group {
	/* private: */
	void *owner;
	void *head, *tail;           /* children in spawn order */
	void *done_head, *done_tail; /* finished, not yet taken by _next */
	void *waiter;
	struct urio_group *next_owned;
	unsigned spawned, running;
	int first_err;
	unsigned nerrors;
	int errors[URIO_GROUP_ERRORS];
	int lock;
	bool cancelled;
} urio_group;

/* Prepares g (on the caller's stack) for the calling task. */
URIO_API void urio_group_init(urio_group *g);
/* Spawns fn(arg) as a child of g. The group owns the task: do not join or
 * detach it. NULL with errno as urio_spawn. */
URIO_API urio_task *urio_group_spawn(urio_group *g, urio_fn fn, void *arg);
/* Waits for every child, frees them. Returns 0, the first failing child's
 * result, or -ECANCELED if the caller was cancelled (the children were
 * cancelled and waited for). g may then be used again. */
URIO_API int urio_group_wait(urio_group *g);
/* Cancels every child still running; later spawns start cancelled. */
URIO_API void urio_group_cancel(urio_group *g);
/* Copies up to max child failures, in completion order, into errs; returns
 * how many children failed (may exceed what is stored: URIO_GROUP_ERRORS). */
URIO_API unsigned urio_group_errors(const urio_group *g, int *errs,
				    unsigned max);
/* as_completed: stores the next finished child's result and spawn index
 * (index may be NULL). Returns 1, 0 once every child was returned, or
 * -ECANCELED if the caller is cancelled. */
URIO_API int urio_group_next(urio_group *g, intptr_t *result, size_t *index);

/* Runs fns[i](args[i]) concurrently as a group; results[i] gets each
 * result in input order. Returns 0 or the first failure (which cancelled
 * the rest). args may be NULL. */
URIO_API int urio_gather(size_t n, const urio_fn *fns, void *const *args,
			 intptr_t *results);
/* Runs them concurrently and returns with the first to finish: its result
 * and index. The others are cancelled and waited for. Returns 0 or -errno. */
URIO_API int urio_wait_first(size_t n, const urio_fn *fns, void *const *args,
			     intptr_t *result, size_t *index);

#ifdef __cplusplus
}
#endif
#endif
