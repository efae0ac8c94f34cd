/* Futures: set from another task, a foreign thread and an offload thread;
 * many waiters (tasks and plain threads); fail and cancel; a cancelled
 * waiter, a deadline, cancel racing set; done callbacks (where they run,
 * in which order); -EALREADY; references; bad arguments. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static const urio_config two = {.workers = 2};
static urio_rt *shared; /* quick mode's one runtime for every case */

/* fn on a 2-worker runtime: its own, or in quick mode the shared one */
static int run2(urio_fn fn, void *arg, intptr_t *res)
{
	if (shared)
		return urio_rt_block_on(shared, fn, arg, res);
	return urio_run(&two, fn, arg, res);
}

static void basics(void)
{
	intptr_t v = 0;
	urio_future *f = urio_future_new();
	ASSERT(f);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_PENDING);
	ASSERT_EQ(urio_future_result(f, &v), -EAGAIN);
	ASSERT_EQ(urio_future_set(f, 7), 0);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_FINISHED);
	ASSERT_EQ(urio_future_set(f, 8), -EALREADY);
	ASSERT_EQ(urio_future_fail(f, -EIO), -EALREADY);
	ASSERT_EQ(urio_future_cancel(f), -EALREADY);
	ASSERT_EQ(urio_future_result(f, &v), 0);
	ASSERT_EQ(v, 7);
	v = 0;
	ASSERT_EQ(urio_future_wait(f, &v), 0); /* done: no wait, any thread */
	ASSERT_EQ(v, 7);
	ASSERT_EQ(urio_future_wait(f, NULL), 0);
	urio_future_free(f);

	f = urio_future_new();
	ASSERT_EQ(urio_future_fail(f, 5), -EINVAL);
	ASSERT_EQ(urio_future_fail(f, 0), -EINVAL);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_PENDING);
	ASSERT_EQ(urio_future_fail(f, -EIO), 0);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_FINISHED);
	v = 1;
	ASSERT_EQ(urio_future_wait(f, &v), -EIO);
	ASSERT_EQ(v, 1);
	urio_future_free(f);

	f = urio_future_new();
	ASSERT_EQ(urio_future_cancel(f), 0);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_CANCELLED);
	ASSERT_EQ(urio_future_cancel(f), -EALREADY);
	ASSERT_EQ(urio_future_set(f, 1), -EALREADY);
	ASSERT_EQ(urio_future_wait(f, &v), -ECANCELED);
	ASSERT_EQ(urio_future_result(f, &v), -ECANCELED);
	/* references: three owners, the last free frees */
	ASSERT(urio_future_ref(f) == f);
	ASSERT(urio_future_ref(f) == f);
	urio_future_free(f);
	urio_future_free(f);
	ASSERT_EQ(urio_future_state(f), URIO_FUTURE_CANCELLED);
	urio_future_free(f);

	ASSERT_EQ(urio_future_set(NULL, 1), -EINVAL);
	ASSERT_EQ(urio_future_fail(NULL, -EIO), -EINVAL);
	ASSERT_EQ(urio_future_cancel(NULL), -EINVAL);
	ASSERT_EQ(urio_future_wait(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_future_result(NULL, &v), -EINVAL);
	ASSERT_EQ(urio_future_state(NULL), -EINVAL);
	ASSERT_EQ(urio_future_on_done(NULL, NULL, NULL), -EINVAL);
	ASSERT(urio_future_ref(NULL) == NULL);
	urio_future_free(NULL);
	f = urio_future_new();
	ASSERT_EQ(urio_future_on_done(f, NULL, NULL), -EINVAL);
	urio_future_free(f);
}

/* --- waiters on tasks, completed by a task on any worker ---------------- */

struct many {
	urio_future *f;
	atomic_int parked;
	intptr_t want; /* the value, or a negative expected wait result */
};

