/* Cancel scopes: deadlines and shields (Trio's model, asyncio's API).
 *
 * A task keeps a chain of the scopes it is inside, innermost first, on its
 * own stack. "Is this suspension cancelled?" walks the chain: a shield ends
 * the walk (not cancelled), a fired deadline cancels; past every scope, the
 * task-level flag set by urio_cancel decides.
 *
 * A deadline's timer lives in the heap of the worker where the scope was
 * entered, but the task may exit the scope on another worker, and heaps are
 * owner-only. So the timer is a small heap-allocated record shared by the
 * scope and the heap (two references): exit on the owner removes it at
 * once; exit elsewhere marks it dead and the owner drops it when it comes
 * due. Firing and exit race through one CAS on the record's state.
 *
 * The chain is only modified by the task while it runs (t->wait == NULL);
 * a timer firing on another thread reads it under the task lock only while
 * t->wait != NULL, i.e. while the task is parked, so the two never overlap. */
#include <errno.h>
#include <stdio.h>
#include <urio/scope.h>

#include "internal.h"

enum { KIND_DEADLINE = 1, KIND_SHIELD = 2 };
enum { ARMED, FIRED, DEAD };

struct deadline_rec {
	struct urio__wait timer; /* first: the heap holds &timer */
	_Atomic int state;
	_Atomic int refs;
	urio_task *task; /* a reference, for the firing side */
};

_Static_assert(sizeof(urio_deadline) >= 4 * sizeof(void *),
	       "urio_deadline layout");

uint64_t urio_now_ns(void)
{
	return urio__now_ns();
}

static void rec_unref(struct deadline_rec *r)
{
	/* acq_rel: the last owner frees what the other wrote */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
		urio__task_unref(r->task);
		free(r);
	}
}

bool urio__scopes_cancelled(urio_task *t)
{
	for (urio_deadline *d = t->scopes; d; d = d->outer) {
		if (d->kind == KIND_SHIELD)
			return false;
		struct deadline_rec *r = d->rec;
		if (r && atomic_load(&r->state) == FIRED)
			return true;
	}
	return atomic_load(&t->cancelled);
}

/* Runs on the owner worker when the deadline comes due. */
static void fire(struct urio__wait *w)
{
	struct deadline_rec *r = (struct deadline_rec *)w;
	int exp = ARMED;
	if (atomic_compare_exchange_strong(&r->state, &exp, FIRED))
		urio__cancel_current_wait(r->task);
	rec_unref(r);
}

static void enter(urio_deadline *d, uint64_t when)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *t = w ? w->cur : NULL;
	d->kind = KIND_DEADLINE;
	d->rec = NULL;
	d->err = 0;
	d->task = t;
	if (!t) {
		d->err = -EPERM;
		return;
	}
	struct deadline_rec *r = malloc(sizeof(*r));
	if (!r) {
		d->err = -ENOMEM;
	} else {
		r->task = t;
		atomic_fetch_add(&t->refs, 1);
		atomic_init(&r->refs, 2);
		atomic_init(&r->state, ARMED);
		r->timer.fire = fire;
		r->timer.when = when;
		r->timer.owner = w;
		r->timer.task = t;
		r->timer.heap_idx = SIZE_MAX;
		if (when <= urio__now_ns()) {
			atomic_store(&r->state, FIRED); /* already past */
			rec_unref(r);
		} else if (urio__timer_add(w, &r->timer) < 0) {
			d->err = -ENOMEM;
			rec_unref(r);
			rec_unref(r);
			r = NULL;
		}
		d->rec = r;
	}
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

/* Disarms d's timer; returns true if it had fired. */
static bool disarm(struct deadline_rec *r)
{
	int exp = ARMED;
	if (!atomic_compare_exchange_strong(&r->state, &exp, DEAD)) {
		rec_unref(r);
		return exp == FIRED;
	}
	struct urio__worker *w = urio__cur_worker();
	if (r->timer.owner == w && r->timer.heap_idx != SIZE_MAX) {
		urio__timer_del(w, &r->timer);
		rec_unref(r); /* the heap's reference */
	}
	rec_unref(r);
	return false;
}

int urio_timeout_exit(urio_deadline *d)
{
	urio_task *t = d->task;
	if (!t)
		return d->err;
	pop(t, d);
	if (!d->rec)
		return d->err;
	return disarm(d->rec) ? -ETIMEDOUT : 0;
}

/* A task that returns with scopes still open: disarm them, say so. */
void urio__scopes_abandon(urio_task *t)
{
	if (!t->scopes)
		return;
	fprintf(stderr, "urio: task '%s' (id %llu) returned inside a cancel "
			"scope; closing it\n",
		t->name, (unsigned long long)t->id);
	for (urio_deadline *d = t->scopes; d; d = d->outer)
		if (d->kind == KIND_DEADLINE && d->rec)
			disarm(d->rec);
	t->scopes = NULL;
}

void urio_shield_enter(urio_shield *s)
{
	urio_task *t = urio_self();
	s->scope.kind = KIND_SHIELD;
	s->scope.rec = NULL;
	s->scope.task = t;
	if (!t)
		return;
	s->scope.outer = t->scopes;
	t->scopes = &s->scope;
}

void urio_shield_exit(urio_shield *s)
{
	if (s->scope.task)
		pop(s->scope.task, &s->scope);
}

bool urio_cancelled(void)
{
	urio_task *t = urio_self();
	return t && urio__scopes_cancelled(t);
}
