/* The blocking-offload pool (asyncio.to_thread, run_in_executor).
 *
 * An executor is a FIFO queue and an elastic set of threads under one
 * mutex. A job goes to an idle thread if there is one, else a new thread
 * is started (up to max_threads), else it waits in the queue; a thread idle
 * for keep_alive retires (down to min_threads). Threads are joinable and
 * each retiring thread joins the one that retired before it, so at most one
 * exited thread is ever unjoined and urio_executor_free joins that one:
 * every thread is reaped without a reaper thread.
 *
 * A job record is on the heap and refcounted (the submitter and the pool):
 * a cancelled caller returns -ECANCELED at once and the pool thread finishes
 * the function and drops the result later; a job still queued then never
 * runs. The caller parks on the job's spinlock with task.c's unlock-after-
 * switch protocol. Once its job is queued, a caller touches the executor
 * only with the job's lock held and the job not done: a pool thread has
 * yet to finish it then, so urio_executor_free cannot have returned.
 *
 * The queue-room wait cannot hold the mutex across the switch (a pthread
 * mutex is unlocked by its owner, and under TSan the owner is the fiber),
 * so it parks with a handshake on the waiter's own state: whichever of
 * "switched out" and "woken" comes second readies the task.
 *
 * Lock order: task lock -> job lock -> e->mu. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <urio/offload.h>

#include "internal.h"

#define DEF_MAX_THREADS 64
#define DEF_KEEP_ALIVE_MS 10000
#define DEF_QUEUE_MAX 4096
#define EXIT_WAIT_NS 1000000000u /* the default pool's wait at exit */

enum { J_QUEUED, J_RUNNING, J_DONE };

struct job {
	urio_fn fn;
	void *arg;
	intptr_t result;
	urio_executor *e;
	struct urio__locals *locals; /* the submitter's, seen by fn */
	urio_future *fut;            /* urio_executor_submit's */
	_Atomic int refs;            /* the submitter and the pool */
	_Atomic int state;           /* J_*; futex word for a thread caller */
	bool thread_waits;           /* a plain thread sleeps on state */
	urio__spin lock;             /* waiter, abandoned */
	struct urio__wait *waiter;   /* the parked caller */
	bool abandoned;              /* the caller was cancelled */
	struct job *prev, *next;     /* queue links, under e->mu */
	bool queued;
};

struct room_waiter {
	struct urio__wait w; /* first: the cancel hook gets &w */
	_Atomic int st;      /* ROOM_* */
	struct room_waiter *prev, *next;
	bool linked;
};

enum { ROOM_WAITING, ROOM_PARKED, ROOM_WOKEN };

struct urio_executor {
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* idle threads (CLOCK_MONOTONIC) */
	pthread_cond_t room_cv; /* plain threads waiting for queue room */
	pthread_cond_t gone_cv; /* urio_executor_free waits for threads */
	struct job *qhead, *qtail;
	struct room_waiter *rhead, *rtail; /* tasks waiting for room */
	unsigned nqueued;
	unsigned reserved;    /* slots handed to woken room waiters */
	unsigned room_threads;
	unsigned threads, idle, running, peak;
	unsigned min, max, queue_max, flags;
	uint64_t keep_alive_ns;
	bool shutdown;
	bool have_exited;
	pthread_t exited;     /* the last retired thread, not yet joined */
	unsigned users;       /* calls inside enqueue */
	uint64_t submitted, completed, cancelled, dropped, waited, rejected;
	uint64_t started, retired;
};

/* The executor whose pool thread this is: exit() called inside an
 * offloaded function runs the exit handlers on it. */
static __thread urio_executor *pool_self;

