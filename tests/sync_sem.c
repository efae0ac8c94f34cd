/* Counting semaphore: admission bound across workers, FIFO without
 * barging, cancelled and timed-out waiters that hand their turn on (a storm
 * of them, then the permits are counted), plain-thread release and waits,
 * scopes and guards, bad arguments. */
#include <errno.h>
#include <pthread.h>
#include <urio.h>

#include "sync_cases.h"

#define SMALL_STACK (64u << 10)

static urio_sem sem;

static intptr_t sem_basic(void *arg)
{
	urio_sem_init(&sem, 3);
	ASSERT_EQ(urio_sem_available(&sem), 3);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(urio_sem_try_acquire(&sem), 0);
	ASSERT_EQ(urio_sem_try_acquire(&sem), -EAGAIN);
	ASSERT_EQ(urio_sem_acquire_timeout(&sem, 0), -ETIMEDOUT);
	urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_acquire(&sem), 0);
	for (int i = 0; i < 3; i++)
		urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_acquire_timeout(&sem, 1000), 0);
	urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_available(&sem), 3);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	return 0;
}

static int body_check(void *res, void *ctx);

static intptr_t sem_invalid(void *arg)
{
	ASSERT_EQ(urio_sem_acquire(NULL), -EINVAL);
	ASSERT_EQ(urio_sem_try_acquire(NULL), -EINVAL);
	ASSERT_EQ(urio_sem_acquire_timeout(NULL, 5), -EINVAL);
	urio_sem_release(NULL);
	urio_sem_init(NULL, 1);
	ASSERT_EQ(urio_sem_available(NULL), 0);
	ASSERT_EQ(urio_sem_waiters(NULL), 0);
	int ok = 0;
	ASSERT_EQ(urio_with(&urio_sem_scope, NULL, body_check, &ok), -EINVAL);
	return 0;
}

/* --- never more than N inside, 10k tasks on every worker --------------- */
#define ADMIT_N 3
/* TSan gives each live fiber its own shadow stack, and creating one costs
 * milliseconds: fewer tasks there (2k), 10k elsewhere, in waves of at most
 * ADMIT_WAVE alive at once. */
#if UNDER_TSAN
#define ADMIT_TASKS 2000
#else
#define ADMIT_TASKS 10000
#endif
#define ADMIT_WAVE QUICK(1000, 100)
static atomic_int inside, max_inside, admitted;

static intptr_t admit_one(void *arg)
{
	int r = urio_sem_acquire(&sem);
	if (r < 0)
		return r;
	int now = atomic_fetch_add(&inside, 1) + 1;
	int m = atomic_load(&max_inside);
	while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now))
		;
	urio_yield(); /* hold it across a switch: others must queue */
	atomic_fetch_sub(&inside, 1);
	atomic_fetch_add(&admitted, 1);
	urio_sem_release(&sem);
	return 0;
}

