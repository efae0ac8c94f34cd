/* Mutex: a binary semaphore whose zeroed state is unlocked.
 *
 * One atomic word holds LOCKED | WAITERS. Uncontended, lock and unlock are a
 * CAS each. A task that finds it locked sets WAITERS under the lock and
 * queues; unlock then goes through the lock and hands the mutex over still
 * LOCKED to the first waiter (FIFO, no barging: a hand-off between tasks on
 * two workers never lets a third take it in between). The last waiter to
 * leave clears WAITERS. */
#include <errno.h>
#include <urio/sync.h>

#include "waitq.h"

#define LOCKED 1u
#define WAITERS 2u

struct mutex {
	_Atomic uint32_t state;
	urio__spin lock;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct mutex) <= sizeof(urio_mutex), "urio_mutex size");
_Static_assert(_Alignof(struct mutex) <= _Alignof(urio_mutex),
	       "urio_mutex align");

static struct mutex *M(urio_mutex *m)
{
	return (struct mutex *)m;
}

void urio_mutex_init(urio_mutex *m)
{
	if (!m)
		return;
	struct mutex *x = M(m);
	atomic_init(&x->state, 0);
	atomic_flag_clear(&x->lock.f);
	x->q.head = x->q.tail = NULL;
}

int urio_mutex_try_lock(urio_mutex *m)
{
	if (!m)
		return -EINVAL;
	uint32_t exp = 0;
	/* acquire pairs with the release in urio_mutex_unlock */
	if (atomic_compare_exchange_strong_explicit(&M(m)->state, &exp, LOCKED,
						    memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	return -EBUSY;
}

/* The last waiter left: clear WAITERS (the holder may unlock meanwhile:
 * its CAS fails on WAITERS and it waits for our lock). */
static void settle(void *prim, struct urio__wakes *wk)
{
	struct mutex *x = prim;
	if (urio__waitq_empty(&x->q))
		atomic_fetch_and_explicit(&x->state, ~WAITERS,
					  memory_order_relaxed);
}

static int lock_slow(void *arg, uint64_t deadline_ns)
{
	struct mutex *x = arg;
	struct urio__waiter w;
	int r = urio__waiter_init(&w, "mutex", &x->lock, &x->q, settle, x);
	if (r < 0)
		return r;
	urio__spin_lock(&x->lock);
	uint32_t v = atomic_load_explicit(&x->state, memory_order_relaxed);
	for (;;) {
		if (!(v & LOCKED)) { /* unlocked implies nobody queues */
			if (atomic_compare_exchange_weak_explicit(
				    &x->state, &v, LOCKED,
				    memory_order_acquire, memory_order_relaxed))
				break;
			continue;
		}
		if (urio__waiter_cancelled(&w)) {
			r = -ECANCELED;
			break;
		}
		if ((v & WAITERS) ||
		    atomic_compare_exchange_weak_explicit(
			    &x->state, &v, LOCKED | WAITERS,
			    memory_order_relaxed, memory_order_relaxed))
			goto park;
	}
	urio__spin_unlock(&x->lock);
	urio__waiter_abort(&w);
	return r;
park:
	r = urio__waitq_park(&w, deadline_ns);
	if (r == 0 && urio__waiter_cancelled(&w)) {
		/* handed over as the cancel came: hand it on */
		urio_mutex_unlock((urio_mutex *)x);
		r = -ECANCELED;
	}
	return r;
}

int urio_mutex_lock(urio_mutex *m)
{
	if (!m)
		return -EINVAL;
	if (urio_mutex_try_lock(m) == 0)
		return 0;
	return lock_slow(M(m), 0);
}

int urio_mutex_lock_timeout(urio_mutex *m, uint64_t ms)
{
	if (!m)
		return -EINVAL;
	if (urio_mutex_try_lock(m) == 0)
		return 0;
	if (!ms)
		return -ETIMEDOUT;
	return urio__wait_timed(lock_slow, M(m), ms);
}

int urio_mutex_unlock(urio_mutex *m)
{
	if (!m)
		return -EINVAL;
	struct mutex *x = M(m);
	uint32_t exp = LOCKED;
	/* release pairs with the acquire of the next locker */
	if (atomic_compare_exchange_strong_explicit(&x->state, &exp, 0,
						    memory_order_release,
						    memory_order_relaxed))
		return 0;
	if (!(exp & LOCKED))
		return -EPERM;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&x->lock);
	if (!urio__waitq_grant(&x->q, &wk, 0))
		/* the waiters left before we locked: WAITERS is clear */
		atomic_store_explicit(&x->state, 0, memory_order_release);
	else if (urio__waitq_empty(&x->q))
		atomic_store_explicit(&x->state, LOCKED, memory_order_relaxed);
	urio__spin_unlock(&x->lock);
	urio__wakes_run(&wk);
	return 0;
}

unsigned urio_mutex_waiters(urio_mutex *m)
{
	if (!m)
		return 0;
	struct mutex *x = M(m);
	urio__spin_lock(&x->lock);
	unsigned n = urio__waitq_len(&x->q);
	urio__spin_unlock(&x->lock);
	return n;
}

void urio_mutex_unlock_void(void *m)
{
	urio_mutex_unlock(m);
}

static int mutex_enter(void *m)
{
	return urio_mutex_lock(m);
}

static int mutex_exit(void *m, int err)
{
	urio_mutex_unlock(m);
	return err;
}

const urio_scope_ops urio_mutex_scope = {mutex_enter, mutex_exit};
