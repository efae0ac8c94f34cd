/* Futures: one result, set once from any thread, awaited by tasks and
 * threads alike.
 *
 * A task parks on the future's waiter list under the future's spinlock and
 * releases the lock only once it has switched out (task.c's unlock-after-
 * switch protocol), so a completer on another thread can never ready a task
 * whose stack is still in use. A thread outside the runtime sleeps in a
 * futex on `state` itself, and the completer makes the wake syscall only
 * when `nthreads` says someone sleeps there: completing a future that only
 * tasks wait for costs no syscall beyond the wake of a parked worker.
 *
 * Completion detaches the waiter and callback lists under the lock and
 * walks them after it: waking a task from a foreign thread writes an
 * eventfd, and a callback may call back into the future (wait returns at
 * once, set gives -EALREADY), neither of which belongs under a spinlock. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urio/future.h>

#include "internal.h"

struct waiter {
	struct urio__wait w; /* first: the cancel hook gets &w */
	struct waiter *prev, *next;
	bool linked; /* on the list; under the future's lock */
};

struct callback {
	struct callback *next;
	void (*fn)(urio_future *f, void *arg);
	void *arg;
};

struct urio_future {
	urio__spin lock;        /* the lists, and state changes */
	_Atomic int state;      /* URIO_FUTURE_*; futex word for threads */
	_Atomic int refs;
	_Atomic int nthreads;   /* threads asleep on state */
	int err;                /* 0, the error of fail, or -ECANCELED */
	intptr_t value;
	struct waiter *head, *tail;
	struct callback *cbs, *cbs_tail;
};

/* The result a waiter reports; completion is published by the release (or
 * seq_cst) store of state, which the caller's load of state acquired. */
static int result_of(const urio_future *f, int state, intptr_t *value)
{
	if (state == URIO_FUTURE_CANCELLED)
		return -ECANCELED;
	if (f->err)
		return f->err;
	if (value)
		*value = f->value;
	return 0;
}

urio_future *urio_future_new(void)
{
	urio_future *f = urio__calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	atomic_flag_clear(&f->lock.f);
	atomic_init(&f->state, URIO_FUTURE_PENDING);
	atomic_init(&f->refs, 1);
	return f;
}

