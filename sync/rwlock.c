/* Readers-writer lock, FIFO between readers and writers.
 *
 * All state sits under the spinlock: a reader that arrives while anyone
 * queues queues too, so a waiting writer is never starved by a stream of
 * readers, and the grant from the head of the queue takes one writer or
 * every reader up to the next writer. A writer that leaves the head of the
 * queue by cancel or timeout settles the queue, letting the readers behind
 * it in. */
#include <errno.h>
#include <urio/sync.h>

#include "waitq.h"

enum { READ, WRITE };

struct rwlock {
	urio__spin lock;
	bool writer;
	uint32_t readers;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct rwlock) <= sizeof(urio_rwlock), "urio_rwlock size");
_Static_assert(_Alignof(struct rwlock) <= _Alignof(urio_rwlock),
	       "urio_rwlock align");

static struct rwlock *L(urio_rwlock *l)
{
	return (struct rwlock *)l;
}

void urio_rwlock_init(urio_rwlock *l)
{
	if (!l)
		return;
	struct rwlock *x = L(l);
	atomic_flag_clear(&x->lock.f);
	x->writer = false;
	x->readers = 0;
	x->q.head = x->q.tail = NULL;
}

/* Under the lock: grants the head of the queue what it can have now. */
static void grant(void *prim, struct urio__wakes *wk)
{
	struct rwlock *x = prim;
	while (x->q.head && !x->writer) {
		if (x->q.head->arg == WRITE) {
			if (x->readers)
				return;
			x->writer = true;
		} else {
			x->readers++;
		}
		urio__waitq_grant(&x->q, wk, 0);
	}
}

static bool can_take(struct rwlock *x, uintptr_t mode)
{
	if (x->writer || x->q.head)
		return false;
	return mode == READ || !x->readers;
}

static void take(struct rwlock *x, uintptr_t mode)
{
	if (mode == READ)
		x->readers++;
	else
		x->writer = true;
}

static int try_lock(urio_rwlock *l, uintptr_t mode)
{
	if (!l)
		return -EINVAL;
	struct rwlock *x = L(l);
	urio__spin_lock(&x->lock);
	bool ok = can_take(x, mode);
	if (ok)
		take(x, mode);
	urio__spin_unlock(&x->lock);
	return ok ? 0 : -EBUSY;
}

struct lock_req {
	struct rwlock *x;
	uintptr_t mode;
};

static int lock_slow(void *arg, uint64_t deadline_ns)
{
	struct lock_req *req = arg;
	struct rwlock *x = req->x;
	struct urio__waiter w;
	int r = urio__waiter_init(&w, req->mode == READ ? "rdlock" : "wrlock",
				  &x->lock, &x->q, grant, x);
	if (r < 0)
		return r;
	w.arg = req->mode;
	urio__spin_lock(&x->lock);
	if (can_take(x, req->mode) || urio__waiter_cancelled(&w)) {
		r = can_take(x, req->mode) ? 0 : -ECANCELED;
		if (!r)
			take(x, req->mode);
		urio__spin_unlock(&x->lock);
		urio__waiter_abort(&w);
		return r;
	}
	r = urio__waitq_park(&w, deadline_ns);
	if (r == 0 && urio__waiter_cancelled(&w)) {
		urio_rwlock_unlock((urio_rwlock *)x); /* granted late: pass on */
		r = -ECANCELED;
	}
	return r;
}

static int lock(urio_rwlock *l, uintptr_t mode)
{
	int r = try_lock(l, mode);
	if (r != -EBUSY)
		return r;
	struct lock_req req = {L(l), mode};
	return lock_slow(&req, 0);
}

static int lock_timeout(urio_rwlock *l, uintptr_t mode, uint64_t ms)
{
	int r = try_lock(l, mode);
	if (r != -EBUSY)
		return r;
	if (!ms)
		return -ETIMEDOUT;
	struct lock_req req = {L(l), mode};
	return urio__wait_timed(lock_slow, &req, ms);
}

int urio_rwlock_rdlock(urio_rwlock *l)
{
	return lock(l, READ);
}

int urio_rwlock_wrlock(urio_rwlock *l)
{
	return lock(l, WRITE);
}

int urio_rwlock_rdlock_timeout(urio_rwlock *l, uint64_t ms)
{
	return lock_timeout(l, READ, ms);
}

int urio_rwlock_wrlock_timeout(urio_rwlock *l, uint64_t ms)
{
	return lock_timeout(l, WRITE, ms);
}

int urio_rwlock_try_rdlock(urio_rwlock *l)
{
	return try_lock(l, READ);
}

int urio_rwlock_try_wrlock(urio_rwlock *l)
{
	return try_lock(l, WRITE);
}

int urio_rwlock_unlock(urio_rwlock *l)
{
	if (!l)
		return -EINVAL;
	struct rwlock *x = L(l);
	struct urio__wakes wk = {NULL};
	int r = 0;
	urio__spin_lock(&x->lock);
	if (x->writer)
		x->writer = false;
	else if (x->readers)
		x->readers--;
	else
		r = -EPERM;
	if (!r)
		grant(x, &wk);
	urio__spin_unlock(&x->lock);
	urio__wakes_run(&wk);
	return r;
}

unsigned urio_rwlock_waiters(urio_rwlock *l)
{
	if (!l)
		return 0;
	struct rwlock *x = L(l);
	urio__spin_lock(&x->lock);
	unsigned n = urio__waitq_len(&x->q);
	urio__spin_unlock(&x->lock);
	return n;
}

void urio_rwlock_unlock_void(void *l)
{
	urio_rwlock_unlock(l);
}