static void futex_wake(_Atomic int *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void futex_wait(_Atomic int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

/* --- jobs ----------------------------------------------------------------- */

static struct job *job_new(urio_executor *e, urio_fn fn, void *arg, int refs,
			   bool thread)
{
	struct job *j = urio__calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->e = e;
	j->fn = fn;
	j->arg = arg;
	atomic_init(&j->refs, refs);
	atomic_init(&j->state, J_QUEUED);
	atomic_flag_clear(&j->lock.f);
	j->thread_waits = thread;
	j->locals = urio__locals_ref();
	return j;
}

static void job_unref(struct job *j)
{
	/* acq_rel: the last owner sees every write of the other */
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
		return;
	urio__locals_unref(j->locals);
	urio_future_free(j->fut);
	free(j);
}

static void unlink_job(urio_executor *e, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		e->qhead = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		e->qtail = j->prev;
	j->queued = false;
	e->nqueued--;
}

/* --- waiting for queue room ---------------------------------------------- */

static void unlink_room(urio_executor *e, struct room_waiter *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		e->rhead = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		e->rtail = x->prev;
	x->linked = false;
}

/* Runs on the scheduler once the waiting task has switched out. */
static void room_parked(void *arg)
{
	struct room_waiter *x = arg;
	int exp = ROOM_WAITING;
	/* pairs with the CAS in room_wake: the second of the two readies */
	if (!atomic_compare_exchange_strong(&x->st, &exp, ROOM_PARKED))
		urio__ready(x->w.task, true);
}

/* Gives an unlinked waiter its result and readies it, now or from its
 * room_parked. x is not touched once the task may run. */
static void room_wake(struct room_waiter *x, int res)
{
	urio_task *t = x->w.task;
	x->w.res = res;
	int exp = ROOM_WAITING;
	/* pairs with the CAS in room_parked */
	if (!atomic_compare_exchange_strong(&x->st, &exp, ROOM_WOKEN))
		urio__ready(t, true);
}

/* A slot of the queue came free (e->mu held): hand it to the first waiting
 * task (reserved, so no newcomer takes it first), or to a waiting thread. */
static void room_freed(urio_executor *e)
{
	struct room_waiter *x = e->rhead;
	if (x) {
		unlink_room(e, x);
		e->reserved++;
		room_wake(x, 0);
	} else if (e->room_threads) {
		pthread_cond_signal(&e->room_cv);
	}
}

/* Runs with the waiting task's lock held, on any thread. */
static void room_cancel(struct urio__wait *w)
{
	struct room_waiter *x = (struct room_waiter *)w;
	urio_executor *e = w->cancel_arg;
	pthread_mutex_lock(&e->mu);
	if (x->linked) {
		unlink_room(e, x);
		room_wake(x, -ECANCELED);
	}
	pthread_mutex_unlock(&e->mu);
}

static bool has_room(urio_executor *e)
{
	return e->nqueued + e->reserved < e->queue_max;
}

/* Suspends the calling task until a queue slot is reserved for it. Called
 * and returns with e->mu held. Returns 0 (reserved), -EAGAIN (room came
 * before we queued up: look again), -ECANCELED, -ESHUTDOWN. */
static int room_wait(urio_executor *e)
{
	struct room_waiter x = {.w = {.what = "offload-queue", .fd = -1}};
	x.w.cancel = room_cancel;
	x.w.cancel_arg = e;
	atomic_init(&x.st, ROOM_WAITING);
	/* wait_begin takes the task lock, which ranks above e->mu */
	pthread_mutex_unlock(&e->mu);
	int r = urio__wait_begin(&x.w, URIO__WAIT_OTHER);
	pthread_mutex_lock(&e->mu);
	if (r < 0)
		return r;
	/* a cancel between wait_begin and here found nothing to cancel */
	if (urio__scopes_cancelled(x.w.task))
		r = -ECANCELED;
	else if (e->shutdown || has_room(e))
		r = -EAGAIN;
	if (r < 0) {
		pthread_mutex_unlock(&e->mu);
		urio__wait_abort(&x.w);
		pthread_mutex_lock(&e->mu);
		return r;
	}
	x.prev = e->rtail;
	if (e->rtail)
		e->rtail->next = &x;
	else
		e->rhead = &x;
	e->rtail = &x;
	x.linked = true;
	pthread_mutex_unlock(&e->mu);
	r = urio__wait_end(&x.w, room_parked, &x);
	pthread_mutex_lock(&e->mu);
	return r;
}

/* --- threads -------------------------------------------------------------- */

static void *pool_main(void *arg);

/* Starts a pool thread (e->mu held). Its signals are blocked: they belong
 * to the application's threads. */
static int spawn(urio_executor *e)
{
	sigset_t all, old;
	pthread_t th;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&th, NULL, pool_main, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	e->threads++;
	e->started++;
	if (e->threads > e->peak)
		e->peak = e->threads;
	return 0;
}

static void finish(struct job *j, intptr_t r)
{
	if (j->fut) {
		if (r < 0)
			urio_future_fail(j->fut, r >= INT_MIN ? (int)r : -ERANGE);
		else
			urio_future_set(j->fut, r);
	}
	urio__spin_lock(&j->lock);
	j->result = r;
	/* release pairs with the caller's acquire load of state */
	atomic_store_explicit(&j->state, J_DONE, memory_order_release);
	struct urio__wait *w = j->waiter;
	j->waiter = NULL;
	urio__spin_unlock(&j->lock);
	/* unhooked: a late cancel finds nothing, and only we ready it */
	if (w) {
		urio_task *t = w->task;
		w->res = 0;
		urio__ready(t, true);
	}
	if (j->thread_waits)
		futex_wake(&j->state, 1);
	job_unref(j);
}

/* Runs j unless its caller gave up first. Returns true if fn ran. */
static bool run_job(struct job *j)
{
	urio__spin_lock(&j->lock);
	bool skip = j->abandoned ||
		    (j->fut && urio_future_state(j->fut) != URIO_FUTURE_PENDING);
	atomic_store_explicit(&j->state, J_RUNNING, memory_order_relaxed);
	urio__spin_unlock(&j->lock);
	intptr_t r = -ECANCELED;
	if (!skip) {
		struct urio__locals *prev = urio__locals_enter(j->locals);
		r = j->fn(j->arg);
		urio__locals_enter(prev);
	}
	finish(j, r);
	return !skip;
}

/* Waits for a job (e->mu held). False: keep-alive ran out, retire. */
static bool idle_wait(urio_executor *e)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	uint64_t ns = (uint64_t)dl.tv_nsec + e->keep_alive_ns % 1000000000u;
	dl.tv_sec += (time_t)(e->keep_alive_ns / 1000000000u + ns / 1000000000u);
	dl.tv_nsec = (long)(ns % 1000000000u);
	bool stay = true;
	e->idle++;
	while (!e->qhead && !e->shutdown) {
		if (e->threads <= e->min) {
			pthread_cond_wait(&e->work_cv, &e->mu);
		} else if (pthread_cond_timedwait(&e->work_cv, &e->mu, &dl) ==
				   ETIMEDOUT &&
			   !e->qhead && e->threads > e->min) {
			stay = false;
			break;
		}
	}
	e->idle--;
	return stay;
}

static void *pool_main(void *arg)
{
	urio_executor *e = arg;
	pool_self = e;
	pthread_mutex_lock(&e->mu);
	for (;;) {
		struct job *j = e->qhead;
		if (j) {
			unlink_job(e, j);
			e->running++;
			room_freed(e);
			pthread_mutex_unlock(&e->mu);
			bool ran = run_job(j);
			pthread_mutex_lock(&e->mu);
			e->running--;
			if (ran)
				e->completed++;
			else
				e->dropped++;
			continue;
		}
		if (e->shutdown || !idle_wait(e))
			break;
	}
	e->threads--;
	e->retired++;
	bool join = e->have_exited;
	pthread_t prev = e->exited;
	e->exited = pthread_self();
	e->have_exited = true;
	if (!e->threads)
		pthread_cond_broadcast(&e->gone_cv);
	pthread_mutex_unlock(&e->mu);
	if (join)
		pthread_join(prev, NULL);
	return NULL;
}

/* --- submission ----------------------------------------------------------- */

/* Queues j, waiting for room as the caller's kind allows, and makes sure a
 * thread will take it. Returns 0 or -errno (j is not queued then). */
static int enqueue(urio_executor *e, struct job *j)
{
	bool in_task = urio_self() != NULL, waited = false, reserved = false;
	int err = 0;
	pthread_mutex_lock(&e->mu);
	e->users++;
	for (;;) {
		if (e->shutdown) {
			err = -ESHUTDOWN;
			break;
		}
		if (reserved) {
			e->reserved--;
			break;
		}
		if (has_room(e))
			break;
		if (e->flags & URIO_EXEC_NOWAIT) {
			e->rejected++;
			err = -EAGAIN;
			break;
		}
		if (!waited) {
			e->waited++;
			waited = true;
		}
		if (!in_task) {
			e->room_threads++;
			pthread_cond_wait(&e->room_cv, &e->mu);
			e->room_threads--;
			continue;
		}
		int r = room_wait(e);
		if (r == 0) {
			reserved = true;
		} else if (r != -EAGAIN) {
			if (r == -ECANCELED)
				e->cancelled++;
			err = r;
			break;
		}
	}
	if (!err) {
		j->prev = e->qtail;
		j->next = NULL;
		if (e->qtail)
			e->qtail->next = j;
		else
			e->qhead = j;
		e->qtail = j;
		j->queued = true;
		e->nqueued++;
		if (e->idle)
			pthread_cond_signal(&e->work_cv);
		/* a busy pool grows; with no thread at all, j cannot run */
		if (e->nqueued > e->idle && e->threads < e->max &&
		    spawn(e) < 0 && !e->threads) {
			unlink_job(e, j);
			room_freed(e);
			e->rejected++;
			err = -EAGAIN;
		}
	}
	if (!err)
		e->submitted++;
	if (!--e->users && e->shutdown)
		pthread_cond_broadcast(&e->gone_cv);
	pthread_mutex_unlock(&e->mu);
	return err;
}

/* The caller gives up on j. Called with j->lock held and j not done, so a
 * pool thread has yet to finish j and e is alive. A queued j leaves the
 * queue and never runs; a running one runs on, its result dropped. Returns
 * true if j was dequeued: the caller then drops the pool's reference. */
static bool abandon_locked(struct job *j)
{
	urio_executor *e = j->e;
	j->abandoned = true;
	pthread_mutex_lock(&e->mu);
	e->cancelled++;
	bool dequeued = j->queued;
	if (dequeued) {
		unlink_job(e, j);
		e->dropped++;
		room_freed(e);
	}
	pthread_mutex_unlock(&e->mu);
	return dequeued;
}

/* Runs with the waiting task's lock held, on any thread. */
static void job_cancel(struct urio__wait *w)
{
	struct job *j = w->cancel_arg;
	bool dequeued = false;
	urio__spin_lock(&j->lock);
	/* still hooked: finish has not run (it unhooks and marks done) */
	bool mine = j->waiter == w;
	if (mine) {
		j->waiter = NULL;
		w->res = -ECANCELED;
		dequeued = abandon_locked(j);
	}
	urio__spin_unlock(&j->lock);
	if (dequeued)
		job_unref(j); /* the pool's; the caller's keeps j */
	if (mine)
		urio__ready(w->task, true);
}

static void job_unlock(void *arg)
{
	struct job *j = arg;
	urio__spin_unlock(&j->lock);
}

static intptr_t wait_task(struct job *j)
{
	struct urio__wait w = {.what = "offload", .fd = -1};
	w.cancel = job_cancel;
	w.cancel_arg = j;
	bool begun = urio__wait_begin(&w, URIO__WAIT_OTHER) == 0;
	bool dequeued = false;
	intptr_t r;
	urio__spin_lock(&j->lock);
	if (atomic_load_explicit(&j->state, memory_order_relaxed) == J_DONE) {
		r = j->result;
	} else if (!begun || urio__scopes_cancelled(w.task)) {
		/* cancelled already, or by a cancel that came between
		 * wait_begin and here and found nothing to cancel */
		dequeued = abandon_locked(j);
		r = -ECANCELED;
	} else {
		j->waiter = &w;
		r = urio__wait_end(&w, job_unlock, j) < 0 ? -ECANCELED
							  : j->result;
		job_unref(j);
		return r;
	}
	urio__spin_unlock(&j->lock);
	if (begun)
		urio__wait_abort(&w);
	if (dequeued)
		job_unref(j);
	job_unref(j);
	return r;
}

static intptr_t wait_thread(struct job *j)
{
	int s;
	/* acquire pairs with the release store in finish */
	while ((s = atomic_load_explicit(&j->state, memory_order_acquire)) !=
	       J_DONE)
		futex_wait(&j->state, s);
	intptr_t r = j->result;
	job_unref(j);
	return r;
}

intptr_t urio_executor_run(urio_executor *e, urio_fn fn, void *arg)
{
	if (!e || !fn)
		return -EINVAL;
	urio_task *me = urio_self();
	if (!me && urio__cur_worker())
		return -EDEADLK; /* blocking here would stall a worker */
	if (me && urio__scopes_cancelled(me)) {
		pthread_mutex_lock(&e->mu);
		e->cancelled++;
		pthread_mutex_unlock(&e->mu);
		return -ECANCELED;
	}
	struct job *j = job_new(e, fn, arg, 2, !me);
	if (!j)
		return -ENOMEM;
	int r = enqueue(e, j);
	if (r < 0) {
		atomic_store_explicit(&j->refs, 1, memory_order_relaxed);
		job_unref(j);
		return r;
	}
	return me ? wait_task(j) : wait_thread(j);
}

urio_future *urio_executor_submit(urio_executor *e, urio_fn fn, void *arg)
{
	if (!e || !fn) {
		errno = EINVAL;
		return NULL;
	}
	if (!urio_self() && urio__cur_worker()) {
		errno = EDEADLK;
		return NULL;
	}
	urio_future *f = urio_future_new();
	if (!f)
		return NULL;
	struct job *j = job_new(e, fn, arg, 1, false);
	if (!j) {
		urio_future_free(f);
		errno = ENOMEM;
		return NULL;
	}
	j->fut = urio_future_ref(f);
	int r = enqueue(e, j);
	if (r < 0) {
		job_unref(j);
		urio_future_free(f);
		errno = -r; /* after the last suspension: this thread's errno */
		return NULL;
	}
	return f;
}

intptr_t urio_offload(urio_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	if (!urio_self())
		return fn(arg);
	urio_executor *e = urio_offload_executor();
	if (!e)
		return errno == ESHUTDOWN ? fn(arg) : -errno;
	return urio_executor_run(e, fn, arg);
}

/* --- executors ------------------------------------------------------------ */

urio_executor *urio_executor_new(const urio_executor_opts *o)
{
	urio_executor_opts d = o ? *o : (urio_executor_opts){0};
	if (!d.max_threads)
		d.max_threads = d.min_threads > DEF_MAX_THREADS ? d.min_threads
							       : DEF_MAX_THREADS;
	if (!d.keep_alive_ms)
		d.keep_alive_ms = DEF_KEEP_ALIVE_MS;
	if (!d.queue_max)
		d.queue_max = DEF_QUEUE_MAX;
	if (d.min_threads > d.max_threads || (d.flags & ~URIO_EXEC_NOWAIT)) {
		errno = EINVAL;
		return NULL;
	}
	urio_executor *e = urio__calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->work_cv, &ca);
	pthread_cond_init(&e->room_cv, NULL);
	pthread_cond_init(&e->gone_cv, NULL);
	pthread_condattr_destroy(&ca);
	e->min = d.min_threads;
	e->max = d.max_threads;
	e->queue_max = d.queue_max;
	e->flags = d.flags;
	e->keep_alive_ns = d.keep_alive_ms > UINT64_MAX / 1000000
				   ? UINT64_MAX / 2
				   : d.keep_alive_ms * 1000000;
	/* the timedwait deadline must fit a time_t */
	if (e->keep_alive_ns > (uint64_t)INT32_MAX * 1000000000u)
		e->keep_alive_ns = (uint64_t)INT32_MAX * 1000000000u;
	int err = 0;
	pthread_mutex_lock(&e->mu);
	while (!err && e->threads < e->min)
		err = spawn(e);
	pthread_mutex_unlock(&e->mu);
	if (err) {
		urio_executor_free(e);
		errno = -err;
		return NULL;
	}
	return e;
}