static intptr_t waiter(void *arg)
{
	struct many *m = arg;
	intptr_t v = -1;
	atomic_fetch_add(&m->parked, 1);
	int r = urio_future_wait(m->f, &v);
	if (m->want < 0) {
		ASSERT_EQ(r, m->want);
		return 0;
	}
	ASSERT_EQ(r, 0);
	ASSERT_EQ(v, m->want);
	return 0;
}

static intptr_t setter(void *arg)
{
	urio_future *f = arg; /* this task's own reference */
	urio_sleep_ms(2);
	ASSERT_EQ(urio_future_set(f, 42), 0);
	ASSERT_EQ(urio_future_set(f, 43), -EALREADY);
	urio_future_free(f);
	return 0;
}

struct placed {
	struct many *m;
	int worker; /* where the waiter parked */
};

static intptr_t placed_waiter(void *arg)
{
	struct placed *p = arg;
	intptr_t v = -1;
	p->worker = urio_worker_index();
	atomic_fetch_add(&p->m->parked, 1);
	ASSERT_EQ(urio_future_wait(p->m->f, &v), 0);
	ASSERT_EQ(v, p->m->want);
	return 0;
}

static intptr_t task_waiters(void *arg)
{
	for (int round = 0; round < QUICK(20, 1); round++) {
		/* a task on another worker sets */
		struct many m = {.f = urio_future_new(), .want = 42};
		urio_task *w[32];
		for (int i = 0; i < 32; i++)
			ASSERT(w[i] = urio_spawn(waiter, &m));
		POLL(atomic_load(&m.parked) == 32);
		urio_task *s = urio_spawn(setter, urio_future_ref(m.f));
		ASSERT_EQ(urio_join(s, NULL), 0);
		for (int i = 0; i < 32; i++)
			ASSERT_EQ(urio_join(w[i], NULL), 0);
		urio_future_free(m.f);

		/* Certainly across workers: this task keeps its worker busy
		 * (no suspension), so the other worker must run the waiters;
		 * then it sets from here. */
		struct many n = {.f = urio_future_new(), .want = 43};
		struct placed p[16];
		int me = urio_worker_index();
		for (int i = 0; i < 16; i++) {
			p[i] = (struct placed){.m = &n, .worker = -1};
			ASSERT(w[i] = urio_spawn(placed_waiter, &p[i]));
		}
		for (int i = 0; atomic_load(&n.parked) < 16; i++) {
			ASSERT(i < 100000); /* 10 s */
			usleep(100);
		}
		usleep(2000); /* most are asleep in the wait by now */
		ASSERT_EQ(urio_worker_index(), me);
		ASSERT_EQ(urio_future_set(n.f, 43), 0);
		for (int i = 0; i < 16; i++) {
			ASSERT_EQ(urio_join(w[i], NULL), 0);
			ASSERT(p[i].worker != me && p[i].worker >= 0);
		}
		urio_future_free(n.f);
	}
	return 0;
}

/* fail and cancel reach every waiter */
static intptr_t fail_cancel(void *arg)
{
	for (int kind = 0; kind < 2; kind++) {
		struct many m = {.f = urio_future_new(),
				 .want = kind ? -ECANCELED : -EPIPE};
		urio_task *w[8];
		for (int i = 0; i < 8; i++)
			w[i] = urio_spawn(waiter, &m);
		POLL(atomic_load(&m.parked) == 8);
		urio_sleep_ms(1);
		if (kind)
			ASSERT_EQ(urio_future_cancel(m.f), 0);
		else
			ASSERT_EQ(urio_future_fail(m.f, -EPIPE), 0);
		for (int i = 0; i < 8; i++)
			ASSERT_EQ(urio_join(w[i], NULL), 0);
		ASSERT_EQ(urio_future_state(m.f),
			  kind ? URIO_FUTURE_CANCELLED : URIO_FUTURE_FINISHED);
		urio_future_free(m.f);
	}
	return 0;
}

/* --- a foreign thread completes, plain threads wait ---------------------- */

