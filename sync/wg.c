/* Wait group (Go's sync.WaitGroup): a count that waiters see reach zero.
 *
 * Reaching zero wakes every waiter at once; like an event's, a wake that
 * races a waiter's cancel is reported (0): nothing exclusive was handed
 * over. A count that would go negative is refused, not a crash. */
#include <errno.h>
#include <urio/sync.h>

#include "waitq.h"

struct wg {
	_Atomic int64_t count;
	urio__spin lock;
	struct urio__waitq q;
};

_Static_assert(sizeof(struct wg) <= sizeof(urio_wg), "urio_wg size");
_Static_assert(_Alignof(struct wg) <= _Alignof(urio_wg), "urio_wg align");

static struct wg *G(urio_wg *g)
{
	return (struct wg *)g;
}

void urio_wg_init(urio_wg *g)
{
	if (!g)
		return;
	struct wg *x = G(g);
	atomic_init(&x->count, 0);
	atomic_flag_clear(&x->lock.f);
	x->q.head = x->q.tail = NULL;
}

int urio_wg_add(urio_wg *g, int64_t n)
{
	if (!g)
		return -EINVAL;
	struct wg *x = G(g);
	struct urio__wakes wk = {NULL};
	int r = 0;
	urio__spin_lock(&x->lock);
	int64_t c = atomic_load_explicit(&x->count, memory_order_relaxed);
	if (n < -c || (n > 0 && c > INT64_MAX - n)) {
		r = -EINVAL;
	} else {
		/* release pairs with the acquire load in urio_wg_wait */
		atomic_store_explicit(&x->count, c + n, memory_order_release);
		if (c + n == 0)
			urio__waitq_grant_all(&x->q, &wk, 0);
	}
	urio__spin_unlock(&x->lock);
	urio__wakes_run(&wk);
	return r;
}

int urio_wg_done(urio_wg *g)
{
	return urio_wg_add(g, -1);
}

unsigned urio_wg_waiters(urio_wg *g)
{
	if (!g)
		return 0;
	struct wg *x = G(g);
	urio__spin_lock(&x->lock);
	unsigned n = urio__waitq_len(&x->q);
	urio__spin_unlock(&x->lock);
	return n;
}

static int wait_slow(void *arg, uint64_t deadline_ns)
{
	struct wg *x = arg;
	struct urio__waiter w;
	int r = urio__waiter_init(&w, "waitgroup", &x->lock, &x->q, NULL, x);
	if (r < 0)
		return r;
	urio__spin_lock(&x->lock);
	bool zero = !atomic_load_explicit(&x->count, memory_order_relaxed);
	if (zero || urio__waiter_cancelled(&w)) {
		urio__spin_unlock(&x->lock);
		urio__waiter_abort(&w);
		return zero ? 0 : -ECANCELED;
	}
	return urio__waitq_park(&w, deadline_ns);
}

int urio_wg_wait(urio_wg *g)
{
	if (!g)
		return -EINVAL;
	if (!atomic_load_explicit(&G(g)->count, memory_order_acquire))
		return 0;
	return wait_slow(G(g), 0);
}

int urio_wg_wait_timeout(urio_wg *g, uint64_t ms)
{
	if (!g)
		return -EINVAL;
	if (!atomic_load_explicit(&G(g)->count, memory_order_acquire))
		return 0;
	if (!ms)
		return -ETIMEDOUT;
	return urio__wait_timed(wait_slow, G(g), ms);
}
