/* Event, wait group and rate limiter: wake-all across workers, set and
 * done from plain threads, cancelled and timed-out waiters, a limiter that
 * keeps its rate and order and takes nothing back from a cancelled
 * sleeper, bad arguments. No case asserts a timing: the limiter's checks
 * are on tokens counted, with wide bounds. */
#include <errno.h>
#include <pthread.h>
#include <urio.h>

#include "sync_cases.h"

static urio_event ev;
static atomic_int woke;

static intptr_t ev_waiter(void *arg)
{
	int r = urio_event_wait(&ev);
	if (r == 0)
		atomic_fetch_add(&woke, 1);
	return r;
}

static intptr_t event_basic(void *arg)
{
	urio_task *ts[16];
	urio_event_init(&ev);
	atomic_store(&woke, 0);
	ASSERT(!urio_event_is_set(&ev));
	ASSERT_EQ(urio_event_wait_timeout(&ev, 0), -ETIMEDOUT);
	for (int i = 0; i < 16; i++)
		ASSERT((ts[i] = urio_spawn(ev_waiter, NULL)));
	POLL(urio_event_waiters(&ev) == 16);
	urio_event_set(&ev);
	ASSERT(urio_event_is_set(&ev));
	for (int i = 0; i < 16; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(ts[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(atomic_load(&woke), 16);
	ASSERT_EQ(urio_event_wait(&ev), 0); /* set: at once */
	urio_event_set(&ev);                /* again: nothing */
	urio_event_clear(&ev);
	ASSERT(!urio_event_is_set(&ev));
	return 0;
}

static intptr_t event_wait_timeout(void *arg)
{
	urio_event_init(&ev);
	ASSERT_EQ(urio_event_wait_timeout(&ev, 5), -ETIMEDOUT);
	ASSERT_EQ(urio_event_waiters(&ev), 0);
	urio_event_set(&ev);
	ASSERT_EQ(urio_event_wait_timeout(&ev, 5), 0);
	return 0;
}

static intptr_t event_wait_cancelled(void *arg)
{
	urio_event_init(&ev);
	atomic_store(&woke, 0);
	urio_task *a = urio_spawn(ev_waiter, NULL);
	urio_task *b = urio_spawn(ev_waiter, NULL);
	POLL(urio_event_waiters(&ev) == 2);
	urio_cancel(a);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_event_waiters(&ev), 1);
	urio_event_set(&ev);
	ASSERT_EQ(urio_join(b, &r), 0);
	ASSERT_EQ(r, 0);
	urio_event_clear(&ev);
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_event_wait(&ev), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	return 0;
}

static void *thread_setter(void *arg)
{
	urio_event_set(&ev);
	return NULL;
}

static void *thread_ev_waiter(void *arg)
{
	return (void *)(intptr_t)urio_event_wait(&ev);
}

static intptr_t event_thread_set(void *arg)
{
	urio_task *ts[4];
	urio_event_init(&ev);
	atomic_store(&woke, 0);
	for (int i = 0; i < 4; i++)
		ASSERT((ts[i] = urio_spawn(ev_waiter, NULL)));
	pthread_t w, s;
	ASSERT_EQ(pthread_create(&w, NULL, thread_ev_waiter, NULL), 0);
	POLL(urio_event_waiters(&ev) == 5);
	ASSERT_EQ(pthread_create(&s, NULL, thread_setter, NULL), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(urio_join(ts[i], NULL), 0);
	pthread_join(s, NULL);
	void *res = (void *)1;
	pthread_join(w, &res);
	ASSERT(res == NULL);
	ASSERT_EQ(atomic_load(&woke), 4);
	return 0;
}

/* --- wait group ---------------------------------------------------------- */
static urio_wg wg;
static atomic_int wg_work;

static intptr_t wg_worker(void *arg)
{
	for (int i = 0; i < 10; i++)
		urio_yield();
	atomic_fetch_add(&wg_work, 1);
	return urio_wg_done(&wg);
}

static intptr_t wg_waiter(void *arg)
{
	int r = urio_wg_wait(&wg);
	if (r == 0 && atomic_load(&wg_work) != 32)
		return -EPROTO; /* woken before the count reached zero */
	return r;
}

static intptr_t wg_basic(void *arg)
{
	urio_task *ts[32], *w[4];
	urio_wg_init(&wg);
	atomic_store(&wg_work, 0);
	ASSERT_EQ(urio_wg_wait(&wg), 0); /* zero: at once */
	ASSERT_EQ(urio_wg_done(&wg), -EINVAL); /* below zero: refused */
	ASSERT_EQ(urio_wg_add(&wg, 32), 0);
	for (int i = 0; i < 4; i++)
		ASSERT((w[i] = urio_spawn(wg_waiter, NULL)));
	for (int i = 0; i < 32; i++)
		ASSERT((ts[i] = urio_spawn(wg_worker, NULL)));
	ASSERT_EQ(urio_wg_wait(&wg), 0);
	ASSERT_EQ(atomic_load(&wg_work), 32);
	for (int i = 0; i < 4; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(w[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	for (int i = 0; i < 32; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(ts[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	ASSERT_EQ(urio_wg_add(&wg, INT64_MAX), 0);
	ASSERT_EQ(urio_wg_add(&wg, 1), -EINVAL); /* overflow refused */
	ASSERT_EQ(urio_wg_add(&wg, -INT64_MAX), 0);
	return 0;
}

static intptr_t wg_wait_cancelled(void *arg)
{
	urio_wg_init(&wg);
	atomic_store(&wg_work, 32);
	ASSERT_EQ(urio_wg_add(&wg, 1), 0);
	urio_task *a = urio_spawn(wg_waiter, NULL);
	urio_task *b = urio_spawn(wg_waiter, NULL);
	POLL(urio_wg_waiters(&wg) == 2);
	urio_cancel(a);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_wg_waiters(&wg), 1);
	ASSERT_EQ(urio_wg_done(&wg), 0);
	ASSERT_EQ(urio_join(b, &r), 0);
	ASSERT_EQ(r, 0);
	return 0;
}

static intptr_t wg_wait_timeout(void *arg)
{
	urio_wg_init(&wg);
	ASSERT_EQ(urio_wg_add(&wg, 1), 0);
	ASSERT_EQ(urio_wg_wait_timeout(&wg, 5), -ETIMEDOUT);
	ASSERT_EQ(urio_wg_wait_timeout(&wg, 0), -ETIMEDOUT);
	ASSERT_EQ(urio_wg_waiters(&wg), 0);
	ASSERT_EQ(urio_wg_done(&wg), 0);
	ASSERT_EQ(urio_wg_wait_timeout(&wg, 5), 0);
	return 0;
}

static void *thread_done(void *arg)
{
	urio_wg_done(&wg);
	return NULL;
}

static intptr_t wg_thread_done(void *arg)
{
	pthread_t th[4];
	urio_wg_init(&wg);
	ASSERT_EQ(urio_wg_add(&wg, 4), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, thread_done, NULL), 0);
	ASSERT_EQ(urio_wg_wait(&wg), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	return 0;
}

/* --- rate limiter -------------------------------------------------------- */
static urio_limiter lim;

static intptr_t limiter_basic(void *arg)
{
	ASSERT_EQ(urio_limiter_init(&lim, 10, 3), 0);
	/* starts full: the burst at once, then nothing */
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(urio_limiter_try_acquire(&lim), 0);
	ASSERT_EQ(urio_limiter_try_acquire(&lim), -EAGAIN);
	/* the next token is ~100 ms away: a 1 ms bound takes nothing */
	ASSERT_EQ(urio_limiter_acquire_timeout(&lim, 1), -ETIMEDOUT);
	ASSERT_EQ(urio_limiter_acquire_timeout(&lim, 0), -ETIMEDOUT);
	/* waits for it */
	uint64_t t0 = urio_now_ns();
	ASSERT_EQ(urio_limiter_acquire(&lim), 0);
	ASSERT_GE(urio_now_ns() - t0, 50 * 1000000ull); /* it did wait */
	ASSERT_EQ(urio_limiter_try_acquire(&lim), -EAGAIN);
	return 0;
}

static intptr_t limiter_invalid(void *arg)
{
	urio_limiter zero = {{0}};
	ASSERT_EQ(urio_limiter_init(NULL, 1, 1), -EINVAL);
	ASSERT_EQ(urio_limiter_init(&lim, 0, 1), -EINVAL);
	ASSERT_EQ(urio_limiter_init(&lim, 1, 0), -EINVAL);
	ASSERT_EQ(urio_limiter_init(&lim, 2000000000u, 1), -EINVAL);
	ASSERT_EQ(urio_limiter_acquire(NULL), -EINVAL);
	ASSERT_EQ(urio_limiter_try_acquire(NULL), -EINVAL);
	ASSERT_EQ(urio_limiter_acquire_timeout(NULL, 1), -EINVAL);
	ASSERT_EQ(urio_limiter_acquire(&zero), -EINVAL); /* never initialised */
	ASSERT_EQ(urio_event_wait(NULL), -EINVAL);
	ASSERT_EQ(urio_event_wait_timeout(NULL, 1), -EINVAL);
	ASSERT(!urio_event_is_set(NULL));
	urio_event_set(NULL);
	urio_event_clear(NULL);
	urio_event_init(NULL);
	ASSERT_EQ(urio_event_waiters(NULL), 0);
	ASSERT_EQ(urio_wg_add(NULL, 1), -EINVAL);
	ASSERT_EQ(urio_wg_done(NULL), -EINVAL);
	ASSERT_EQ(urio_wg_wait(NULL), -EINVAL);
	ASSERT_EQ(urio_wg_wait_timeout(NULL, 1), -EINVAL);
	urio_wg_init(NULL);
	return 0;
}

/* Many tasks on every worker share a fast limiter: over the run, no more
 * tokens are taken than the burst plus the rate allows (checked against
 * the clock afterwards, with a whole interval of slack). */
#define LIM_RATE 2000
#define LIM_BURST 5
#define LIM_TASKS 16
#define LIM_EACH 10
static atomic_int lim_taken;

static intptr_t lim_user(void *arg)
{
	for (int i = 0; i < LIM_EACH; i++) {
		int r = urio_limiter_acquire(&lim);
		if (r < 0)
			return r;
		atomic_fetch_add(&lim_taken, 1);
	}
	return 0;
}

static intptr_t limiter_rate(void *arg)
{
	urio_task *ts[LIM_TASKS];
	ASSERT_EQ(urio_limiter_init(&lim, LIM_RATE, LIM_BURST), 0);
	atomic_store(&lim_taken, 0);
	uint64_t t0 = urio_now_ns();
	for (int i = 0; i < LIM_TASKS; i++)
		ASSERT((ts[i] = urio_spawn(lim_user, NULL)));
	for (int i = 0; i < LIM_TASKS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(ts[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	uint64_t ns = urio_now_ns() - t0;
	int n = LIM_TASKS * LIM_EACH;
	ASSERT_EQ(atomic_load(&lim_taken), n);
	/* n tokens need at least (n - burst) intervals */
	ASSERT_GE(ns, (uint64_t)(n - LIM_BURST - 1) * (1000000000u / LIM_RATE));
	return 0;
}

/* A sleeper cancelled before its token is due gives it back: the token
 * goes to the next caller, which then waits no longer than one interval. */
static intptr_t lim_sleeper(void *arg)
{
	return urio_limiter_acquire(&lim);
}

static intptr_t limiter_acquire_cancelled(void *arg)
{
	ASSERT_EQ(urio_limiter_init(&lim, 10, 1), 0); /* one per 100 ms */
	ASSERT_EQ(urio_limiter_try_acquire(&lim), 0);
	urio_task *a = urio_spawn(lim_sleeper, NULL);
	urio_sleep_ms(2); /* a most likely sleeps for the next token now */
	urio_cancel(a);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	/* a's token came back: ours is due within one interval, not two
	 * (a loaded machine only makes the wait shorter) */
	ASSERT_EQ(urio_limiter_acquire_timeout(&lim, 101), 0);
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_limiter_acquire(&lim), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(urio_limiter_acquire_timeout(&lim, 101), 0);
	return 0;
}

static void *thread_lim(void *arg)
{
	return (void *)(intptr_t)urio_limiter_acquire(&lim);
}

static intptr_t limiter_thread(void *arg)
{
	ASSERT_EQ(urio_limiter_init(&lim, 1000, 1), 0);
	pthread_t th;
	ASSERT_EQ(urio_limiter_acquire(&lim), 0);
	ASSERT_EQ(pthread_create(&th, NULL, thread_lim, NULL), 0);
	void *res = (void *)1;
	pthread_join(th, &res); /* sleeps about a millisecond */
	ASSERT(res == NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct sync_case cases[] = {
		CASE(event_basic),
		CASE(event_wait_cancelled),
		CASE(event_wait_timeout),
		CASE(event_thread_set),
		CASE(wg_basic),
		CASE(wg_wait_cancelled),
		CASE(wg_wait_timeout),
		CASE(wg_thread_done),
		CASE_SLOW(limiter_basic),
		CASE(limiter_invalid),
		CASE_SLOW(limiter_rate),
		CASE_SLOW(limiter_acquire_cancelled),
		CASE(limiter_thread),
	};
	return run_cases("sync_event", cases,
			 sizeof(cases) / sizeof(cases[0]), argc, argv);
}
