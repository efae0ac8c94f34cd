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
	void *core; /* what the children share, on the heap while they run */
	int lock;   /* guards core against cancellers */
	bool cancelled;
	unsigned spawned;
	int first_err;
	unsigned nerrors;
	int errors[URIO_GROUP_ERRORS];
} urio_group;

/* Prepares g (on the caller's stack) for the calling task (NULL: does
 * nothing). Prefer the block form URIO_GROUP below: it cannot be left
 * without the wait. A task that returns without waiting is reported on
 * stderr by name, and the children are cancelled and waited for. */
URIO_API void urio_group_init(urio_group *g);
/* Spawns fn(arg) as a child of g. The group owns the task: do not join or
 * detach it. NULL with errno as urio_spawn. */
URIO_API urio_task *urio_group_spawn(urio_group *g, urio_fn fn, void *arg);
/* Waits for every child, frees them. Returns 0, the first failing child's
 * result, or -ECANCELED if the caller was cancelled (the children were
 * cancelled and waited for). g may then be used again. */
URIO_API int urio_group_wait(urio_group *g);
/* Cancels every child still running; later spawns start cancelled (g NULL:
 * does nothing). */
URIO_API void urio_group_cancel(urio_group *g);
/* Copies up to max child failures, in completion order, into errs; returns
 * how many children failed (may exceed what is stored: URIO_GROUP_ERRORS).
 * g NULL: 0; errs NULL: nothing is copied. */
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

/* --- block form -------------------------------------------------------------
 * URIO_GROUP(g, err) { block }: in the block, g is a fresh urio_group *;
 * however the block is left (its end, break, continue, return, goto) the
 * children are waited for, and err, an int lvalue, gets urio_group_wait's
 * result. A return from the block waits too: urio_group_cancel(g) first
 * to leave without waiting for the children to finish on their own. */
typedef struct urio_group_scope {
	/* private: */
	urio_group group;
	int *err;
	int step;
} urio_group_scope;

static inline void urio__group_scope_end(urio_group_scope *s)
{
	if (s->step == 1) {
		int r = urio_group_wait(&s->group);
		if (s->err)
			*s->err = r;
	}
	s->step = 2;
}

/* First call: starts the group (the block runs); second: waits (the loop
 * ends). */
static inline bool urio__group_scope_step(urio_group_scope *s)
{
	if (s->step == 0) {
		urio_group_init(&s->group);
		s->step = 1;
		return true;
	}
	urio__group_scope_end(s);
	return false;
}

#ifndef URIO__CAT
#define URIO__CAT2(a, b) a##b
#define URIO__CAT(a, b) URIO__CAT2(a, b)
#endif

#define URIO_GROUP(g, err)                                                   \
	for (urio_group_scope URIO__CAT(urio_gs_, __LINE__)                   \
		     __attribute__((cleanup(urio__group_scope_end))) = {      \
			     {0, 0, 0, 0, 0, 0, {0}}, &(err), 0};             \
	     urio__group_scope_step(&URIO__CAT(urio_gs_, __LINE__));)         \
		for (urio_group *g = &URIO__CAT(urio_gs_, __LINE__).group; g; \
		     g = 0)

#ifdef __cplusplus
}
#endif
#endif