static void *thread_setter(void *arg)
{
	urio_future *f = arg; /* the thread's own reference */
	usleep(5000);
	ASSERT_EQ(urio_future_set(f, 99), 0);
	urio_future_free(f);
	return NULL;
}

static void *thread_waiter(void *arg)
{
	struct many *m = arg;
	intptr_t v = 0;
	atomic_fetch_add(&m->parked, 1);
	ASSERT_EQ(urio_future_wait(m->f, &v), 0);
	ASSERT_EQ(v, m->want);
	return NULL;
}

/* The runtime is freed only after the setter thread has returned from
 * urio_future_set: a foreign waker's urio__ready still touches the runtime
 * after the woken task may have finished (see the note in the report). */
struct foreign_set {
	urio_future *f;
	pthread_t th;
};

static intptr_t wait_then_join(void *arg)
{
	struct foreign_set *fs = arg;
	intptr_t v = 0;
	ASSERT_EQ(urio_future_wait(fs->f, &v), 0);
	pthread_join(fs->th, NULL);
	return v;
}

static intptr_t wait_one(void *arg)
{
	intptr_t v = 0;
	ASSERT_EQ(urio_future_wait(arg, &v), 0);
	return v;
}

static intptr_t task_sets_late(void *arg)
{
	struct many *m = arg;
	POLL(atomic_load(&m->parked) == 4);
	urio_sleep_ms(2); /* the threads are probably asleep by now */
	ASSERT_EQ(urio_future_set(m->f, m->want), 0);
	return 0;
}

