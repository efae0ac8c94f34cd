/* Runtime lifetime: urio_rt_new starts the workers, urio_rt_block_on runs a
 * root task from a plain thread, urio_rt_free cancels what is still alive,
 * waits for it, and stops the workers. urio_run is the three in a row. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fiber.h"
#include "internal.h"

#define MAX_WORKERS 1024
#define DEFAULT_STACK (256u << 10)
#define DEFAULT_RING 256u
#define DEFAULT_SHUTDOWN_MS 10000u
#define JOIN_GRACE_NS 1000000000u /* workers idle at shutdown exit within it */

/* Runtimes freed so far. A runtime whose urio_rt_free gave up on a stuck
 * worker is freed by that worker, which nobody joins: the release
 * increment there and the acquire load in urio_rt_new order its last
 * touches of memory (its ring, which liburing unmaps with a raw syscall)
 * before the next runtime's. */
static _Atomic unsigned long freed_runtimes;

static unsigned cpus_in_mask(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set))
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* URIO_BACKEND=poll forces the fallback (tests run every suite on it). */
static bool forced_poll(void)
{
	const char *b = getenv("URIO_BACKEND");
	return b && strcmp(b, "poll") == 0;
}

static int apply_defaults(urio_config *c)
{
	if (!c->workers)
		c->workers = cpus_in_mask();
	if (!c->stack_size) {
		c->stack_size = DEFAULT_STACK;
#if defined(URIO__ASAN) || defined(URIO__TSAN)
		c->stack_size *= 4; /* sanitizers need far more stack */
#endif
	}
	if (!c->ring_entries)
		c->ring_entries = DEFAULT_RING;
	if (!c->shutdown_ms)
		c->shutdown_ms = DEFAULT_SHUTDOWN_MS;
	if (c->workers > MAX_WORKERS || c->stack_size < URIO__MIN_STACK ||
	    c->ring_entries > 32768)
		return -EINVAL;
	return 0;
}

/* Picks the ring flags, or the poll(2) backend when no rung of the ladder
 * makes a ring; running out of fds is an error, not a reason to switch. */
static int ring_or_poll(urio_rt *rt)
{
	int r = urio__ring_choose(rt);
	if (r == -EMFILE || r == -ENFILE)
		return r;
	if (r < 0) {
		fprintf(stderr, "urio: no io_uring set-up works (%s): using "
				"poll(2) and blocking file I/O\n",
			strerror(-r));
		rt->no_ring = true;
	}
	return 0;
}

/* Stops the first n workers and joins them until deadline (UINT64_MAX:
 * for good); one still running then (its task stuck in a call) is
 * detached. Returns how many were. */
static unsigned stop_workers(urio_rt *rt, unsigned n, uint64_t deadline)
{
	unsigned left = 0;
	atomic_store(&rt->shutdown, true);
	for (unsigned i = 0; i < n; i++) {
		struct urio__worker *w = &rt->workers[i];
		if (atomic_load(&w->parked))
			urio__wake_eventfd_post(w);
	}
	for (unsigned i = 0; i < n; i++) {
		/* a worker between its shutdown check and park is woken by
		 * work_visible(); one parked since gets the eventfd */
		struct urio__worker *w = &rt->workers[i];
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(w->thread, NULL, &ts) == 0)
				break;
			if (urio__now_ns() >= deadline) {
				pthread_detach(w->thread);
				left++;
				break;
			}
			if (w->efd >= 0)
				urio__wake_eventfd_post(w);
		}
	}
	return left;
}

static void free_rt(urio_rt *rt)
{
	for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		if (w->rt && w->efd >= 0) /* w->rt: initialised */
			close(w->efd);
		free(w->gone);
		free(w->ngone);
		free(w->reg);
	}
	free(rt->workers);
	pthread_mutex_destroy(&rt->gq_mu);
	pthread_mutex_destroy(&rt->start_mu);
	pthread_cond_destroy(&rt->start_cv);
	free(rt);
}