int urio_executor_set_max(urio_executor *e, unsigned max_threads)
{
	if (!e)
		return -EINVAL;
	pthread_mutex_lock(&e->mu);
	if (!max_threads || max_threads < e->min) {
		pthread_mutex_unlock(&e->mu);
		return -EINVAL;
	}
	e->max = max_threads;
	/* jobs queued for want of threads get them now; surplus threads
	 * above a lowered limit retire when idle */
	while (!e->shutdown && e->nqueued > e->idle && e->threads < e->max &&
	       spawn(e) == 0)
		;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

void urio_executor_stats(urio_executor *e, urio_exec_stats *out)
{
	if (!e || !out)
		return;
	pthread_mutex_lock(&e->mu);
	*out = (urio_exec_stats){
		.threads = e->threads,
		.idle = e->idle,
		.running = e->running,
		.queued = e->nqueued,
		.peak_threads = e->peak,
		.max_threads = e->max,
		.submitted = e->submitted,
		.completed = e->completed,
		.cancelled = e->cancelled,
		.dropped = e->dropped,
		.waited = e->waited,
		.rejected = e->rejected,
		.started = e->started,
		.retired = e->retired,
	};
	pthread_mutex_unlock(&e->mu);
}

/* Shuts e down and waits until its threads and callers have left, or
 * until deadline (CLOCK_REALTIME ns; UINT64_MAX: for good). Returns true
 * if they all did: e may be freed then. Never waits on the calling pool
 * thread itself. */
static bool stop(urio_executor *e, uint64_t deadline)
{
	pthread_mutex_lock(&e->mu);
	e->shutdown = true;
	while (e->rhead) {
		struct room_waiter *x = e->rhead;
		unlink_room(e, x);
		room_wake(x, -ESHUTDOWN);
	}
	pthread_cond_broadcast(&e->room_cv);
	pthread_cond_broadcast(&e->work_cv);
	/* the threads run what is queued first, then exit; callers still
	 * inside enqueue (woken from a room wait) leave */
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
			      .tv_nsec = (long)(deadline % 1000000000u)};
	while ((e->threads || e->users) && pool_self != e) {
		if (deadline == UINT64_MAX)
			pthread_cond_wait(&e->gone_cv, &e->mu);
		else if (pthread_cond_timedwait(&e->gone_cv, &e->mu, &ts) ==
			 ETIMEDOUT)
			break;
	}
	bool gone = !e->threads && !e->users;
	pthread_mutex_unlock(&e->mu);
	return gone;
}

