/* Task groups, gather, as_completed, wait-for-first.
 *
 * A group's handle (urio_group) lives on its owner's stack, but what the
 * children and cancellers share lives in a heap record, the core, made at
 * the first spawn and freed by urio_group_wait: an owner that returns
 * without waiting leaves its frame dead, and the runtime must then cancel
 * and reap the children from the owner's list of cores without reading
 * that frame (urio__groups_abandon). Children link into the core twice: in
 * spawn order (for gather's results and for cancelling) and, once done, in
 * completion order (for as_completed). The core holds each child's handle
 * reference until the wait frees it. A child's finish runs on the scheduler
 * of whichever worker ran it: it records the result, cancels the siblings
 * on the first failure and wakes the owner if it waits.
 *
 * Lock order: the handle's lock, a task's lock, a core's lock, a child's
 * lock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <urio/group.h>

#include "internal.h"

struct urio__gcore {
	int lock;
	urio_task *owner;
	struct urio__gcore *next_owned; /* owner->groups, under its lock */
	urio_task *head, *tail;           /* children in spawn order */
	urio_task *done_head, *done_tail; /* finished, not yet taken by _next */
	struct urio__wait *waiter;
	unsigned spawned, running;
	int first_err;
	unsigned nerrors;
	int errors[URIO_GROUP_ERRORS];
	bool cancelled;
};

static void spin_lock(int *l)
{
	/* acquire pairs with the release in spin_unlock */
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		urio__cpu_relax();
}

static void spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static void glock(struct urio__gcore *c)
{
	spin_lock(&c->lock);
}

static void gunlock(struct urio__gcore *c)
{
	spin_unlock(&c->lock);
}

static void gunlock_cb(void *c)
{
	gunlock(c);
}

void urio_group_init(urio_group *g)
{
	if (g)
		*g = (urio_group){0};
}

/* With c locked: cancel every child still running. */
static void cancel_children(struct urio__gcore *c)
{
	c->cancelled = true;
	for (urio_task *t = c->head; t; t = t->gnext)
		if (!t->gdone)
			urio_cancel(t);
}

static void core_cancel(struct urio__gcore *c)
{
	glock(c);
	cancel_children(c);
	gunlock(c);
}

void urio_group_cancel(urio_group *g)
{
	if (!g)
		return;
	spin_lock(&g->lock);
	g->cancelled = true;
	if (g->core)
		core_cancel(g->core);
	spin_unlock(&g->lock);
}

/* Called by urio_cancel(owner) with the owner's lock held. */
void urio__groups_cancel(urio_task *owner)
{
	for (struct urio__gcore *c = owner->groups; c; c = c->next_owned)
		core_cancel(c);
}

static void adopt(struct urio__gcore *c, urio_task *me)
{
	urio__task_lock(me);
	c->next_owned = me->groups;
	me->groups = c;
	urio__task_unlock(me);
}

static void disown(struct urio__gcore *c)
{
	urio_task *me = c->owner;
	urio__task_lock(me);
	for (struct urio__gcore **pp = &me->groups; *pp;
	     pp = &(*pp)->next_owned)
		if (*pp == c) {
			*pp = c->next_owned;
			break;
		}
	urio__task_unlock(me);
}

/* Makes c g's core, at its first spawn, from what g kept of earlier
 * rounds. */
static void core_start(urio_group *g, struct urio__gcore *c, urio_task *me)
{
	c->owner = me;
	adopt(c, me);
	spin_lock(&g->lock);
	c->spawned = g->spawned;
	c->cancelled = g->cancelled;
	c->first_err = g->first_err;
	c->nerrors = g->nerrors;
	memcpy(c->errors, g->errors, sizeof(c->errors));
	g->core = c;
	spin_unlock(&g->lock);
}

/* The owner is done with c: g keeps what later rounds and
 * urio_group_errors need, and c goes. */
static void core_free(urio_group *g, struct urio__gcore *c)
{
	spin_lock(&g->lock);
	g->core = NULL;
	g->spawned = c->spawned;
	g->cancelled = c->cancelled;
	g->first_err = c->first_err;
	g->nerrors = c->nerrors;
	memcpy(g->errors, c->errors, sizeof(g->errors));
	spin_unlock(&g->lock);
	free(c);
}

urio_task *urio_group_spawn(urio_group *g, urio_fn fn, void *arg)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *me = w ? w->cur : NULL;
	if (!g || !me) {
		errno = g ? EPERM : EINVAL;
		return NULL;
	}
	/* only the owner sets g->core, so its own reads need no lock */
	struct urio__gcore *c = __atomic_load_n(&g->core, __ATOMIC_RELAXED);
	if (c && c->owner != me) {
		errno = EPERM; /* a group belongs to the task that spawns into it */
		return NULL;
	}
	struct urio__gcore *made = NULL;
	if (!c && !(c = made = urio__calloc(1, sizeof(*c))))
		return NULL;
	urio_task *t = urio__task_new(w->rt, w, fn, arg, 0);
	if (!t) {
		int err = errno;
		free(made);
		errno = err;
		return NULL;
	}
	if (made)
		core_start(g, made, me);
	atomic_store(&t->handle, URIO__H_GROUP);
	t->group = c;
	glock(c);
	t->gindex = c->spawned++;
	c->running++;
	if (c->tail)
		c->tail->gnext = t;
	else
		c->head = t;
	c->tail = t;
	if (c->cancelled || urio__scopes_cancelled(me))
		atomic_store(&t->cancelled, true);
	gunlock(c);
	urio__ready(t, false);
	return t;
}

