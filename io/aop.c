/* Async reads with a record outside the stack (see aop.h).
 *
 * The record's state moves INFLIGHT -> DONE when the completion arrives
 * (on the owner's thread, in its reaper) or INFLIGHT -> WAITING when its
 * task parks for it (after the task has switched out: the unlock-after-
 * switch rule). Whichever of the two comes second readies the task, so a
 * completion that beats the park is never lost and a task never runs
 * twice. */
#include <errno.h>
#include <urio/io.h>
#include <urio/scope.h>

#include "aop.h"

static void aop_done(struct urio__wait *w)
{
	struct urio__aop *a = (struct urio__aop *)w;
	/* acq_rel: releases res to the waiter's acquire load; acquires the
	 * waiter's park (aop_park's CAS) before readying it */
	int old = atomic_exchange_explicit(&a->state, URIO__AOP_DONE,
					   memory_order_acq_rel);
	if (old == URIO__AOP_WAITING)
		urio__ready(w->task, false);
}

/* Runs once the waiting task has switched out. */
static void aop_park(void *arg)
{
	struct urio__aop *a = arg;
	int exp = URIO__AOP_INFLIGHT;
	/* acq_rel pairs with aop_done's exchange */
	if (!atomic_compare_exchange_strong_explicit(&a->state, &exp,
						     URIO__AOP_WAITING,
						     memory_order_acq_rel,
						     memory_order_acquire))
		urio__ready(a->w.task, true); /* completed meanwhile */
}

int urio__aop_read(struct urio__aop *a, int fd, void *buf, unsigned len,
		   off_t off)
{
	struct urio__worker *wk = urio__cur_worker();
	if (!wk || !wk->cur)
		return -EPERM;
	a->fd = fd;
	a->buf = buf;
	a->len = len;
	a->off = off;
	a->deferred = urio__no_ring(wk);
	atomic_store_explicit(&a->state, URIO__AOP_INFLIGHT,
			      memory_order_relaxed);
	if (a->deferred)
		return 0;
	struct urio__wait *w = &a->w;
	*w = (struct urio__wait){.kind = URIO__WAIT_IO, .owner = wk,
				 .task = wk->cur, .what = "read", .fd = fd,
				 .heap_idx = SIZE_MAX, .done = aop_done,
				 .cancel = urio__wait_cancel_owned};
	struct io_uring_sqe *sqe = urio__sqe(wk);
	io_uring_prep_read(sqe, fd, buf, len, (uint64_t)off);
	io_uring_sqe_set_data(sqe, w);
	wk->inflight++;
	/* into the kernel now, so it reads while the task goes on (a page
	 * cache hit completes in this very call) */
	urio__ring_poll(wk, false);
	return 0;
}

/* Parks the calling task until a's completion. shielded: not cancellable
 * (the caller cancelled the op itself). */
static int park(struct urio__aop *a, bool shielded)
{
	struct urio__worker *wk = urio__cur_worker();
	urio_task *t = wk->cur;
	urio__task_lock(t);
	if (!shielded && urio__scopes_cancelled(t)) {
		urio__task_unlock(t);
		return -ECANCELED;
	}
	a->w.task = t; /* published by aop_park's CAS */
	a->w.cancel = shielded ? NULL : urio__wait_cancel_owned;
	a->w.cancel_sent = false;
	t->wait = &a->w;
	urio__task_unlock(t);
	if (shielded)
		urio__wait_cancel_now(&a->w);
	urio__suspend(URIO__POST_PARK, aop_park, a);
	urio__task_lock(t);
	t->wait = NULL;
	urio__task_unlock(t);
	return 0;
}

static int32_t finish(struct urio__aop *a)
{
	atomic_store_explicit(&a->state, URIO__AOP_IDLE, memory_order_relaxed);
	return a->w.res;
}

static int32_t wait_op(struct urio__aop *a, bool shielded)
{
	int st = atomic_load_explicit(&a->state, memory_order_acquire);
	if (st == URIO__AOP_IDLE)
		return 0;
	if (a->deferred) {
		atomic_store_explicit(&a->state, URIO__AOP_IDLE,
				      memory_order_relaxed);
		if (shielded)
			return 0; /* never started */
		return (int32_t)urio_read(a->fd, a->buf, a->len, a->off);
	}
	struct urio__worker *wk = urio__cur_worker();
	if (st != URIO__AOP_DONE && wk == a->w.owner) {
		/* reap first: it has often completed already */
		urio__ring_poll(wk, false);
		st = atomic_load_explicit(&a->state, memory_order_acquire);
	}
	while (st != URIO__AOP_DONE) {
		int r = park(a, shielded);
		if (r < 0)
			return r;
		/* acquire pairs with aop_done's exchange */
		st = atomic_load_explicit(&a->state, memory_order_acquire);
	}
	return finish(a);
}

int32_t urio__aop_wait(struct urio__aop *a)
{
	return wait_op(a, false);
}

int32_t urio__aop_drain(struct urio__aop *a)
{
	return wait_op(a, true);
}
