/* Cancel scopes: deadlines and shields (Trio's model, asyncio's API).
 *
 * A task keeps a chain of the scopes it is inside, innermost first, on its
 * own stack. "Is this suspension cancelled?" walks the chain: a shield ends
 * the walk (not cancelled), a fired deadline cancels; past every scope, the
 * task-level flag set by urio_cancel decides.
 *
 * A deadline's timer lives in the heap of the worker where the scope was
 * entered, but the task may exit the scope on another worker, and heaps are
 * owner-only. So the timer is a small heap-allocated record, and firing and
 * exit race through one CAS on its state; whoever ends up last owns it:
 *   exit on the owner, ARMED -> DEAD: removes it from the heap, frees it;
 *   exit elsewhere, ARMED -> DEAD: leaves it; the owner frees it when due;
 *   firing, ARMED -> FIRING -> FIRED: cancels the wait; exit frees it,
 *   waiting out FIRING (a few instructions) so the task outlives the fire.
 * The timer is armed lazily, at the task's first suspension inside the
 * scope (urio__scopes_cancelled, which every suspension asks): a scope left
 * before one costs a clock read and a few stores. An armed scope that did
 * not fire costs one CAS on exit (same worker), never a syscall.
 *
 * The chain is only modified by the task while it runs (t->wait == NULL);
 * a timer firing on another thread reads it under the task lock only while
 * t->wait != NULL, i.e. while the task is parked, so the two never overlap.
 *
 * The scopes live in the task's frames, which are dead once its function
 * returns; a task that returns inside a scope must not have them read
 * then. So every armed timer is also linked from the task record
 * (t->deadlines): the exit path disarms those and never follows the
 * chain. */
#include <errno.h>
#include <stdio.h>
#include <urio/scope.h>

#include "internal.h"

enum { ARMED, FIRING, FIRED, DEAD };

struct deadline_rec {
	struct urio__wait timer; /* first: the heap holds &timer */
	_Atomic int state;
	/* the task's armed timers (t->deadlines), touched only by the task */
	struct deadline_rec *prev, *next;
};

_Static_assert(sizeof(urio_deadline) >= 4 * sizeof(void *),
	       "urio_deadline layout");

uint64_t urio_now_ns(void)
{
	return urio__now_ns();
}

static void fire(struct urio__wait *w);

/* Puts d's timer in the heap of the worker t runs on (or marks it fired). */
static void arm(urio_deadline *d, urio_task *t)
{
	struct urio__worker *w = urio__cur_worker();
	struct deadline_rec *r = urio__malloc(sizeof(*r));
	if (!r) {
		d->err = -ENOMEM;
		return;
	}
	atomic_init(&r->state, ARMED);
	r->timer.fire = fire;
	r->timer.when = d->when;
	r->timer.owner = w;
	r->timer.task = t;
	r->timer.heap_idx = SIZE_MAX;
	if (d->when <= urio__now_ns()) {
		atomic_store(&r->state, FIRED); /* already past */
	} else if (urio__timer_add(w, &r->timer) < 0) {
		d->err = -ENOMEM;
		free(r);
		return;
	}
	r->prev = NULL;
	r->next = t->deadlines;
	if (r->next)
		r->next->prev = r;
	t->deadlines = r;
	d->rec = r;
}

/* Others call this only while t is parked, after t's own call armed every
 * scope up to the first shield or fired one (no unarmed scope is seen). */
bool urio__scopes_cancelled(urio_task *t)
{
	for (urio_deadline *d = t->scopes; d; d = d->outer) {
		if (d->kind == URIO__SCOPE_SHIELD)
			return false;
		if (!d->rec && !d->err)
			arm(d, t);
		if (d->err)
			return true; /* no timer: the bound acts now, not never */
		struct deadline_rec *r = d->rec;
		if (r && atomic_load(&r->state) != ARMED)
			return true; /* DEAD only after exit, never seen here */
	}
	return atomic_load(&t->cancelled);
}

