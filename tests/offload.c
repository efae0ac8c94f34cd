/* Offload: results and errors; 1000 concurrent calls on 8 threads, some
 * cancelled; task-local values seen by the pool thread (even after the
 * caller has gone); back-pressure; elastic growth and retirement; free
 * waiting for jobs; executor futures; the default pool; bad arguments.
 *
 * A "gate" holds jobs inside fn until the test opens it, so every check
 * is of a state, never of a time. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static urio_exec_stats stats_of(urio_executor *e)
{
	urio_exec_stats st;
	urio_executor_stats(e, &st);
	return st;
}

#define STATS(e, st) ((st) = stats_of(e))

/* Waits until e's threads are done with every job, so the runtime is freed
 * only after they returned from urio__ready (a pool thread touches the
 * runtime of the task it wakes after the wake: see the report). */
static void quiesce(urio_executor *e)
{
	urio_exec_stats st;
	POLL(STATS(e, st).running == 0 && st.queued == 0);
}

static const urio_config two = {.workers = 2};

/* --- the gate ------------------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static void gate_set(bool open)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = open;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static void gate_wait(void)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 15; /* a bound on a broken test, not a timing */
	pthread_mutex_lock(&gate_mu);
	while (!gate_open)
		ASSERT(pthread_cond_timedwait(&gate_cv, &gate_mu, &dl) == 0);
	pthread_mutex_unlock(&gate_mu);
}

/* --- jobs ----------------------------------------------------------------- */

struct call {
	urio_executor *e;
	intptr_t i;
	bool gated;
	intptr_t r;
	atomic_int ran;
};

static intptr_t job(void *arg)
{
	struct call *c = arg;
	ASSERT_EQ(urio_worker_index(), -1);
	ASSERT(urio_self() == NULL);
	if (c->gated)
		gate_wait();
	else if (c->i % 3 == 0)
		usleep(100);
	atomic_fetch_add(&c->ran, 1);
	return c->i * 2;
}

static intptr_t caller(void *arg)
{
	struct call *c = arg;
	c->r = c->e ? urio_executor_run(c->e, job, c) : urio_offload(job, c);
	return 0;
}

static intptr_t ret_errno(void *arg)
{
	return -EIO;
}

static pthread_t main_thread;

static intptr_t where(void *arg)
{
	return pthread_equal(pthread_self(), main_thread) ? 1 : 2;
}

/* --- results, errors, bad arguments --------------------------------------- */

static intptr_t cancelled_caller(void *arg)
{
	/* a task cancelled before the call: fn never runs */
	struct call never = {.i = 1}, c = {.i = 4};
	urio_cancel(urio_self());
	ASSERT_EQ(urio_offload(job, &never), -ECANCELED);
	/* cleanup code under a shield still may offload */
	urio_shield sh;
	urio_shield_enter(&sh);
	ASSERT_EQ(urio_offload(job, &c), 8);
	urio_shield_exit(&sh);
	ASSERT_EQ(atomic_load(&never.ran), 0);
	return 0;
}

static intptr_t basics_task(void *arg)
{
	struct call c = {.i = 21};
	ASSERT_EQ(urio_offload(job, &c), 42);
	ASSERT_EQ(urio_offload(where, NULL), 2); /* on a pool thread */
	ASSERT_EQ(urio_offload(ret_errno, NULL), -EIO);
	ASSERT_EQ(urio_offload(NULL, NULL), -EINVAL);
	ASSERT_EQ(urio_executor_run(NULL, job, &c), -EINVAL);
	ASSERT(urio_executor_submit(NULL, job, &c) == NULL && errno == EINVAL);
	urio_executor *e = urio_executor_new(NULL);
	ASSERT(e);
	ASSERT_EQ(urio_executor_run(e, NULL, NULL), -EINVAL);
	ASSERT(urio_executor_submit(e, NULL, NULL) == NULL && errno == EINVAL);
	ASSERT_EQ(urio_executor_run(e, job, &c), 42);
	ASSERT_EQ(urio_executor_set_max(e, 0), -EINVAL);
	ASSERT_EQ(urio_executor_set_max(NULL, 4), -EINVAL);
	urio_exec_stats st;
	quiesce(e); /* completed counts after the caller is woken */
	STATS(e, st);
	ASSERT_EQ(st.submitted, 1);
	ASSERT_EQ(st.completed, 1);
	ASSERT_EQ(st.max_threads, 64);
	urio_executor_free(e);

	urio_task *t = urio_spawn(cancelled_caller, NULL);
	ASSERT_EQ(urio_join(t, NULL), -ECANCELED);
	quiesce(urio_offload_executor());
	return 0;
}