urio_rt *urio_rt_new(const urio_config *cfg)
{
	urio_config c = cfg ? *cfg : (urio_config){0};
	/* acquire pairs with the release increment in urio__rt_unref */
	(void)atomic_load_explicit(&freed_runtimes, memory_order_acquire);
	int err = apply_defaults(&c);
	if (err < 0) {
		errno = -err;
		return NULL;
	}
	urio__probe();
	bool no_ring = (c.flags & URIO_CFG_NO_RING) || forced_poll();
	if (!no_ring && !urio__feat.probed) {
		static bool said;
		if (!said)
			fprintf(stderr, "urio: io_uring is unavailable (disabled "
					"by sysctl or seccomp, or kernel too old): "
					"using poll(2) and blocking file I/O\n");
		said = true;
		no_ring = true;
	}
	urio_rt *rt = urio__calloc(1, sizeof(*rt));
	if (!rt) {
		errno = ENOMEM;
		return NULL;
	}
	rt->cfg = c;
	rt->nworkers = c.workers;
	rt->no_ring = no_ring;
	if (!no_ring && (err = ring_or_poll(rt)) < 0) {
		free(rt);
		errno = -err;
		return NULL;
	}
	no_ring = rt->no_ring;
	rt->msg_ring = urio__feat.msg_ring && !no_ring &&
		       !(c.flags & URIO_CFG_EVENTFD_WAKE);
	pthread_mutex_init(&rt->gq_mu, NULL);
	pthread_mutex_init(&rt->start_mu, NULL);
	pthread_cond_init(&rt->start_cv, NULL);
	atomic_init(&rt->refs, c.workers + 1); /* see urio__rt_unref */
	rt->workers = urio__aligned_alloc(64, sizeof(*rt->workers) * c.workers);
	if (!rt->workers) {
		free_rt(rt);
		errno = ENOMEM;
		return NULL;
	}
	memset(rt->workers, 0, sizeof(*rt->workers) * c.workers);
	for (unsigned i = 0; i < c.workers; i++) {
		struct urio__worker *w = &rt->workers[i];
		w->rt = rt;
		w->index = i;
		w->runq.solo = c.workers == 1;
		w->efd = -1;
		w->ring.ring_fd = -1;
		w->rng = 0x9e3779b9u * (i + 1);
		atomic_flag_clear(&w->reg_lock.f);
		w->reg_free = URIO__REG_NONE;
		w->gone = urio__calloc(c.workers, sizeof(*w->gone));
		w->ngone = urio__calloc(c.workers, sizeof(*w->ngone));
		if (!w->gone || !w->ngone) {
			free_rt(rt);
			errno = ENOMEM;
			return NULL;
		}
	}
	urio__fuzz_init(rt);
	urio__stack_overflow_handler_install();

	unsigned n = 0;
	for (; n < c.workers; n++) {
		err = -pthread_create(&rt->workers[n].thread, NULL,
				      urio__worker_main, &rt->workers[n]);
		if (err < 0)
			break;
	}
	pthread_mutex_lock(&rt->start_mu);
	while (rt->started < n)
		pthread_cond_wait(&rt->start_cv, &rt->start_mu);
	if (!err)
		err = rt->start_err;
	pthread_mutex_unlock(&rt->start_mu);
	if (!err)
		err = urio__watchdog_start(rt);
	if (err < 0) {
		/* the threads' refs never drop the count to 0 here */
		stop_workers(rt, n, UINT64_MAX);
		free_rt(rt);
		errno = -err;
		return NULL;
	}
	urio__stacks_runtime(1);
	urio__introspect_rt_add(rt);
	return rt;
}

urio_task *urio_rt_spawn(urio_rt *rt, urio_fn fn, void *arg)
{
	if (!rt) {
		errno = EINVAL;
		return NULL;
	}
	struct urio__worker *w = urio__cur_worker();
	if (w && w->rt == rt && w->cur)
		return urio_spawn(fn, arg);
	urio_task *t = urio__task_new(rt, NULL, fn, arg, 0);
	if (t)
		urio__ready(t, false);
	return t;
}

int urio_rt_block_on(urio_rt *rt, urio_fn fn, void *arg, intptr_t *result)
{
	if (!rt || !fn)
		return -EINVAL;
	if (urio__cur_worker())
		return -EDEADLK; /* would block a worker */
	urio_task *t = urio__task_new(rt, NULL, fn, arg, 0);
	if (!t)
		return -errno;
	urio_task_set_name(t, "main"); /* before it can run (and be dumped) */
	urio__ready(t, false);
	return urio_join(t, result);
}

static void cancel_all(urio_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		urio__spin_lock(&w->reg_lock);
		for (uint32_t k = 0; k < w->nreg; k++) {
			urio_task *t = urio__reg_at(w, k);
			if (t)
				urio_cancel(t);
		}
		urio__spin_unlock(&w->reg_lock);
	}
}

static void report_stuck(urio_rt *rt)
{
	fprintf(stderr, "urio: urio_rt_free: %llu task(s) still running %u ms "
			"after cancel (stuck in calls that ignore it), left "
			"running with their workers:\n",
		(unsigned long long)urio__live_tasks(rt), rt->cfg.shutdown_ms);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		urio__spin_lock(&w->reg_lock);
		for (uint32_t k = 0; k < w->nreg; k++) {
			urio_task *t = urio__reg_at(w, k);
			if (t && !urio_task_done(t))
				fprintf(stderr, "  task %llu '%s'\n",
					(unsigned long long)t->id, t->name);
		}
		urio__spin_unlock(&w->reg_lock);
	}
}