urio_future *urio_future_ref(urio_future *f)
{
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

void urio_future_free(urio_future *f)
{
	if (!f)
		return;
	/* acq_rel: the last owner sees every write of the others */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (struct callback *c = f->cbs, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(f);
}

static void unlink_waiter(urio_future *f, struct waiter *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		f->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		f->tail = x->prev;
	x->linked = false;
}

static int complete(urio_future *f, int state, intptr_t value, int err)
{
	if (!f)
		return -EINVAL;
	urio__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) !=
	    URIO_FUTURE_PENDING) {
		urio__spin_unlock(&f->lock);
		return -EALREADY;
	}
	f->value = value;
	f->err = err;
	/* seq_cst: publishes value/err to the acquire loads of state, and
	 * orders against the load of nthreads below (pairs with the waiting
	 * thread's increment before it loads state: one sees the other) */
	atomic_store(&f->state, state);
	struct waiter *ws = f->head;
	for (struct waiter *x = ws; x; x = x->next)
		x->linked = false; /* a late cancel finds nothing to do */
	f->head = f->tail = NULL;
	struct callback *cbs = f->cbs;
	f->cbs = f->cbs_tail = NULL;
	urio__spin_unlock(&f->lock);

	/* unlinked waiters can be readied only by us; each stays valid until
	 * then (it is parked), so read its next link first */
	while (ws) {
		struct waiter *next = ws->next;
		urio_task *t = ws->w.task;
		ws->w.res = 1; /* completed: read the result from f */
		urio__ready(t, true);
		ws = next;
	}
	if (atomic_load(&f->nthreads))
		syscall(SYS_futex, &f->state, FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
	while (cbs) {
		struct callback *next = cbs->next;
		cbs->fn(f, cbs->arg);
		free(cbs);
		cbs = next;
	}
	return 0;
}

int urio_future_set(urio_future *f, intptr_t value)
{
	return complete(f, URIO_FUTURE_FINISHED, value, 0);
}

int urio_future_fail(urio_future *f, int err)
{
	if (err >= 0)
		return -EINVAL;
	return complete(f, URIO_FUTURE_FINISHED, 0, err);
}

int urio_future_cancel(urio_future *f)
{
	return complete(f, URIO_FUTURE_CANCELLED, 0, -ECANCELED);
}

int urio_future_state(const urio_future *f)
{
	if (!f)
		return -EINVAL;
	/* acquire pairs with the store in complete */
	return atomic_load_explicit(&f->state, memory_order_acquire);
}

int urio_future_result(const urio_future *f, intptr_t *value)
{
	int s = urio_future_state(f);
	if (s < 0)
		return s;
	if (s == URIO_FUTURE_PENDING)
		return -EAGAIN;
	return result_of(f, s, value);
}

/* Runs with the waiting task's lock held, on any thread. */
static void waiter_cancel(struct urio__wait *w)
{
	struct waiter *x = (struct waiter *)w;
	urio_future *f = w->cancel_arg;
	urio__spin_lock(&f->lock);
	bool mine = x->linked;
	if (mine) {
		unlink_waiter(f, x);
		w->res = -ECANCELED;
	}
	urio__spin_unlock(&f->lock);
	if (mine)
		urio__ready(w->task, true);
}

static void unlock_cb(void *arg)
{
	urio_future *f = arg;
	urio__spin_unlock(&f->lock);
}

static int wait_task(urio_future *f, intptr_t *value)
{
	struct waiter x = {.w = {.what = "future", .fd = -1}};
	x.w.cancel = waiter_cancel;
	x.w.cancel_arg = f;
	int r = urio__wait_begin(&x.w, URIO__WAIT_OTHER);
	if (r < 0)
		return r;
	urio__spin_lock(&f->lock);
	int s = atomic_load_explicit(&f->state, memory_order_relaxed);
	if (s != URIO_FUTURE_PENDING) {
		urio__spin_unlock(&f->lock);
		urio__wait_abort(&x.w);
		return result_of(f, s, value);
	}
	/* a cancel between wait_begin and here found nothing to cancel */
	if (urio__scopes_cancelled(x.w.task)) {
		urio__spin_unlock(&f->lock);
		urio__wait_abort(&x.w);
		return -ECANCELED;
	}
	x.prev = f->tail;
	if (f->tail)
		f->tail->next = &x;
	else
		f->head = &x;
	f->tail = &x;
	x.linked = true;
	r = urio__wait_end(&x.w, unlock_cb, f);
	if (r < 0)
		return r;
	return result_of(f, urio_future_state(f), value);
}

static int wait_thread(urio_future *f, intptr_t *value)
{
	/* seq_cst: pairs with complete's store of state (see there) */
	atomic_fetch_add(&f->nthreads, 1);
	int s;
	while ((s = atomic_load(&f->state)) == URIO_FUTURE_PENDING)
		syscall(SYS_futex, &f->state, FUTEX_WAIT_PRIVATE,
			URIO_FUTURE_PENDING, NULL, NULL, 0);
	atomic_fetch_sub(&f->nthreads, 1);
	return result_of(f, s, value);
}

int urio_future_wait(urio_future *f, intptr_t *value)
{
	int s = urio_future_state(f);
	if (s < 0)
		return s;
	if (s != URIO_FUTURE_PENDING)
		return result_of(f, s, value);
	if (urio_self())
		return wait_task(f, value);
	if (urio__cur_worker())
		return -EDEADLK; /* blocking here would stall a worker */
	return wait_thread(f, value);
}

int urio_future_on_done(urio_future *f,
			void (*cb)(urio_future *f, void *arg), void *arg)
{
	if (!f || !cb)
		return -EINVAL;
	if (urio_future_state(f) == URIO_FUTURE_PENDING) {
		struct callback *c = urio__malloc(sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->fn = cb;
		c->arg = arg;
		c->next = NULL;
		urio__spin_lock(&f->lock);
		if (atomic_load_explicit(&f->state, memory_order_relaxed) ==
		    URIO_FUTURE_PENDING) {
			if (f->cbs_tail)
				f->cbs_tail->next = c;
			else
				f->cbs = c;
			f->cbs_tail = c;
			urio__spin_unlock(&f->lock);
			return 0;
		}
		urio__spin_unlock(&f->lock);
		free(c);
	}
	cb(f, arg);
	return 0;
}