static void destroy(urio_executor *e)
{
	pthread_mutex_lock(&e->mu);
	bool join = e->have_exited;
	pthread_t last = e->exited;
	pthread_mutex_unlock(&e->mu);
	if (join)
		pthread_join(last, NULL); /* it joined the one before it */
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->work_cv);
	pthread_cond_destroy(&e->room_cv);
	pthread_cond_destroy(&e->gone_cv);
	free(e);
}

void urio_executor_free(urio_executor *e)
{
	if (!e)
		return;
	if (pool_self == e) {
		fprintf(stderr, "urio: urio_executor_free called from a "
				"function running on that executor: ignored "
				"(it would wait for itself)\n");
		return;
	}
	stop(e, UINT64_MAX);
	destroy(e);
}

/* --- the default pool ----------------------------------------------------- */

static pthread_mutex_t dflt_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(urio_executor *) dflt;
static bool dflt_gone, dflt_atexit;
static urio_executor *dflt_left; /* threads still in calls at exit keep it */

/* At exit: the process is ending, so a call still running (an abandoned
 * one blocked for good, or the one that called exit) gets a bounded wait,
 * then the pool is left to die with the process. */
static void dflt_free(void)
{
	pthread_mutex_lock(&dflt_mu);
	urio_executor *e = atomic_exchange(&dflt, NULL);
	dflt_gone = true; /* later offloads run inline */
	pthread_mutex_unlock(&dflt_mu);
	if (!e)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t deadline = (uint64_t)now.tv_sec * 1000000000u +
			    (uint64_t)now.tv_nsec + EXIT_WAIT_NS;
	if (stop(e, deadline))
		destroy(e);
	else
		dflt_left = e;
}

