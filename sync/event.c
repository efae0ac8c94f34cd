/* Event: a flag that tasks and threads wait to see set.
 *
 * set wakes every waiter at once; a waiter woken as its cancel came reports
 * the set (0), since nothing exclusive was handed to it that another waiter
 * could miss. The flag is read without the lock on the fast path. */
#include <errno.h>
#include <urio/sync.h>

#include "waitq.h"

struct event {
	_Atomic int set;
	urio__spin lock;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct event) <= sizeof(urio_event), "urio_event size");
_Static_assert(_Alignof(struct event) <= _Alignof(urio_event),
	       "urio_event align");

static struct event *E(const urio_event *e)
{
	return (struct event *)e;
}

void urio_event_init(urio_event *e)
{
	if (!e)
		return;
	struct event *x = E(e);
	atomic_init(&x->set, 0);
	atomic_flag_clear(&x->lock.f);
	x->q.head = x->q.tail = NULL;
}

void urio_event_set(urio_event *e)
{
	if (!e)
		return;
	struct event *x = E(e);
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&x->lock);
	/* release pairs with the acquire load in urio_event_is_set */
	atomic_store_explicit(&x->set, 1, memory_order_release);
	urio__waitq_grant_all(&x->q, &wk, 0);
	urio__spin_unlock(&x->lock);
	urio__wakes_run(&wk);
}

void urio_event_clear(urio_event *e)
{
	if (e)
		atomic_store_explicit(&E(e)->set, 0, memory_order_relaxed);
}

bool urio_event_is_set(const urio_event *e)
{
	return e && atomic_load_explicit(&E(e)->set, memory_order_acquire);
}

static int wait_slow(void *arg, uint64_t deadline_ns)
{
	struct event *x = arg;
	struct urio__waiter w;
	int r = urio__waiter_init(&w, "event", &x->lock, &x->q, NULL, x);
	if (r < 0)
		return r;
	urio__spin_lock(&x->lock);
	if (atomic_load_explicit(&x->set, memory_order_relaxed) ||
	    urio__waiter_cancelled(&w)) {
		r = atomic_load_explicit(&x->set, memory_order_relaxed)
			    ? 0
			    : -ECANCELED;
		urio__spin_unlock(&x->lock);
		urio__waiter_abort(&w);
		return r;
	}
	return urio__waitq_park(&w, deadline_ns);
}

int urio_event_wait(urio_event *e)
{
	if (!e)
		return -EINVAL;
	if (urio_event_is_set(e))
		return 0;
	return wait_slow(E(e), 0);
}

int urio_event_wait_timeout(urio_event *e, uint64_t ms)
{
	if (!e)
		return -EINVAL;
	if (urio_event_is_set(e))
		return 0;
	if (!ms)
		return -ETIMEDOUT;
	return urio__wait_timed(wait_slow, E(e), ms);
}

unsigned urio_event_waiters(urio_event *e)
{
	if (!e)
		return 0;
	struct event *x = E(e);
	urio__spin_lock(&x->lock);
	unsigned n = urio__waitq_len(&x->q);
	urio__spin_unlock(&x->lock);
	return n;
}