static void basics(void)
{
	main_thread = pthread_self();
	/* outside a task: inline, on the calling thread */
	ASSERT_EQ(urio_offload(where, NULL), 1);
	ASSERT_EQ(urio_offload(NULL, NULL), -EINVAL);
	ASSERT_EQ(urio_run(&two, basics_task, NULL, NULL), 0);

	urio_executor_opts bad = {.min_threads = 3, .max_threads = 2};
	ASSERT(urio_executor_new(&bad) == NULL && errno == EINVAL);
	bad = (urio_executor_opts){.flags = 1u << 7};
	ASSERT(urio_executor_new(&bad) == NULL && errno == EINVAL);
	urio_executor_free(NULL);
	urio_executor_stats(NULL, NULL);

	/* a plain thread blocks in urio_executor_run */
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 1});
	struct call c = {.i = 5};
	ASSERT_EQ(urio_executor_run(e, job, &c), 10);
	ASSERT_EQ(urio_executor_run(e, where, NULL), 2);
	urio_executor_free(e);
}

/* --- 1000 concurrent calls on 8 threads, 100 cancelled ------------------- */

#define NCALLS 1000

static struct call calls[NCALLS]; /* outlives abandoned jobs */

static intptr_t thousand(void *arg)
{
	urio_executor *e = arg;
	urio_task *t[NCALLS];
	gate_set(false);
	for (int i = 0; i < NCALLS; i++) {
		calls[i] = (struct call){.e = e, .i = i, .gated = i % 10 == 0};
		ASSERT(t[i] = urio_spawn(caller, &calls[i]));
	}
	urio_exec_stats st;
	POLL(STATS(e, st).submitted == NCALLS);
	/* the gated calls cannot have finished: their cancel must end them
	 * now, whether their job is queued or blocked inside fn */
	for (int i = 0; i < NCALLS; i += 10)
		ASSERT_EQ(urio_cancel(t[i]), 0);
	for (int i = 0; i < NCALLS; i += 10) {
		ASSERT_EQ(urio_join(t[i], NULL), -ECANCELED);
		ASSERT_EQ(calls[i].r, -ECANCELED);
	}
	gate_set(true);
	for (int i = 0; i < NCALLS; i++) {
		if (i % 10 == 0)
			continue;
		ASSERT_EQ(urio_join(t[i], NULL), 0);
		ASSERT_EQ(calls[i].r, 2 * i);
		ASSERT_EQ(atomic_load(&calls[i].ran), 1);
	}
	/* the abandoned jobs finish (or were dropped) in the background */
	POLL(STATS(e, st).queued == 0 && st.running == 0);
	ASSERT_EQ(st.submitted, NCALLS);
	ASSERT_EQ(st.cancelled, NCALLS / 10);
	ASSERT_EQ(st.completed + st.dropped, NCALLS);
	ASSERT(st.dropped <= NCALLS / 10);
	ASSERT(st.threads <= 8 && st.peak_threads <= 8);
	ASSERT_EQ(st.peak_threads, 8); /* 100 blocked jobs filled the pool */
	ASSERT_EQ(st.rejected, 0);
	unsigned ran = 0;
	for (int i = 0; i < NCALLS; i += 10)
		ran += atomic_load(&calls[i].ran);
	ASSERT_EQ(ran, NCALLS / 10 - st.dropped);
	return 0;
}