/* Runs on the scheduler after child t returned. */
void urio__group_child_done(urio_task *t)
{
	struct urio__gcore *c = t->group;
	glock(c);
	c->running--;
	t->gdone = true;
	intptr_t r = t->result;
	bool quiet = r == -ECANCELED && (c->cancelled || t->cancelled);
	if (r < 0 && !quiet) {
		if (c->nerrors < URIO_GROUP_ERRORS)
			c->errors[c->nerrors] = (int)r;
		if (c->nerrors++ == 0) {
			c->first_err = (int)r;
			cancel_children(c);
		}
	}
	if (c->done_tail)
		c->done_tail->gdone_next = t;
	else
		c->done_head = t;
	c->done_tail = t;
	struct urio__wait *w = c->waiter;
	if (w) {
		c->waiter = NULL;
		urio__ready(w->task, true);
	}
	gunlock(c);
}

static void wait_cancel(struct urio__wait *w)
{
	core_cancel(w->cancel_arg);
}

/* Suspends until a child finishes (or none runs). A cancelled caller
 * cancels the group and keeps waiting: children never outlive it. Sets
 * *cancelled if the caller was cancelled. */
static void wait_child(struct urio__gcore *c, bool *cancelled)
{
	struct urio__wait w = {.what = "group", .fd = -1};
	w.cancel = *cancelled ? NULL : wait_cancel;
	w.cancel_arg = c;
	if (urio__wait_begin(&w, URIO__WAIT_OTHER) < 0) {
		*cancelled = true;
		core_cancel(c);
		w.cancel = NULL;
		urio__wait_begin(&w, URIO__WAIT_OTHER);
	}
	glock(c);
	if (!c->done_head && c->running) {
		c->waiter = &w;
		urio__wait_end(&w, gunlock_cb, c);
	} else {
		gunlock(c);
		urio__wait_abort(&w);
	}
}

/* Waits for every child of c, drops them and c's place in its owner's
 * list. Returns true if the caller was cancelled meanwhile. */
static bool core_wait(struct urio__gcore *c)
{
	bool cancelled = false;
	for (;;) {
		glock(c);
		unsigned running = c->running;
		c->done_head = c->done_tail = NULL; /* not needed any more */
		gunlock(c);
		if (!running)
			break;
		wait_child(c, &cancelled);
	}
	disown(c);
	for (urio_task *t = c->head, *next; t; t = next) {
		next = t->gnext;
		urio__task_unref(t);
	}
	c->head = c->tail = NULL;
	return cancelled;
}

int urio_group_wait(urio_group *g)
{
	if (!g)
		return -EINVAL;
	struct urio__gcore *c = g->core;
	if (!c)
		return 0; /* nothing was spawned */
	if (c->owner != urio_self())
		return -EPERM;
	bool cancelled = core_wait(c);
	core_free(g, c);
	if (g->first_err)
		return g->first_err;
	/* cancelled while parked: the group was cancelled through wait_cancel */
	return cancelled || urio_cancelled() ? -ECANCELED : 0;
}

unsigned urio_group_errors(const urio_group *cg, int *errs, unsigned max)
{
	if (!cg)
		return 0;
	urio_group *g = (urio_group *)cg; /* locked, not changed */
	spin_lock(&g->lock);
	struct urio__gcore *c = g->core;
	if (c)
		glock(c);
	unsigned total = c ? c->nerrors : g->nerrors;
	const int *src = c ? c->errors : g->errors;
	unsigned n = total < URIO_GROUP_ERRORS ? total : URIO_GROUP_ERRORS;
	for (unsigned i = 0; errs && i < n && i < max; i++)
		errs[i] = src[i];
	if (c)
		gunlock(c);
	spin_unlock(&g->lock);
	return total;
}

int urio_group_next(urio_group *g, intptr_t *result, size_t *index)
{
	if (!g)
		return -EINVAL;
	struct urio__gcore *c = g->core;
	if (!c)
		return 0; /* nothing runs */
	if (c->owner != urio_self())
		return -EPERM;
	bool cancelled = false;
	for (;;) {
		glock(c);
		urio_task *t = c->done_head;
		if (t) {
			c->done_head = t->gdone_next;
			if (!c->done_head)
				c->done_tail = NULL;
		}
		unsigned running = c->running;
		gunlock(c);
		if (t) {
			if (result)
				*result = t->result;
			if (index)
				*index = t->gindex;
			return 1;
		}
		if (!running)
			return cancelled ? -ECANCELED : 0;
		if (cancelled)
			return -ECANCELED;
		wait_child(c, &cancelled);
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
	urio_task *head = NULL;
	struct urio__gcore *c = g.core;
	if (c) {
		glock(c);
		head = c->head;
		gunlock(c);
	}
	for (urio_task *t = head; t; t = t->gnext)
		atomic_fetch_add(&t->refs, 1);
	r = urio_group_wait(&g);
	for (urio_task *t = head, *next; t; t = next) {
		next = t->gnext;
		results[t->gindex] = t->result;
		urio__task_unref(t);
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

/* A task that returned with groups it never waited for: say so, cancel
 * and reap their children. The groups' handles were in frames that are
 * dead now: only the cores, listed in the task, are touched. */
void urio__groups_abandon(urio_task *t)
{
	if (!t->groups)
		return;
	fprintf(stderr, "urio: task '%s' (id %llu) returned without waiting "
			"for its group; cancelling and reaping the children "
			"(urio_group_wait is missing; URIO_GROUP cannot miss "
			"it)\n",
		t->name, (unsigned long long)t->id);
	while (t->groups) {
		struct urio__gcore *c = t->groups;
		core_cancel(c);
		core_wait(c);
		free(c);
	}
}
