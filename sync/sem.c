/* Counting semaphore: FIFO, no barging, permits handed over directly.
 *
 * One atomic word holds permits << 1 | WAITERS. While nobody waits, acquire
 * and release are a single CAS each (as cheap as an uncontended pthread
 * mutex). A task that must wait sets WAITERS under the lock, and only when
 * no permit is free, so WAITERS set means zero free permits; from then on
 * both fast paths fail and release, under the lock, hands its permit to the
 * first waiter instead of adding it back, so no newcomer can barge past a
 * queued waiter. The last waiter to leave (granted, cancelled or timed out)
 * clears WAITERS. */
#include <errno.h>
#include <urio/sync.h>

#include "waitq.h"

#define WAITERS 1u
#define PERMIT 2u

struct sem {
	_Atomic uint64_t state;
	urio__spin lock;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct sem) <= sizeof(urio_sem), "urio_sem size");
_Static_assert(_Alignof(struct sem) <= _Alignof(urio_sem), "urio_sem align");

static struct sem *S(urio_sem *s)
{
	return (struct sem *)s;
}

void urio_sem_init(urio_sem *s, unsigned permits)
{
	if (!s)
		return;
	struct sem *m = S(s);
	atomic_init(&m->state, (uint64_t)permits * PERMIT);
	atomic_flag_clear(&m->lock.f);
	m->q.head = m->q.tail = NULL;
}

int urio_sem_try_acquire(urio_sem *s)
{
	if (!s)
		return -EINVAL;
	struct sem *m = S(s);
	uint64_t v = atomic_load_explicit(&m->state, memory_order_relaxed);
	while (!(v & WAITERS) && v >= PERMIT)
		/* acquire pairs with the release CAS of urio_sem_release */
		if (atomic_compare_exchange_weak_explicit(
			    &m->state, &v, v - PERMIT, memory_order_acquire,
			    memory_order_relaxed))
			return 0;
	return -EAGAIN;
}

/* The last waiter left: no permit is free (see the top), so clear WAITERS.
 * Under the lock; fast paths do not touch a word with WAITERS set. */
static void settle(void *prim, struct urio__wakes *wk)
{
	struct sem *m = prim;
	if (urio__waitq_empty(&m->q))
		atomic_store_explicit(&m->state, 0, memory_order_relaxed);
}

static int acquire_slow(void *arg, uint64_t deadline_ns)
{
	struct sem *m = arg;
	struct urio__waiter x;
	int r = urio__waiter_init(&x, "sem", &m->lock, &m->q, settle, m);
	if (r < 0)
		return r;
	urio__spin_lock(&m->lock);
	uint64_t v = atomic_load_explicit(&m->state, memory_order_relaxed);
	for (;;) {
		if (v >= PERMIT) { /* free permits imply no WAITERS */
			if (atomic_compare_exchange_weak_explicit(
				    &m->state, &v, v - PERMIT,
				    memory_order_acquire, memory_order_relaxed))
				break;
			continue;
		}
		if (urio__waiter_cancelled(&x)) {
			r = -ECANCELED;
			break;
		}
		if (v == WAITERS ||
		    atomic_compare_exchange_weak_explicit(
			    &m->state, &v, WAITERS, memory_order_relaxed,
			    memory_order_relaxed))
			goto park;
	}
	urio__spin_unlock(&m->lock);
	urio__waiter_abort(&x);
	return r;
park:
	r = urio__waitq_park(&x, deadline_ns);
	if (r == 0 && urio__waiter_cancelled(&x)) {
		/* granted as the cancel came: the permit is not ours to keep */
		urio_sem_release((urio_sem *)m);
		r = -ECANCELED;
	}
	return r;
}

int urio_sem_acquire(urio_sem *s)
{
	if (!s)
		return -EINVAL;
	if (urio_sem_try_acquire(s) == 0)
		return 0;
	return acquire_slow(S(s), 0);
}

int urio_sem_acquire_timeout(urio_sem *s, uint64_t ms)
{
	if (!s)
		return -EINVAL;
	if (urio_sem_try_acquire(s) == 0)
		return 0;
	if (!ms)
		return -ETIMEDOUT;
	return urio__wait_timed(acquire_slow, S(s), ms);
}

void urio_sem_release(urio_sem *s)
{
	if (!s)
		return;
	struct sem *m = S(s);
	uint64_t v = atomic_load_explicit(&m->state, memory_order_relaxed);
	while (!(v & WAITERS))
		/* release pairs with the acquire CAS of the taker */
		if (atomic_compare_exchange_weak_explicit(
			    &m->state, &v, v + PERMIT, memory_order_release,
			    memory_order_relaxed))
			return;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&m->lock);
	if (!urio__waitq_grant(&m->q, &wk, 0))
		/* the waiters left before we locked: WAITERS is clear */
		atomic_fetch_add_explicit(&m->state, PERMIT,
					  memory_order_release);
	else if (urio__waitq_empty(&m->q))
		atomic_store_explicit(&m->state, 0, memory_order_relaxed);
	urio__spin_unlock(&m->lock);
	urio__wakes_run(&wk);
}

void urio_sem_release_void(void *s)
{
	urio_sem_release(s);
}

unsigned urio_sem_available(urio_sem *s)
{
	if (!s)
		return 0;
	uint64_t v = atomic_load_explicit(&S(s)->state, memory_order_relaxed);
	return (unsigned)(v / PERMIT);
}

unsigned urio_sem_waiters(urio_sem *s)
{
	if (!s)
		return 0;
	struct sem *m = S(s);
	urio__spin_lock(&m->lock);
	unsigned n = urio__waitq_len(&m->q);
	urio__spin_unlock(&m->lock);
	return n;
}

static int sem_enter(void *s)
{
	return urio_sem_acquire(s);
}

static int sem_exit(void *s, int err)
{
	urio_sem_release(s);
	return err;
}

const urio_scope_ops urio_sem_scope = {sem_enter, sem_exit};
