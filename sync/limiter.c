/* Token-bucket rate limiter, as a GCRA (virtual scheduling): one time,
 * `tat`, the moment the bucket will next be full, stands for the bucket's
 * level. Each caller reserves the next token under the lock (so callers
 * are served in arrival order) and sleeps until it is due; the sleep is an
 * ordinary cancellable timer wait, bounded by the caller's deadlines. A
 * sleeper cancelled before its token came due gives it back (tat moves
 * back by one interval), so cancelled callers never use up the rate. */
#include <errno.h>
#include <time.h>
#include <urio/sync.h>

#include "waitq.h"

struct limiter {
	urio__spin lock;
	uint64_t tat;      /* when the bucket is next full (ns, monotonic) */
	uint64_t interval; /* ns per token */
	uint64_t tau;      /* how far tat may run ahead of now: burst - 1 tokens */
};

_Static_assert(sizeof(struct limiter) <= sizeof(urio_limiter),
	       "urio_limiter size");
_Static_assert(_Alignof(struct limiter) <= _Alignof(urio_limiter),
	       "urio_limiter align");

static struct limiter *LIM(urio_limiter *l)
{
	return (struct limiter *)l;
}

int urio_limiter_init(urio_limiter *l, uint64_t rate, unsigned burst)
{
	if (!l || !rate || rate > 1000000000u || !burst)
		return -EINVAL;
	struct limiter *x = LIM(l);
	atomic_flag_clear(&x->lock.f);
	x->tat = 0;
	x->interval = 1000000000u / rate;
	x->tau = (uint64_t)(burst - 1) * x->interval;
	return 0;
}

/* Reserves the next token unless it is due more than max_wait ns from now.
 * Returns when it is due (<= now: at once), or 0 if it was not taken. */
static uint64_t reserve(struct limiter *x, uint64_t max_wait)
{
	uint64_t now = urio__now_ns();
	urio__spin_lock(&x->lock);
	uint64_t due = x->tat > now + x->tau ? x->tat - x->tau : now;
	if (due - now > max_wait) {
		urio__spin_unlock(&x->lock);
		return 0;
	}
	x->tat = (x->tat > now ? x->tat : now) + x->interval;
	urio__spin_unlock(&x->lock);
	return due;
}

static void give_back(struct limiter *x)
{
	urio__spin_lock(&x->lock);
	x->tat -= x->interval;
	urio__spin_unlock(&x->lock);
}

static int sleep_until(uint64_t when)
{
	uint64_t now = urio__now_ns();
	if (when <= now)
		return 0;
	if (urio_self())
		return urio_sleep_ns(when - now);
	if (urio__cur_worker())
		return -EDEADLK; /* a worker outside a task must not block */
	struct timespec ts = {(time_t)(when / 1000000000u),
			      (long)(when % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
	return 0;
}

static int acquire(urio_limiter *l, uint64_t max_wait)
{
	if (!l)
		return -EINVAL;
	struct limiter *x = LIM(l);
	if (!x->interval)
		return -EINVAL; /* never initialised */
	uint64_t due = reserve(x, max_wait);
	if (!due)
		return -EAGAIN;
	int r = sleep_until(due);
	if (r < 0)
		give_back(x);
	return r;
}

int urio_limiter_acquire(urio_limiter *l)
{
	return acquire(l, UINT64_MAX);
}

int urio_limiter_acquire_timeout(urio_limiter *l, uint64_t ms)
{
	uint64_t ns = ms > UINT64_MAX / 1000000 ? UINT64_MAX : ms * 1000000;
	int r = acquire(l, ns);
	return r == -EAGAIN ? -ETIMEDOUT : r;
}

int urio_limiter_try_acquire(urio_limiter *l)
{
	return acquire(l, 0);
}