static intptr_t sem_admission(void *arg)
{
	static urio_task *ts[ADMIT_TASKS];
	urio_sem_init(&sem, ADMIT_N);
	atomic_store(&inside, 0);
	atomic_store(&max_inside, 0);
	atomic_store(&admitted, 0);
	int n = QUICK(ADMIT_TASKS, 2 * ADMIT_WAVE);
	for (int w = 0; w < n; w += ADMIT_WAVE) {
		for (int i = w; i < w + ADMIT_WAVE; i++)
			ASSERT((ts[i] = urio_spawn_ex(admit_one, NULL,
						      SMALL_STACK)));
		for (int i = w; i < w + ADMIT_WAVE; i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_join(ts[i], &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	ASSERT_EQ(atomic_load(&admitted), n);
	ASSERT(atomic_load(&max_inside) <= ADMIT_N);
	ASSERT_GE(atomic_load(&max_inside), 1);
	ASSERT_EQ(urio_sem_available(&sem), ADMIT_N);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	return 0;
}

/* --- FIFO, no barging ---------------------------------------------------- */
#define FIFO_N 8
static int order[FIFO_N];
static atomic_int norder;

static intptr_t fifo_waiter(void *arg)
{
	int r = urio_sem_acquire(&sem);
	if (r < 0)
		return r;
	order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)arg;
	return 0; /* keeps the permit: the test hands them out one by one */
}

static intptr_t sem_fifo(void *arg)
{
	urio_task *ts[FIFO_N];
	urio_sem_init(&sem, 0);
	atomic_store(&norder, 0);
	for (intptr_t i = 0; i < FIFO_N; i++) {
		ASSERT((ts[i] = urio_spawn(fifo_waiter, (void *)i)));
		POLL(urio_sem_waiters(&sem) == (unsigned)i + 1);
	}
	for (int i = 0; i < FIFO_N; i++) {
		urio_sem_release(&sem);
		/* the permit went to the first waiter: nothing to barge for */
		ASSERT_EQ(urio_sem_try_acquire(&sem), -EAGAIN);
		ASSERT_EQ(urio_join(ts[i], NULL), 0);
		ASSERT_EQ(atomic_load(&norder), i + 1);
		ASSERT_EQ(order[i], i);
	}
	ASSERT_EQ(urio_sem_available(&sem), 0);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	return 0;
}

/* --- named failure paths ------------------------------------------------- */
static intptr_t acquirer(void *arg)
{
	int r = urio_sem_acquire(&sem);
	if (r == 0)
		urio_sem_release(&sem);
	return r;
}

static intptr_t sem_acquire_cancelled(void *arg)
{
	urio_sem_init(&sem, 1);
	ASSERT_EQ(urio_sem_acquire(&sem), 0);
	urio_task *a = urio_spawn(acquirer, NULL);
	urio_task *b = urio_spawn(acquirer, NULL);
	POLL(urio_sem_waiters(&sem) == 2);
	ASSERT_EQ(urio_cancel(a), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_sem_waiters(&sem), 1);
	urio_sem_release(&sem); /* to b, not lost on a */
	ASSERT_EQ(urio_join(b, &r), 0);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(urio_sem_available(&sem), 1);
	/* the last waiter cancelled: the fast paths work again */
	ASSERT_EQ(urio_sem_acquire(&sem), 0);
	a = urio_spawn(acquirer, NULL);
	POLL(urio_sem_waiters(&sem) == 1);
	urio_cancel(a);
	ASSERT_EQ(urio_join(a, &r), -ECANCELED);
	urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_available(&sem), 1);
	ASSERT_EQ(urio_sem_try_acquire(&sem), 0);
	urio_sem_release(&sem);
	return 0;
}

/* A permit handed to a waiter as its cancel comes is passed on. On one
 * worker the order is exact: release grants a, the cancel finds a already
 * unlinked, and a resumes granted but cancelled. */
static intptr_t sem_acquire_cancel_after_grant(void *arg)
{
	bool one = (intptr_t)arg == 1;
	urio_sem_init(&sem, 1);
	ASSERT_EQ(urio_sem_acquire(&sem), 0);
	urio_task *a = urio_spawn(acquirer, NULL);
	POLL(urio_sem_waiters(&sem) == 1);
	urio_task *b = urio_spawn(acquirer, NULL);
	POLL(urio_sem_waiters(&sem) == 2);
	urio_sem_release(&sem);
	urio_cancel(a);
	intptr_t r = 0;
	urio_join(a, &r);
	if (one)
		ASSERT_EQ(r, -ECANCELED);
	else
		ASSERT(r == 0 || r == -ECANCELED);
	ASSERT_EQ(urio_join(b, &r), 0);
	ASSERT_EQ(r, 0); /* b got the permit a passed on (or released) */
	ASSERT_EQ(urio_sem_available(&sem), 1);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	return 0;
}

static intptr_t sem_acquire_timeout(void *arg)
{
	urio_sem_init(&sem, 1);
	ASSERT_EQ(urio_sem_acquire(&sem), 0);
	ASSERT_EQ(urio_sem_acquire_timeout(&sem, 5), -ETIMEDOUT);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_available(&sem), 1);
	return 0;
}

static intptr_t sem_acquire_deadline(void *arg)
{
	urio_sem_init(&sem, 0);
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_sem_acquire(&sem), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	urio_sem_release(&sem);
	ASSERT_EQ(urio_sem_available(&sem), 1);
	return 0;
}

/* --- a storm of cancels and timeouts, then count the permits ----------- */
#define STORM_N 4
#define STORM_TASKS_MAX 400
#define STORM_TASKS QUICK(STORM_TASKS_MAX, 32)
#define STORM_ROUNDS QUICK(20, 3)
static atomic_int storm_inside, storm_bad;

static intptr_t stormer(void *arg)
{
	intptr_t k = (intptr_t)arg;
	for (int i = 0; i < STORM_ROUNDS; i++) {
		int r = (k + i) % 3 == 0 ? urio_sem_acquire_timeout(&sem, 1)
					 : urio_sem_acquire(&sem);
		if (r == -ECANCELED)
			return r; /* cancelled: every later wait fails too */
		if (r < 0)
			continue;
		if (atomic_fetch_add(&storm_inside, 1) >= STORM_N)
			atomic_fetch_add(&storm_bad, 1);
		urio_yield();
		atomic_fetch_sub(&storm_inside, 1);
		urio_sem_release(&sem);
	}
	return 0;
}

