/* Condition variable over urio_mutex.
 *
 * wait links its waiter on the condition's queue and unlocks the mutex
 * under the condition's lock, which it drops only once it has switched out:
 * a signal sent after the unlock always finds it. Whatever ends the wait
 * (signal, cancel, timeout), the mutex is locked again before returning,
 * inside a shield so a cancelled task still gets it back. A signal that
 * reached a waiter as its cancel came is passed to the next waiter, so no
 * wake is lost. Lock order: the condition's lock, then the mutex's. */
#include <errno.h>
#include <urio/scope.h>
#include <urio/sync.h>

#include "waitq.h"

struct cond {
	urio__spin lock;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct cond) <= sizeof(urio_cond), "urio_cond size");
_Static_assert(_Alignof(struct cond) <= _Alignof(urio_cond), "urio_cond align");

static struct cond *C(urio_cond *c)
{
	return (struct cond *)c;
}

void urio_cond_init(urio_cond *c)
{
	if (!c)
		return;
	struct cond *x = C(c);
	atomic_flag_clear(&x->lock.f);
	x->q.head = x->q.tail = NULL;
}

static int wake(urio_cond *c, bool all)
{
	if (!c)
		return -EINVAL;
	struct cond *x = C(c);
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&x->lock);
	if (all)
		urio__waitq_grant_all(&x->q, &wk, 0);
	else
		urio__waitq_grant(&x->q, &wk, 0);
	urio__spin_unlock(&x->lock);
	urio__wakes_run(&wk);
	return 0;
}

int urio_cond_signal(urio_cond *c)
{
	return wake(c, false);
}

int urio_cond_broadcast(urio_cond *c)
{
	return wake(c, true);
}

unsigned urio_cond_waiters(urio_cond *c)
{
	if (!c)
		return 0;
	struct cond *x = C(c);
	urio__spin_lock(&x->lock);
	unsigned n = urio__waitq_len(&x->q);
	urio__spin_unlock(&x->lock);
	return n;
}

struct wait_req {
	struct cond *x;
	urio_mutex *m;
};

/* Locks m again however the wait ended, shielded from cancellation. */
static void relock(urio_mutex *m)
{
	urio_shield sh;
	urio_shield_enter(&sh);
	urio_mutex_lock(m);
	urio_shield_exit(&sh);
}

static int wait_cb(void *arg, uint64_t deadline_ns)
{
	struct wait_req *req = arg;
	struct cond *x = req->x;
	struct urio__waiter w;
	int r = urio__waiter_init(&w, "cond", &x->lock, &x->q, NULL, x);
	if (r < 0)
		return r;
	urio__spin_lock(&x->lock);
	if (urio__waiter_cancelled(&w)) {
		urio__spin_unlock(&x->lock);
		urio__waiter_abort(&w);
		return -ECANCELED; /* m is still held */
	}
	r = urio_mutex_unlock(req->m);
	if (r < 0) {
		urio__spin_unlock(&x->lock);
		urio__waiter_abort(&w);
		return r; /* the caller did not hold m */
	}
	r = urio__waitq_park(&w, deadline_ns);
	if (r == 0 && urio__waiter_cancelled(&w)) {
		urio_cond_signal((urio_cond *)x); /* the signal goes on */
		r = -ECANCELED;
	}
	relock(req->m);
	return r;
}

int urio_cond_wait(urio_cond *c, urio_mutex *m)
{
	if (!c || !m)
		return -EINVAL;
	struct wait_req req = {C(c), m};
	return wait_cb(&req, 0);
}

int urio_cond_wait_timeout(urio_cond *c, urio_mutex *m, uint64_t ms)
{
	if (!c || !m)
		return -EINVAL;
	struct wait_req req = {C(c), m};
	return urio__wait_timed(wait_cb, &req, ms);
}