static void foreign(void)
{
	/* a thread the runtime does not own sets; a task waits */
	struct foreign_set fs = {.f = urio_future_new()};
	pthread_create(&fs.th, NULL, thread_setter, urio_future_ref(fs.f));
	intptr_t r = 0;
	ASSERT_EQ(run2(wait_then_join, &fs, &r), 0);
	ASSERT_EQ(r, 99);
	urio_future_free(fs.f);

	/* plain threads wait (futex); a task sets */
	struct many m = {.f = urio_future_new(), .want = 1234};
	pthread_t ths[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&ths[i], NULL, thread_waiter, &m);
	ASSERT_EQ(run2(task_sets_late, &m, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(ths[i], NULL);
	urio_future_free(m.f);
}

/* --- completed by an offloaded function on a pool thread ----------------- */

static intptr_t offload_set(void *arg)
{
	ASSERT_EQ(urio_worker_index(), -1);
	usleep(2000);
	return urio_future_set(arg, 77);
}

static intptr_t from_offload(void *arg)
{
	urio_future *f = urio_future_new();
	urio_task *w = urio_spawn(wait_one, f);
	ASSERT_EQ(urio_offload(offload_set, f), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(w, &r), 0);
	ASSERT_EQ(r, 77);
	urio_future_free(f);
	/* let the pool thread leave urio__ready before the runtime goes */
	urio_exec_stats st;
	do
		urio_executor_stats(urio_offload_executor(), &st);
	while (st.running && urio_sleep_ms(1) == 0);
	return 0;
}

/* --- the waiter is cancelled; the future is not -------------------------- */

static intptr_t wait_ret(void *arg)
{
	struct many *m = arg;
	atomic_fetch_add(&m->parked, 1);
	intptr_t v = 0;
	int r = urio_future_wait(m->f, &v);
	return r < 0 ? r : v;
}

static intptr_t canceller(void *arg)
{
	urio_cancel(arg);
	return 0;
}

static intptr_t set_task(void *arg)
{
	urio_future_set(arg, 5);
	return 0;
}

static intptr_t waiter_cancelled(void *arg)
{
	struct many m = {.f = urio_future_new()};
	urio_task *t = urio_spawn(wait_ret, &m);
	POLL(atomic_load(&m.parked) == 1);
	urio_sleep_ms(1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_future_state(m.f), URIO_FUTURE_PENDING);
	ASSERT_EQ(urio_future_set(m.f, 3), 0); /* nobody waits any more */
	urio_future_free(m.f);

	/* a deadline scope cancels the wait; the scope reports it */
	urio_future *f = urio_future_new();
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_future_wait(f, NULL), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	/* a done future returns at once even to a cancelled task */
	urio_future_set(f, 11);
	urio_timeout_enter(&d, 0);
	intptr_t v = 0;
	ASSERT_EQ(urio_future_wait(f, &v), 0);
	ASSERT_EQ(v, 11);
	urio_timeout_exit(&d);
	urio_future_free(f);

	/* cancel racing set, across workers: each waiter ends one way or
	 * the other, never hangs, never both */
	int got = 0, cancelled = 0;
	const int races = QUICK(300, 20);
	for (int i = 0; i < races; i++) {
		struct many x = {.f = urio_future_new()};
		urio_task *w = urio_spawn(wait_ret, &x);
		if (i % 2)
			POLL(atomic_load(&x.parked) == 1);
		urio_task *c = urio_spawn(canceller, w);
		urio_task *s = urio_spawn(set_task, x.f);
		ASSERT_EQ(urio_join(c, NULL), 0);
		ASSERT_EQ(urio_join(s, NULL), 0);
		int jr = urio_join(w, &r);
		if (r == 5) {
			got++;
		} else {
			ASSERT_EQ(r, -ECANCELED);
			ASSERT_EQ(jr, -ECANCELED);
			cancelled++;
		}
		urio_future_free(x.f);
	}
	ASSERT_EQ(got + cancelled, races);
	return 0;
}

/* --- done callbacks ------------------------------------------------------- */

struct cbrec {
	int order[8];
	atomic_int n;
	pthread_t thread[8];
	urio_future *f;
};

static void cb_record(urio_future *f, void *arg)
{
	struct cbrec *c = arg;
	int i = atomic_fetch_add(&c->n, 1);
	ASSERT(i < 8);
	c->order[i] = i;
	c->thread[i] = pthread_self();
	ASSERT(f == c->f);
	/* the future is done and usable inside its callback */
	intptr_t v = 0;
	ASSERT_EQ(urio_future_result(f, &v), 0);
	ASSERT_EQ(v, 21);
	ASSERT_EQ(urio_future_set(f, 0), -EALREADY);
}

static void cb_order(urio_future *f, void *arg)
{
	int *seq = arg;
	seq[seq[0] + 1] = seq[0];
	seq[0]++;
}

/* the callback owns a reference and drops it: the usual pattern */
static void cb_free(urio_future *f, void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	urio_future_free(f);
}

static void never(urio_future *f, void *arg)
{
	ASSERT(!"a callback of a future freed while pending ran");
}

static void *thread_set21(void *arg)
{
	ASSERT_EQ(urio_future_set(arg, 21), 0);
	return NULL;
}

static intptr_t cb_in_task(void *arg)
{
	struct cbrec *c = arg;
	ASSERT_EQ(urio_future_set(c->f, 21), 0);
	return 0;
}

static void callbacks(void)
{
	/* before completion: runs on the completing thread */
	struct cbrec c = {.f = urio_future_new()};
	ASSERT_EQ(urio_future_on_done(c.f, cb_record, &c), 0);
	ASSERT_EQ(atomic_load(&c.n), 0);
	pthread_t th;
	pthread_create(&th, NULL, thread_set21, c.f);
	pthread_join(th, NULL);
	ASSERT_EQ(atomic_load(&c.n), 1);
	ASSERT(pthread_equal(c.thread[0], th));
	/* after completion: at once, on the caller */
	ASSERT_EQ(urio_future_on_done(c.f, cb_record, &c), 0);
	ASSERT_EQ(atomic_load(&c.n), 2);
	ASSERT(pthread_equal(c.thread[1], pthread_self()));
	urio_future_free(c.f);

	/* completed inside a task: the callback runs in that task */
	struct cbrec t = {.f = urio_future_new()};
	ASSERT_EQ(urio_future_on_done(t.f, cb_record, &t), 0);
	ASSERT_EQ(run2(cb_in_task, &t, NULL), 0);
	ASSERT_EQ(atomic_load(&t.n), 1);
	urio_future_free(t.f);

	/* order of registration */
	int seq[9] = {0};
	urio_future *f = urio_future_new();
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(urio_future_on_done(f, cb_order, seq), 0);
	urio_future_cancel(f);
	ASSERT_EQ(seq[0], 5);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(seq[i + 1], i);
	urio_future_free(f);

	/* a callback that holds the last reference frees the future */
	atomic_int freed = 0;
	f = urio_future_new();
	ASSERT_EQ(urio_future_on_done(f, cb_free, &freed), 0);
	urio_future_ref(f); /* the completer's */
	urio_future_free(f); /* the creator lets go */
	ASSERT_EQ(urio_future_fail(f, -EIO), 0);
	ASSERT_EQ(atomic_load(&freed), 1);

	/* freed while pending: its callbacks never run, nothing leaks */
	f = urio_future_new();
	ASSERT_EQ(urio_future_on_done(f, never, NULL), 0);
	urio_future_free(f);
}

/* --- stress: threads complete, tasks wait, some are cancelled ------------ */

#define NF 256

static urio_future *sf[NF];

static void *stress_setter(void *arg)
{
	intptr_t k = (intptr_t)arg;
	for (intptr_t i = k; i < NF; i += 4) {
		if (i % 7 == 0)
			urio_future_fail(sf[i], -EIO);
		else
			urio_future_set(sf[i], i);
		urio_future_free(sf[i]); /* the setter's reference */
		if (i % 16 == 0)
			usleep(100);
	}
	return NULL;
}

static intptr_t stress_wait(void *arg)
{
	intptr_t i = (intptr_t)arg, v = -1;
	int r = urio_future_wait(sf[i], &v);
	if (r == -ECANCELED)
		return -ECANCELED;
	if (i % 7 == 0) {
		ASSERT_EQ(r, -EIO);
		return 0;
	}
	ASSERT_EQ(r, 0);
	ASSERT_EQ(v, i);
	return 0;
}

static intptr_t stress(void *arg)
{
	urio_task *t[NF * 2];
	for (intptr_t i = 0; i < NF * 2; i++)
		ASSERT(t[i] = urio_spawn(stress_wait, (void *)(i / 2)));
	pthread_t th[4];
	for (intptr_t k = 0; k < 4; k++)
		pthread_create(&th[k], NULL, stress_setter, (void *)k);
	for (int i = 0; i < NF * 2; i += 5)
		urio_cancel(t[i]);
	for (int i = 0; i < NF * 2; i++) {
		intptr_t r;
		urio_join(t[i], &r);
		ASSERT(r == 0 || (r == -ECANCELED && i % 5 == 0));
	}
	for (int k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	return 0;
}

static int suite(void *unused)
{
	if (test_quick())
		ASSERT((shared = urio_rt_new(&two)));
	basics();
	ASSERT_EQ(run2(task_waiters, NULL, NULL), 0);
	ASSERT_EQ(run2(fail_cancel, NULL, NULL), 0);
	foreign();
	ASSERT_EQ(run2(from_offload, NULL, NULL), 0);
	ASSERT_EQ(run2(waiter_cancelled, NULL, NULL), 0);
	callbacks();
	for (int round = 0; round < QUICK(5, 1); round++) {
		for (int i = 0; i < NF; i++) {
			sf[i] = urio_future_new();
			urio_future_ref(sf[i]); /* for the setter thread */
		}
		ASSERT_EQ(run2(stress, NULL, NULL), 0);
		for (int i = 0; i < NF; i++)
			urio_future_free(sf[i]);
	}
	if (shared)
		urio_rt_free(shared);
	shared = NULL;
	if (!test_quick())
		puts("future: ok");
	return 0;
}

int main(void)
{
	return test_fuzz_seeds(suite, NULL);
}