/* --- task-local values ---------------------------------------------------- */

static urio_local_key kname, knum;
static atomic_int dtor_runs;

static void name_dtor(void *v)
{
	ASSERT_EQ(strcmp(v, "ctx-value"), 0);
	free(v);
	atomic_fetch_add(&dtor_runs, 1);
}

static intptr_t read_locals_nested(void *arg);

static intptr_t read_locals(void *arg)
{
	const char *s = urio_local_get(kname);
	if (!s || strcmp(s, "ctx-value"))
		return -EINVAL;
	ASSERT_EQ(urio_local_set(kname, NULL), -EPERM); /* read-only view */
	/* nested: an offload from a pool thread runs inline, same view */
	ASSERT(urio_offload(read_locals_nested, NULL) == 0);
	return (intptr_t)urio_local_get(knum);
}

static intptr_t read_locals_nested(void *arg)
{
	return urio_local_get(kname) ? 0 : -ENOENT;
}

static intptr_t locals_task(void *arg)
{
	ASSERT(urio_local_get(kname) == NULL);
	ASSERT_EQ(urio_offload(read_locals, NULL), -EINVAL);
	ASSERT_EQ(urio_local_set(kname, strdup("ctx-value")), 0);
	ASSERT_EQ(urio_local_set(knum, (void *)17), 0);
	ASSERT_EQ(urio_local_set(0, NULL), -EINVAL);
	ASSERT_EQ(urio_local_set(URIO_LOCAL_KEYS + 1, NULL), -EINVAL);
	ASSERT(urio_local_get(0) == NULL);
	ASSERT_EQ(strcmp(urio_local_get(kname), "ctx-value"), 0);
	ASSERT_EQ(urio_offload(read_locals, NULL), 17);
	urio_future *f = urio_executor_submit(urio_offload_executor(),
					      read_locals, NULL);
	intptr_t v = 0;
	ASSERT_EQ(urio_future_wait(f, &v), 0);
	ASSERT_EQ(v, 17);
	urio_future_free(f);
	urio_yield(); /* maybe to the other worker: values follow the task */
	ASSERT_EQ((intptr_t)urio_local_get(knum), 17);
	quiesce(urio_offload_executor());
	return 0;
}

static intptr_t locals_other(void *arg)
{
	/* each task has its own values */
	ASSERT(urio_local_get(kname) == NULL);
	ASSERT_EQ(urio_local_set(knum, (void *)3), 0);
	ASSERT_EQ(urio_offload(read_locals_nested, NULL), -ENOENT);
	quiesce(urio_offload_executor());
	return (intptr_t)urio_local_get(knum);
}

static atomic_int late_ok;

static intptr_t late_reader(void *arg)
{
	gate_wait();
	/* the task that submitted us is gone by now; its values are not */
	const char *s = urio_local_get(kname);
	atomic_store(&late_ok, s && !strcmp(s, "ctx-value") ? 1 : -1);
	return 0;
}

static intptr_t abandoning(void *arg)
{
	urio_local_set(kname, strdup("ctx-value"));
	return urio_offload(late_reader, NULL);
}

static intptr_t locals_outlive(void *arg)
{
	gate_set(false);
	urio_task *t = urio_spawn(abandoning, NULL);
	urio_exec_stats st;
	POLL(STATS(urio_offload_executor(), st).running == 1);
	ASSERT_EQ(urio_cancel(t), 0);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
	/* the job still holds the values: no destructor yet */
	ASSERT_EQ(atomic_load(&dtor_runs), 0);
	gate_set(true);
	POLL(atomic_load(&late_ok) != 0);
	ASSERT_EQ(atomic_load(&late_ok), 1);
	POLL(atomic_load(&dtor_runs) == 1);
	quiesce(urio_offload_executor());
	return 0;
}

