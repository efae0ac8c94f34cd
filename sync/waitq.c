/* The waiter queue of sync/ (waitq.h): FIFO parking for tasks and plain
 * threads, cancellation and timeouts that never swallow a grant.
 *
 * A task parks with the runtime's wait protocol: urio__wait_begin before the
 * primitive's lock, the link under it, and the lock dropped only once the
 * task has switched out (urio__wait_end's after hook), so a granter on any
 * thread can never ready a task still running on its stack. A plain thread
 * (one the runtime does not own: the issue lets threads release, set and
 * send like futures allow) sleeps in a futex on its own waiter record. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <urio/scope.h>

#include "waitq.h"

static void unlink_waiter(struct urio__waitq *q, struct urio__waiter *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		q->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		q->tail = x->prev;
	x->linked = false;
}

/* Runs with the waiting task's lock held, on any thread. */
static void cancel_hook(struct urio__wait *w)
{
	struct urio__waiter *x = (struct urio__waiter *)w;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(x->lock);
	bool mine = x->linked;
	if (mine) {
		unlink_waiter(x->q, x);
		w->res = -ECANCELED;
		if (x->settle)
			x->settle(x->prim, &wk);
	}
	urio__spin_unlock(x->lock);
	if (mine)
		urio__ready(w->task, true);
	urio__wakes_run(&wk);
}

int urio__waiter_init(struct urio__waiter *x, const char *what,
		      urio__spin *lock, struct urio__waitq *q,
		      urio__settle_fn settle, void *prim)
{
	x->prev = x->next = x->wnext = NULL;
	x->lock = lock;
	x->q = q;
	x->settle = settle;
	x->prim = prim;
	x->linked = false;
	atomic_init(&x->done, 0);
	struct urio__worker *wk = urio__cur_worker();
	x->thread = !wk;
	x->w.res = 0;
	if (x->thread)
		return 0;
	if (!wk->cur)
		return -EDEADLK; /* blocking here would stall the worker */
	x->w.what = what;
	x->w.fd = -1;
	x->w.cancel = cancel_hook;
	x->w.cancel_arg = NULL;
	return urio__wait_begin(&x->w, URIO__WAIT_OTHER);
}

void urio__waiter_abort(struct urio__waiter *x)
{
	if (!x->thread)
		urio__wait_abort(&x->w);
}

bool urio__waiter_cancelled(struct urio__waiter *x)
{
	return !x->thread && urio__scopes_cancelled(x->w.task);
}

static void link_tail(struct urio__waitq *q, struct urio__waiter *x)
{
	x->prev = q->tail;
	x->next = NULL;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	x->linked = true;
}

static void unlock_after(void *arg)
{
	urio__spin_unlock(arg);
}

static void futex_wake(_Atomic int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleeps while *addr is 0, until deadline_ns (0: none). False on timeout. */
static bool futex_wait(_Atomic int *addr, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	if (deadline_ns) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
		ts.tv_nsec = (long)(deadline_ns % 1000000000u);
		tsp = &ts;
	}
	/* the bitset form takes an absolute CLOCK_MONOTONIC deadline */
	long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET_PRIVATE, 0, tsp,
			 NULL, FUTEX_BITSET_MATCH_ANY);
	return !(r < 0 && errno == ETIMEDOUT);
}

static int32_t park_thread(struct urio__waiter *x, uint64_t deadline_ns)
{
	urio__spin_unlock(x->lock);
	/* acquire pairs with the release store in urio__wakes_run */
	while (!atomic_load_explicit(&x->done, memory_order_acquire)) {
		if (futex_wait(&x->done, deadline_ns) ||
		    urio__now_ns() < deadline_ns)
			continue;
		struct urio__wakes wk = {NULL};
		urio__spin_lock(x->lock);
		bool mine = x->linked;
		if (mine) {
			unlink_waiter(x->q, x);
			if (x->settle)
				x->settle(x->prim, &wk);
		}
		urio__spin_unlock(x->lock);
		urio__wakes_run(&wk);
		if (mine)
			return -ETIMEDOUT;
		deadline_ns = 0; /* granted meanwhile: wait for the wake */
	}
	return x->w.res;
}

int32_t urio__waitq_park(struct urio__waiter *x, uint64_t deadline_ns)
{
	link_tail(x->q, x);
	if (x->thread)
		return park_thread(x, deadline_ns);
	return urio__wait_end(&x->w, unlock_after, x->lock);
}

struct urio__waiter *urio__waitq_grant(struct urio__waitq *q,
				       struct urio__wakes *wk, int32_t res)
{
	struct urio__waiter *x = q->head;
	if (!x)
		return NULL;
	unlink_waiter(q, x);
	/* parked (a task) or asleep until done (a thread): only the
	 * granter, now, may write it */
	x->w.res = res;
	x->wnext = wk->head;
	wk->head = x;
	return x;
}

void urio__waitq_grant_all(struct urio__waitq *q, struct urio__wakes *wk,
			   int32_t res)
{
	while (urio__waitq_grant(q, wk, res))
		;
}

unsigned urio__waitq_len(const struct urio__waitq *q)
{
	unsigned n = 0;
	for (const struct urio__waiter *x = q->head; x; x = x->next)
		n++;
	return n;
}

void urio__wakes_run(struct urio__wakes *wk)
{
	struct urio__waiter *x = wk->head;
	/* the list is LIFO: reverse it so waiters wake in grant order */
	struct urio__waiter *rev = NULL;
	while (x) {
		struct urio__waiter *next = x->wnext;
		x->wnext = rev;
		rev = x;
		x = next;
	}
	wk->head = NULL;
	for (x = rev; x;) {
		/* once woken, x may vanish with its stack: read it first */
		struct urio__waiter *next = x->wnext;
		if (x->thread) {
			_Atomic int *done = &x->done;
			/* release pairs with the acquire load in park_thread */
			atomic_store_explicit(done, 1, memory_order_release);
			futex_wake(done); /* harmless if the thread is gone */
		} else {
			urio__ready(x->w.task, true);
		}
		x = next;
	}
}

uint64_t urio__deadline_after(uint64_t ms)
{
	uint64_t now = urio__now_ns();
	uint64_t ns = ms > UINT64_MAX / 1000000 ? UINT64_MAX : ms * 1000000;
	return ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
}

int urio__wait_timed(int (*fn)(void *arg, uint64_t deadline_ns), void *arg,
		     uint64_t ms)
{
	uint64_t when = urio__deadline_after(ms);
	if (!urio_self())
		return fn(arg, when);
	urio_deadline d;
	urio_timeout_enter_at(&d, when);
	int r = fn(arg, 0);
	int e = urio_timeout_exit(&d);
	/* a grant that won the race with the deadline stands */
	return r == -ECANCELED && e == -ETIMEDOUT ? -ETIMEDOUT : r;
}