static unsigned env_max(void)
{
	const char *s = getenv("URIO_OFFLOAD_MAX");
	char *end;
	if (!s || !*s)
		return DEF_MAX_THREADS;
	unsigned long n = strtoul(s, &end, 10);
	if (*end || !n || n > 65536) {
		fprintf(stderr, "urio: ignoring URIO_OFFLOAD_MAX=%s (want "
				"1..65536)\n", s);
		return DEF_MAX_THREADS;
	}
	return (unsigned)n;
}

urio_executor *urio_offload_executor(void)
{
	/* acquire pairs with the release store below */
	urio_executor *e = atomic_load_explicit(&dflt, memory_order_acquire);
	if (e)
		return e;
	pthread_mutex_lock(&dflt_mu);
	e = atomic_load_explicit(&dflt, memory_order_relaxed);
	if (!e && dflt_gone) {
		errno = ESHUTDOWN;
	} else if (!e) {
		urio_executor_opts o = {.max_threads = env_max()};
		e = urio_executor_new(&o);
		if (e) {
			if (!dflt_atexit)
				dflt_atexit = atexit(dflt_free) == 0;
			atomic_store_explicit(&dflt, e, memory_order_release);
		}
	}
	pthread_mutex_unlock(&dflt_mu);
	return e;
}