static void locals(void)
{
	ASSERT_EQ(urio_local_key_new(NULL, NULL), -EINVAL);
	ASSERT_EQ(urio_local_key_new(&kname, name_dtor), 0);
	ASSERT_EQ(urio_local_key_new(&knum, NULL), 0);
	ASSERT(kname != 0 && knum != kname);
	ASSERT(urio_local_get(kname) == NULL); /* a plain thread */
	ASSERT_EQ(urio_local_set(kname, NULL), -EPERM);
	ASSERT_EQ(urio_run(&two, locals_task, NULL, NULL), 0);
	/* the destructor ran once the task returned */
	if (atomic_load(&dtor_runs) != 1)
		fprintf(stderr, "task-local destructors did not run: does "
				"urio__task_entry call urio__locals_release?\n");
	ASSERT_EQ(atomic_load(&dtor_runs), 1);
	intptr_t r = 0;
	ASSERT_EQ(urio_run(&two, locals_other, NULL, &r), 0);
	ASSERT_EQ(r, 3);
	atomic_store(&dtor_runs, 0);
	ASSERT_EQ(urio_run(&two, locals_outlive, NULL, NULL), 0);
}

/* --- back-pressure -------------------------------------------------------- */

static intptr_t pressure(void *arg)
{
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 2, .queue_max = 2});
	ASSERT(e);
	struct call c[6];
	urio_task *t[6];
	urio_exec_stats st;
	gate_set(false);
	for (int i = 0; i < 6; i++)
		c[i] = (struct call){.e = e, .i = i + 1, .gated = i < 4};
	t[0] = urio_spawn(caller, &c[0]);
	t[1] = urio_spawn(caller, &c[1]);
	POLL(STATS(e, st).running == 2);
	t[2] = urio_spawn(caller, &c[2]);
	t[3] = urio_spawn(caller, &c[3]);
	POLL(STATS(e, st).queued == 2);
	/* the queue is full: these two wait as tasks, not blocking a worker */
	t[4] = urio_spawn(caller, &c[4]);
	POLL(STATS(e, st).waited == 1);
	t[5] = urio_spawn(caller, &c[5]);
	POLL(STATS(e, st).waited == 2);
	urio_sleep_ms(1); /* the workers still run tasks meanwhile */
	ASSERT_EQ(urio_cancel(t[5]), 0); /* the room wait is cancellable */
	ASSERT_EQ(urio_join(t[5], NULL), -ECANCELED);
	ASSERT_EQ(c[5].r, -ECANCELED);
	ASSERT_EQ(atomic_load(&c[5].ran), 0);
	gate_set(true);
	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(urio_join(t[i], NULL), 0);
		ASSERT_EQ(c[i].r, 2 * (i + 1));
	}
	STATS(e, st);
	ASSERT_EQ(st.submitted, 5);
	ASSERT_EQ(st.cancelled, 1);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.peak_threads, 2);
	urio_executor_free(e);

	/* NOWAIT: a full queue refuses */
	e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 1, .queue_max = 1, .flags = URIO_EXEC_NOWAIT});
	gate_set(false);
	for (int i = 0; i < 3; i++)
		c[i] = (struct call){.e = e, .i = i, .gated = true};
	t[0] = urio_spawn(caller, &c[0]);
	POLL(STATS(e, st).running == 1);
	t[1] = urio_spawn(caller, &c[1]);
	POLL(STATS(e, st).queued == 1);
	ASSERT_EQ(urio_executor_run(e, job, &c[2]), -EAGAIN);
	ASSERT(urio_executor_submit(e, job, &c[2]) == NULL && errno == EAGAIN);
	gate_set(true);
	ASSERT_EQ(urio_join(t[0], NULL), 0);
	ASSERT_EQ(urio_join(t[1], NULL), 0);
	ASSERT_EQ(c[0].r + c[1].r, 2);
	ASSERT_EQ(STATS(e, st).rejected, 2);
	urio_executor_free(e);
	return 0;
}

