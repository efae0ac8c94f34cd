/* Task groups, gather, as_completed, wait-for-first.
 *
 * A group lives on its owner's stack. Children link into it twice: in
 * spawn order (for gather's results and for cancelling) and, once done, in
 * completion order (for as_completed). The group holds each child's handle
 * reference until urio_group_wait frees it. A child's finish runs on the
 * scheduler of whichever worker ran it: it records the result, cancels the
 * siblings on the first failure and wakes the owner if it waits.
 *
 * Lock order: a task's lock, then a group's, then a child's. */
#include <errno.h>
#include <stdio.h>
#include <urio/group.h>

#include "internal.h"

static void glock(urio_group *g)
{
	/* acquire pairs with the release in gunlock */
	while (__atomic_exchange_n(&g->lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void gunlock(urio_group *g)
{
	__atomic_store_n(&g->lock, 0, __ATOMIC_RELEASE);
}

static void gunlock_cb(void *g)
{
	gunlock(g);
}

void urio_group_init(urio_group *g)
{
	*g = (urio_group){0};
}

/* With g locked: cancel every child still running. */
static void cancel_children(urio_group *g)
{
	g->cancelled = true;
	for (urio_task *c = g->head; c; c = c->gnext)
		if (!c->gdone)
			urio_cancel(c);
}

void urio_group_cancel(urio_group *g)
{
	glock(g);
	cancel_children(g);
	gunlock(g);
}

/* Called by urio_cancel(owner) with the owner's lock held. */
void urio__groups_cancel(urio_task *owner)
{
	for (urio_group *g = owner->groups; g; g = g->next_owned)
		urio_group_cancel(g);
}

static void adopt(urio_group *g, urio_task *me)
{
	g->owner = me;
	urio__task_lock(me);
	g->next_owned = me->groups;
	me->groups = g;
	urio__task_unlock(me);
}

static void disown(urio_group *g)
{
	urio_task *me = g->owner;
	urio__task_lock(me);
	for (urio_group **pp = &me->groups; *pp; pp = &(*pp)->next_owned)
		if (*pp == g) {
			*pp = g->next_owned;
			break;
		}
	urio__task_unlock(me);
	g->owner = NULL;
}

urio_task *urio_group_spawn(urio_group *g, urio_fn fn, void *arg)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *me = w ? w->cur : NULL;
	if (!g || !me) {
		errno = g ? EPERM : EINVAL;
		return NULL;
	}
	if (g->owner && g->owner != me) {
		errno = EPERM; /* a group belongs to the task that spawns into it */
		return NULL;
	}
	urio_task *t = urio__task_new(w->rt, w, fn, arg, 0);
	if (!t)
		return NULL;
	if (!g->owner)
		adopt(g, me);
	t->group = g;
	glock(g);
	t->gindex = g->spawned++;
	g->running++;
	if (g->tail)
		((urio_task *)g->tail)->gnext = t;
	else
		g->head = t;
	g->tail = t;
	if (g->cancelled || urio__scopes_cancelled(me))
		atomic_store(&t->cancelled, true);
	gunlock(g);
	urio__ready(t, false);
	return t;
}

/* Runs on the scheduler after child t returned. */
void urio__group_child_done(urio_task *t)
{
	urio_group *g = t->group;
	glock(g);
	g->running--;
	t->gdone = true;
	intptr_t r = t->result;
	bool quiet = r == -ECANCELED && (g->cancelled || t->cancelled);
	if (r < 0 && !quiet) {
		if (g->nerrors < URIO_GROUP_ERRORS)
			g->errors[g->nerrors] = (int)r;
		if (g->nerrors++ == 0) {
			g->first_err = (int)r;
			cancel_children(g);
		}
	}
	if (g->done_tail)
		((urio_task *)g->done_tail)->gdone_next = t;
	else
		g->done_head = t;
	g->done_tail = t;
	struct urio__wait *w = g->waiter;
	if (w) {
		g->waiter = NULL;
		urio__ready(w->task, true);
	}
	gunlock(g);
}

static void wait_cancel(struct urio__wait *w)
{
	urio_group_cancel(w->cancel_arg);
}

/* Suspends until a child finishes (or none runs). A cancelled caller
 * cancels the group and keeps waiting: children never outlive it.
 * Returns -ECANCELED if the caller was cancelled, else 0. */
static int wait_child(urio_group *g, bool *cancelled)
{
	struct urio__wait w = {.what = "group", .fd = -1};
	w.cancel = *cancelled ? NULL : wait_cancel;
	w.cancel_arg = g;
	if (urio__wait_begin(&w, URIO__WAIT_OTHER) < 0) {
		*cancelled = true;
		urio_group_cancel(g);
		w.cancel = NULL;
		urio__wait_begin(&w, URIO__WAIT_OTHER);
	}
	glock(g);
	if (!g->done_head && g->running) {
		g->waiter = &w;
		urio__wait_end(&w, gunlock_cb, g);
	} else {
		gunlock(g);
		urio__wait_abort(&w);
	}
	return 0;
}

int urio_group_wait(urio_group *g)
{
	if (!g)
		return -EINVAL;
	if (!g->owner)
		return 0; /* nothing was spawned */
	if (g->owner != urio_self())
		return -EPERM;
	bool cancelled = false;
	for (;;) {
		glock(g);
		unsigned running = g->running;
		g->done_head = g->done_tail = NULL; /* not needed any more */
		gunlock(g);
		if (!running)
			break;
		wait_child(g, &cancelled);
	}
	disown(g);
	for (urio_task *c = g->head, *next; c; c = next) {
		next = c->gnext;
		urio__task_unref(c);
	}
	g->head = g->tail = NULL;
	if (g->first_err)
		return g->first_err;
	/* cancelled while parked: the group was cancelled through wait_cancel */
	return cancelled || urio_cancelled() ? -ECANCELED : 0;
}

unsigned urio_group_errors(const urio_group *g, int *errs, unsigned max)
{
	unsigned n = g->nerrors < URIO_GROUP_ERRORS ? g->nerrors
						    : URIO_GROUP_ERRORS;
	for (unsigned i = 0; i < n && i < max; i++)
		errs[i] = g->errors[i];
	return g->nerrors;
}

int urio_group_next(urio_group *g, intptr_t *result, size_t *index)
{
	if (!g)
		return -EINVAL;
	if (g->owner && g->owner != urio_self())
		return -EPERM;
	bool cancelled = false;
	for (;;) {
		glock(g);
		urio_task *t = g->done_head;
		if (t) {
			g->done_head = t->gdone_next;
			if (!g->done_head)
				g->done_tail = NULL;
		}
		unsigned running = g->running;
		gunlock(g);
		if (t) {
			if (result)
				*result = t->result;
			if (index)
				*index = t->gindex;
			return 1;
		}
		if (!running || !g->owner)
			return cancelled ? -ECANCELED : 0;
		if (cancelled)
			return -ECANCELED;
		wait_child(g, &cancelled);
	}
}

static int spawn_all(urio_group *g, size_t n, const urio_fn *fns,
		     void *const *args)
{
	for (size_t i = 0; i < n; i++) {
		if (!urio_group_spawn(g, fns[i], args ? args[i] : NULL)) {
			int err = -errno;
			urio_group_cancel(g);
			urio_group_wait(g);
			return err;
		}
	}
	return 0;
}

int urio_gather(size_t n, const urio_fn *fns, void *const *args,
		intptr_t *results)
{
	if ((!fns || !results) && n)
		return -EINVAL;
	urio_group g;
	urio_group_init(&g);
	int r = spawn_all(&g, n, fns, args);
	if (r < 0)
		return r;
	/* copy before wait frees the children */
	glock(&g);
	urio_task *head = g.head;
	gunlock(&g);
	for (urio_task *c = head; c; c = c->gnext)
		atomic_fetch_add(&c->refs, 1);
	r = urio_group_wait(&g);
	for (urio_task *c = head, *next; c; c = next) {
		next = c->gnext;
		results[c->gindex] = c->result;
		urio__task_unref(c);
	}
	return r;
}

int urio_wait_first(size_t n, const urio_fn *fns, void *const *args,
		    intptr_t *result, size_t *index)
{
	if (!fns || !n)
		return -EINVAL;
	urio_group g;
	urio_group_init(&g);
	int r = spawn_all(&g, n, fns, args);
	if (r < 0)
		return r;
	intptr_t res = 0;
	size_t idx = 0;
	r = urio_group_next(&g, &res, &idx);
	urio_group_cancel(&g);
	urio_group_wait(&g);
	if (r < 0)
		return r;
	if (result)
		*result = res;
	if (index)
		*index = idx;
	return 0;
}

/* A task that returns with groups still open: wait for them anyway. */
void urio__groups_abandon(urio_task *t)
{
	while (t->groups) {
		fprintf(stderr, "urio: task '%s' (id %llu) returned without "
				"waiting for its group; cancelling it\n",
			t->name, (unsigned long long)t->id);
		urio_group *g = t->groups;
		urio_group_cancel(g);
		urio_group_wait(g);
	}
}