/* Frees rt once no worker thread runs and urio_rt_free is done with it. */
void urio__rt_unref(urio_rt *rt)
{
	/* acq_rel: the last one sees every other thread's last writes */
	if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* the workers handed over their batches as they exited; a cancel
	 * message can still reach a worker after its last look (its sender
	 * ran on while the worker was between that look and its exit) */
	for (unsigned i = 0; i < rt->nworkers; i++) {
		urio__msgs_discard(&rt->workers[i]);
		urio__registry_reap(&rt->workers[i]);
	}
	urio__introspect_rt_del(rt);
	free_rt(rt);
	urio__stacks_runtime(-1);
	atomic_fetch_add_explicit(&freed_runtimes, 1, memory_order_release);
}

/* urio_rt_free on a thread of rt would wait for itself. */
static bool called_inside(urio_rt *rt)
{
	struct urio__worker *w = urio__cur_worker();
	if (!w || w->rt != rt)
		return false;
	urio_task *t = w->cur;
	if (t)
		fprintf(stderr, "urio: urio_rt_free called from task '%s' (id "
				"%llu) of the runtime it frees: ignored (it "
				"would wait for itself); call it from the "
				"thread that made the runtime\n",
			t->name, (unsigned long long)t->id);
	else
		fprintf(stderr, "urio: urio_rt_free called from a worker of "
				"the runtime it frees: ignored\n");
	return true;
}

void urio_rt_free(urio_rt *rt)
{
	if (!rt || called_inside(rt))
		return;
	uint64_t start = urio__now_ns();
	uint64_t limit = start + (uint64_t)rt->cfg.shutdown_ms * 1000000u;
	cancel_all(rt);
	/* Tasks spawned while we cancelled are cancelled on the next round;
	 * a task stuck in a call that ignores cancellation is reported at
	 * the limit and left to its worker. */
	for (unsigned ms = 0; urio__live_tasks(rt); ms++) {
		if (urio__now_ns() >= limit) {
			report_stuck(rt);
			break;
		}
		if (urio__gens_end_abandoned(rt))
			continue;
		usleep(1000);
		if (ms % 100 == 99)
			cancel_all(rt);
	}
	/* acquire pairs with urio__foreign_exit */
	while (atomic_load_explicit(&rt->foreign_callers, memory_order_acquire))
		sched_yield();
	urio__watchdog_stop(rt);
	uint64_t now = urio__now_ns();
	unsigned left = stop_workers(rt, rt->nworkers,
				     (limit > now ? limit : now) + JOIN_GRACE_NS);
	if (left)
		fprintf(stderr, "urio: urio_rt_free: %u worker(s) still in a "
				"task's call; the runtime is freed when they "
				"return\n", left);
	urio__rt_unref(rt);
}

int urio_run(const urio_config *cfg, urio_fn main, void *arg,
	     intptr_t *result)
{
	if (!main)
		return -EINVAL;
	urio_rt *rt = urio_rt_new(cfg);
	if (!rt)
		return -errno;
	int r = urio_rt_block_on(rt, main, arg, result);
	urio_rt_free(rt);
	return r;
}

unsigned urio_rt_workers(const urio_rt *rt)
{
	return rt ? rt->nworkers : 0;
}

void urio_rt_stats(urio_rt *rt, urio_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!rt)
		return;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		out->spawned += atomic_load(&w->st.spawned);
		out->finished += atomic_load(&w->st.finished);
		out->steals += atomic_load(&w->st.steals);
		out->stolen_tasks += atomic_load(&w->st.stolen);
		out->parks += atomic_load(&w->st.parks);
		out->wakes_sent += atomic_load(&w->st.wakes);
		out->submits += atomic_load(&w->st.submits);
		out->ops += atomic_load(&w->st.ops);
		out->cq_overflow_flushes += atomic_load(&w->st.overflow_flushes);
		out->stuck_reports += atomic_load(&w->st.stuck);
	}
	out->spawned += atomic_load(&rt->foreign_spawned);
	out->live_tasks = urio__live_tasks(rt);
	out->workers = rt->nworkers;
	out->ring_flags = rt->ring_flags;
	out->msg_ring_wake = rt->msg_ring;
	out->backend = rt->no_ring ? "poll" : "io_uring";
	out->guard_madvise = urio__stack_guard_madvise();
}