/* plain threads on a full queue block until there is room */
static void *thread_caller(void *arg)
{
	struct call *c = arg;
	c->r = urio_executor_run(c->e, job, c);
	return NULL;
}

static void pressure_threads(void)
{
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 1, .queue_max = 1});
	struct call c[6];
	pthread_t th[6];
	for (int i = 0; i < 6; i++) {
		c[i] = (struct call){.e = e, .i = i};
		pthread_create(&th[i], NULL, thread_caller, &c[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(c[i].r, 2 * i);
	}
	urio_exec_stats st;
	ASSERT_EQ(STATS(e, st).submitted, 6);
	urio_executor_free(e);
}

/* --- elastic growth, keep-alive retirement -------------------------------- */

static atomic_int arrived;

/* Returns once n jobs are inside at the same time: proof of n threads. */
static intptr_t rendezvous(void *arg)
{
	int n = (int)(intptr_t)arg;
	atomic_fetch_add(&arrived, 1);
	for (int i = 0; atomic_load(&arrived) < n; i++) {
		if (i > 10000)
			return -ETIMEDOUT; /* a bound on a broken pool */
		usleep(1000);
	}
	return 0;
}

struct rv {
	urio_executor *e;
	int n;
};

static intptr_t rv_caller(void *arg)
{
	struct rv *v = arg;
	return urio_executor_run(v->e, rendezvous, (void *)(intptr_t)v->n);
}

static intptr_t elastic(void *arg)
{
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.min_threads = 1, .max_threads = 4, .keep_alive_ms = 50});
	ASSERT(e);
	urio_exec_stats st;
	ASSERT_EQ(STATS(e, st).threads, 1); /* min_threads start at once */
	for (int round = 0; round < 2; round++) {
		struct rv v = {.e = e, .n = 4};
		urio_task *t[4];
		atomic_store(&arrived, 0);
		for (int i = 0; i < 4; i++)
			t[i] = urio_spawn(rv_caller, &v);
		for (int i = 0; i < 4; i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_join(t[i], &r), 0);
			ASSERT_EQ(r, 0);
		}
		STATS(e, st);
		ASSERT_EQ(st.peak_threads, 4);
		ASSERT(st.threads <= 4);
		/* idle threads retire down to min_threads */
		POLL(STATS(e, st).threads == 1 && st.idle == 1);
		ASSERT_EQ(st.retired, st.started - 1);
	}
	/* a lower limit holds for new growth */
	ASSERT_EQ(urio_executor_set_max(e, 2), 0);
	struct rv v = {.e = e, .n = 2};
	urio_task *t[4];
	atomic_store(&arrived, 0);
	for (int i = 0; i < 4; i++)
		t[i] = urio_spawn(rv_caller, &v);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(urio_join(t[i], NULL), 0);
	ASSERT(STATS(e, st).threads <= 2);
	ASSERT_EQ(st.max_threads, 2);
	urio_executor_free(e);
	return 0;
}

/* --- free waits; executor futures ----------------------------------------- */

static intptr_t slow(void *arg)
{
	usleep(20000);
	atomic_store((atomic_int *)arg, 1);
	return 9;
}

static void free_waits(void)
{
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 2});
	atomic_int done[3] = {0};
	urio_future *f[3];
	for (int i = 0; i < 3; i++) /* two run, one queued */
		ASSERT(f[i] = urio_executor_submit(e, slow, &done[i]));
	urio_executor_free(e);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(atomic_load(&done[i]), 1);
		intptr_t v = 0;
		ASSERT_EQ(urio_future_result(f[i], &v), 0);
		ASSERT_EQ(v, 9);
		urio_future_free(f[i]);
	}
}