static intptr_t sem_cancel_storm(void *arg)
{
	static urio_task *ts[STORM_TASKS_MAX];
	urio_sem_init(&sem, STORM_N);
	atomic_store(&storm_inside, 0);
	atomic_store(&storm_bad, 0);
	for (intptr_t i = 0; i < STORM_TASKS; i++)
		ASSERT((ts[i] = urio_spawn_ex(stormer, (void *)i, SMALL_STACK)));
	uint32_t rng = 12345;
	for (int i = 0; i < STORM_TASKS; i++) {
		rng = rng * 1103515245u + 12345u;
		if ((rng >> 16) % 2 == 0)
			urio_cancel(ts[i]);
		if (i % 16 == 0)
			urio_yield();
	}
	for (int i = 0; i < STORM_TASKS; i++)
		urio_join(ts[i], NULL);
	ASSERT_EQ(atomic_load(&storm_bad), 0);
	ASSERT_EQ(urio_sem_waiters(&sem), 0);
	ASSERT_EQ(urio_sem_available(&sem), STORM_N);
	int n = 0;
	while (urio_sem_try_acquire(&sem) == 0)
		n++;
	ASSERT_EQ(n, STORM_N);
	return 0;
}

/* --- plain threads: release to tasks, wait with and without timeout ---- */
#define THR_WAITERS 16
static void *thread_releaser(void *arg)
{
	for (int i = 0; i < THR_WAITERS; i++)
		urio_sem_release(&sem);
	return NULL;
}

static atomic_int timed_out;

static void *thread_acquirer(void *arg)
{
	/* nothing free: a timed wait times out, then a plain wait is woken
	 * by a task's release */
	intptr_t r = urio_sem_acquire_timeout(&sem, 5);
	if (r != -ETIMEDOUT)
		return (void *)(r - 1000);
	atomic_store(&timed_out, 1);
	r = urio_sem_acquire(&sem);
	return (void *)r;
}

static intptr_t keeper(void *arg)
{
	return urio_sem_acquire(&sem);
}

static intptr_t sem_thread_release(void *arg)
{
	urio_task *ts[THR_WAITERS];
	urio_sem_init(&sem, 0);
	for (int i = 0; i < THR_WAITERS; i++)
		ASSERT((ts[i] = urio_spawn(keeper, NULL)));
	POLL(urio_sem_waiters(&sem) == THR_WAITERS);
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, thread_releaser, NULL), 0);
	for (int i = 0; i < THR_WAITERS; i++) {
		intptr_t r = -1;
		ASSERT_EQ(urio_join(ts[i], &r), 0);
		ASSERT_EQ(r, 0);
	}
	pthread_join(th, NULL);
	ASSERT_EQ(urio_sem_available(&sem), 0);

	atomic_store(&timed_out, 0);
	ASSERT_EQ(pthread_create(&th, NULL, thread_acquirer, NULL), 0);
	POLL(atomic_load(&timed_out));
	POLL(urio_sem_waiters(&sem) == 1);
	urio_sem_release(&sem);
	void *res = (void *)1;
	pthread_join(th, &res);
	ASSERT_EQ((intptr_t)res, 0);
	ASSERT_EQ(urio_sem_available(&sem), 0);
	return 0;
}

/* --- scope and guard ----------------------------------------------------- */
static int body_check(void *res, void *ctx)
{
	ASSERT_EQ(urio_sem_available(res), 0);
	return *(int *)ctx;
}

static intptr_t sem_scope(void *arg)
{
	urio_sem_init(&sem, 1);
	int ok = 3, bad = -EIO;
	ASSERT_EQ(urio_with(&urio_sem_scope, &sem, body_check, &ok), 3);
	ASSERT_EQ(urio_with(&urio_sem_scope, &sem, body_check, &bad), -EIO);
	ASSERT_EQ(urio_sem_available(&sem), 1);
	int err = 1;
	for (int i = 0; i < 2; i++) {
		URIO_WITH_SEM(err, &sem)
		{
			ASSERT_EQ(urio_sem_available(&sem), 0);
			if (i == 1)
				break;
		}
		ASSERT_EQ(err, 0);
		ASSERT_EQ(urio_sem_available(&sem), 1);
	}
	/* a guard whose acquire fails skips its block */
	urio_deadline d;
	urio_sem_init(&sem, 0);
	urio_timeout_enter(&d, 1);
	int ran = 0;
	URIO_WITH_SEM(err, &sem)
		ran = 1;
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	ASSERT_EQ(err, -ECANCELED);
	ASSERT_EQ(ran, 0);
	ASSERT_EQ(urio_sem_available(&sem), 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct sync_case cases[] = {
		CASE(sem_basic),
		CASE(sem_invalid),
		CASE(sem_admission),
		CASE(sem_fifo),
		CASE(sem_acquire_cancelled),
		CASE(sem_acquire_cancel_after_grant),
		CASE(sem_acquire_timeout),
		CASE(sem_acquire_deadline),
		CASE(sem_cancel_storm),
		CASE(sem_thread_release),
		CASE(sem_scope),
	};
	return run_cases("sync_sem", cases, sizeof(cases) / sizeof(cases[0]),
			 argc, argv);
}