/* Runs on the owner worker when the deadline comes due. */
static void fire(struct urio__wait *w)
{
	struct deadline_rec *r = (struct deadline_rec *)w;
	int exp = ARMED;
	if (!atomic_compare_exchange_strong(&r->state, &exp, FIRING)) {
		free(r); /* exited on another worker: DEAD, ours to free */
		return;
	}
	urio__cancel_current_wait(r->timer.task);
	/* release pairs with the acquire load in disarm: after it, r and the
	 * task are no longer touched here */
	atomic_store_explicit(&r->state, FIRED, memory_order_release);
}

static void enter(urio_deadline *d, uint64_t when)
{
	if (!d)
		return;
	struct urio__worker *w = urio__cur_worker();
	urio_task *t = w ? w->cur : NULL;
	d->kind = URIO__SCOPE_DEADLINE;
	d->rec = NULL;
	d->err = t ? 0 : -EPERM;
	d->task = t;
	d->when = when;
	if (!t)
		return;
	d->outer = t->scopes;
	t->scopes = d;
}

void urio_timeout_enter(urio_deadline *d, uint64_t ms)
{
	uint64_t now = urio__now_ns();
	uint64_t ns = ms > UINT64_MAX / 1000000 ? UINT64_MAX : ms * 1000000;
	enter(d, ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

void urio_timeout_enter_at(urio_deadline *d, uint64_t deadline_ns)
{
	enter(d, deadline_ns);
}

static void pop(urio_task *t, urio_deadline *d)
{
	if (t->scopes != d) {
		fprintf(stderr, "urio: task '%s' (id %llu) exited a cancel scope "
				"that is not its innermost one\n",
			t->name, (unsigned long long)t->id);
		abort();
	}
	t->scopes = d->outer;
}

/* Disarms t's timer r; returns true if it had fired. */
static bool disarm(urio_task *t, struct deadline_rec *r)
{
	/* read before the CAS: once DEAD, an owner on another thread may
	 * find it due and free r */
	struct urio__worker *owner = r->timer.owner;
	if (r->prev)
		r->prev->next = r->next;
	else
		t->deadlines = r->next;
	if (r->next)
		r->next->prev = r->prev;
	int exp = ARMED;
	if (!atomic_compare_exchange_strong(&r->state, &exp, DEAD)) {
		/* fired: wait until the firing side is done with r */
		while (atomic_load_explicit(&r->state, memory_order_acquire) ==
		       FIRING)
			urio__cpu_relax();
		free(r);
		return true;
	}
	struct urio__worker *w = urio__cur_worker();
	if (owner == w) {
		urio__timer_del(w, &r->timer);
		free(r);
	} /* else the owner frees it when it comes due */
	return false;
}

int urio_timeout_exit(urio_deadline *d)
{
	if (!d)
		return -EINVAL;
	urio_task *t = d->task;
	if (!t)
		return d->err;
	pop(t, d);
	if (!d->rec)
		return d->err;
	return disarm(t, d->rec) ? -ETIMEDOUT : 0;
}

/* A task that returned with scopes still open: say so, disarm their
 * timers from the task's own list (the scopes were in frames that are
 * dead now: never read them). */
void urio__scopes_abandon(urio_task *t)
{
	if (!t->scopes)
		return;
	fprintf(stderr, "urio: task '%s' (id %llu) returned inside a cancel "
			"scope; closing it (urio_timeout_exit or "
			"urio_shield_exit is missing; URIO_TIMEOUT cannot "
			"miss it)\n",
		t->name, (unsigned long long)t->id);
	t->scopes = NULL;
	while (t->deadlines)
		disarm(t, t->deadlines);
}

void urio_shield_enter(urio_shield *s)
{
	if (!s)
		return;
	urio_task *t = urio_self();
	s->scope.kind = URIO__SCOPE_SHIELD;
	s->scope.rec = NULL;
	s->scope.task = t;
	if (!t)
		return;
	s->scope.outer = t->scopes;
	t->scopes = &s->scope;
}

void urio_shield_exit(urio_shield *s)
{
	if (s && s->scope.task)
		pop(s->scope.task, &s->scope);
}

bool urio_cancelled(void)
{
	urio_task *t = urio_self();
	return t && urio__scopes_cancelled(t);
}