static intptr_t futures_task(void *arg)
{
	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 1});
	struct call c = {.i = 8};
	urio_future *f = urio_executor_submit(e, job, &c);
	intptr_t v = 0;
	ASSERT_EQ(urio_future_wait(f, &v), 0);
	ASSERT_EQ(v, 16);
	urio_future_free(f);
	f = urio_executor_submit(e, ret_errno, NULL);
	ASSERT_EQ(urio_future_wait(f, &v), -EIO);
	urio_future_free(f);

	/* a future cancelled while its job is queued: fn never runs */
	gate_set(false);
	struct call blocker = {.i = 1, .gated = true}, victim = {.i = 2};
	urio_future *fb = urio_executor_submit(e, job, &blocker);
	urio_exec_stats st;
	POLL(STATS(e, st).running == 1);
	urio_future *fv = urio_executor_submit(e, job, &victim);
	ASSERT_EQ(urio_future_cancel(fv), 0);
	ASSERT_EQ(urio_future_wait(fv, &v), -ECANCELED);
	gate_set(true);
	ASSERT_EQ(urio_future_wait(fb, &v), 0);
	ASSERT_EQ(v, 2);
	POLL(STATS(e, st).dropped == 1);
	ASSERT_EQ(atomic_load(&victim.ran), 0);
	urio_future_free(fb);
	urio_future_free(fv);

	/* a deadline cancels the wait for a job */
	gate_set(false);
	struct call g = {.i = 3, .gated = true};
	urio_deadline d;
	urio_timeout_enter(&d, 5);
	ASSERT_EQ(urio_executor_run(e, job, &g), -ECANCELED);
	ASSERT_EQ(urio_timeout_exit(&d), -ETIMEDOUT);
	gate_set(true);
	/* g's job ran to completion in the background, or never started */
	POLL(STATS(e, st).running == 0 && st.queued == 0);
	ASSERT_EQ(atomic_load(&g.ran) + (int)(st.dropped - 1), 1);
	ASSERT_EQ(st.cancelled, 1);
	urio_executor_free(e);
	return 0;
}

/* --- the default pool ----------------------------------------------------- */

static intptr_t default_pool(void *arg)
{
	urio_executor *e = urio_offload_executor();
	ASSERT(e);
	urio_exec_stats st;
	ASSERT_EQ(STATS(e, st).max_threads, 3); /* URIO_OFFLOAD_MAX */
	struct call c[50];
	urio_task *t[50];
	for (int i = 0; i < 50; i++) {
		c[i] = (struct call){.i = i};
		t[i] = urio_spawn(caller, &c[i]);
	}
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(urio_join(t[i], NULL), 0);
		ASSERT_EQ(c[i].r, 2 * i);
	}
	ASSERT(STATS(e, st).peak_threads <= 3);
	ASSERT_EQ(urio_executor_set_max(e, 8), 0);
	ASSERT_EQ(STATS(e, st).max_threads, 8);
	quiesce(urio_offload_executor());
	return 0;
}

int main(void)
{
	/* read when the default pool is made, on first use */
	setenv("URIO_OFFLOAD_MAX", "3", 1);
	basics();
	ASSERT_EQ(urio_run(&two, default_pool, NULL, NULL), 0);

	urio_executor *e = urio_executor_new(&(urio_executor_opts){
		.max_threads = 8});
	ASSERT(e);
	ASSERT_EQ(urio_run(&two, thousand, e, NULL), 0);
	urio_executor_free(e);

	locals();
	ASSERT_EQ(urio_run(&two, pressure, NULL, NULL), 0);
	pressure_threads();
	ASSERT_EQ(urio_run(&two, elastic, NULL, NULL), 0);
	free_waits();
	ASSERT_EQ(urio_run(&two, futures_task, NULL, NULL), 0);

	/* keys run out, cleanly */
	urio_local_key k;
	int n = 0;
	while (urio_local_key_new(&k, NULL) == 0)
		n++;
	ASSERT_EQ(n, URIO_LOCAL_KEYS - 2);
	ASSERT_EQ(urio_local_key_new(&k, NULL), -EAGAIN);
	puts("offload: ok");
	return 0;
}
