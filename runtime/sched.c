/* The work-stealing scheduler loop of one worker.
 *
 * Order of search, after Go's findRunnable and tokio's worker: the LIFO slot
 * (capped at URIO__LIFO_CAP runs in a row so two tasks waking each other
 * cannot starve the queue), the local queue, and every URIO__GLOBAL_EVERY
 * ticks the global queue first, every URIO__POLL_EVERY ticks the ring (so
 * completions are not starved by a long run queue). With nothing local:
 * poll the ring (one io_uring_enter submits every SQE the tasks prepared
 * since the last one, which is the batching that matters when a syscall
 * costs a microsecond), the global queue, then steal half of a random
 * victim's queue, then park in io_uring_enter.
 *
 * Spinning (Go's nmspinning): at most one worker hunts for work without
 * being asked; a waker only wakes a parked worker when nobody spins, and a
 * spinner that finds work wakes the next one. This keeps wakeup syscalls
 * rare without losing parallelism. */
#include <errno.h>

#include "fiber.h"
#include "internal.h"
#include "probes.h"

void urio__global_push(urio_rt *rt, urio_task *first, urio_task *last,
		       unsigned n)
{
	last->next = NULL;
	pthread_mutex_lock(&rt->gq_mu);
	if (rt->gq_tail)
		rt->gq_tail->next = first;
	else
		rt->gq_head = first;
	rt->gq_tail = last;
	atomic_fetch_add(&rt->gq_len, n);
	pthread_mutex_unlock(&rt->gq_mu);
}

static urio_task *global_take(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	pthread_mutex_lock(&rt->gq_mu);
	uint32_t len = atomic_load(&rt->gq_len);
	uint32_t n = len / rt->nworkers + 1;
	if (n > len)
		n = len;
	if (n > URIO__RUNQ_SIZE / 2)
		n = URIO__RUNQ_SIZE / 2;
	urio_task *first = rt->gq_head;
	for (uint32_t i = 0; i < n; i++) {
		urio_task *t = rt->gq_head;
		rt->gq_head = t->next;
		if (i > 0 && !urio__runq_push(&w->runq, t)) {
			/* no room: leave the rest queued */
			rt->gq_head = t;
			n = i;
			break;
		}
	}
	if (!rt->gq_head)
		rt->gq_tail = NULL;
	atomic_fetch_sub(&rt->gq_len, n);
	pthread_mutex_unlock(&rt->gq_mu);
	return n ? first : NULL;
}

/* The local queue is full: move half of it, plus t, to the global queue. */
static void push_overflow(struct urio__worker *w, urio_task *t)
{
	urio_task *batch[URIO__RUNQ_SIZE / 2 + 1];
	unsigned n = urio__runq_take_half(&w->runq, batch);
	batch[n++] = t;
	for (unsigned i = 0; i + 1 < n; i++)
		batch[i]->next = batch[i + 1];
	urio__global_push(w->rt, batch[0], batch[n - 1], n);
}

static void push_local(struct urio__worker *w, urio_task *t)
{
	if (!urio__runq_push(&w->runq, t))
		push_overflow(w, t);
}

void urio__ready(urio_task *t, bool lifo)
{
	struct urio__worker *w = urio__cur_worker();
	urio_rt *rt = t->rt;
	if (!w || w->rt != rt) {
		urio__foreign_enter(rt);
		urio__global_push(rt, t, t, 1);
		urio__wake_one(rt);
		urio__foreign_exit(rt, true);
		return;
	}
	if (urio__unlikely(w->fuzz)) {
		/* the slot or the queue; now and then the global queue */
		lifo = urio__fuzz_coin(w, 2);
		if (!lifo && urio__fuzz_coin(w, 8)) {
			urio__global_push(rt, t, t, 1);
			goto wake;
		}
	}
	if (lifo) {
		t = atomic_exchange(&w->runnext, t);
		if (!t)
			goto wake;
	}
	push_local(w, t);
	if (w->runq.solo)
		return; /* no other worker to wake */
	/* The push is a release store, and a store may pass a later load:
	 * without a full fence the nidle load below can read before a
	 * parking worker sees the task (Dekker). Pairs with park()'s seq_cst
	 * parked/nidle writes before its work_visible() loads. The LIFO
	 * path's seq_cst exchange is a full fence already. */
	atomic_thread_fence(memory_order_seq_cst);
wake:
	if (urio__unlikely(w->reaping)) {
		/* a wake may need an SQE: ring.c wakes after its CQE loop */
		w->wake_deferred = true;
		return;
	}
	urio__wake_deferred(w);
}

void urio__wake_deferred(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	/* seq_cst load pairs with the parking worker's nidle increment */
	if (atomic_load(&rt->nidle) && !atomic_load(&rt->nspinning))
		urio__wake_one(rt);
}

bool urio__foreign_enter(urio_rt *rt)
{
	struct urio__worker *w = urio__cur_worker();
	if (w && w->rt == rt)
		return false;
	atomic_fetch_add(&rt->foreign_callers, 1);
	return true;
}

void urio__foreign_exit(urio_rt *rt, bool entered)
{
	if (entered) /* release: our last touch of rt happens before the free */
		atomic_fetch_sub_explicit(&rt->foreign_callers, 1,
					  memory_order_release);
}

static urio_task *local_next(struct urio__worker *w)
{
	urio_task *t;
	/* a plain load first: the locked exchange is only paid when the slot
	 * holds a task (thieves may empty it meanwhile, hence the exchange) */
	bool lifo = atomic_load_explicit(&w->runnext, memory_order_relaxed);
	if (lifo && urio__unlikely(w->fuzz) && urio__fuzz_coin(w, 2))
		w->lifo_streak = URIO__LIFO_CAP; /* the queue first this time */
	if (lifo && w->lifo_streak < URIO__LIFO_CAP &&
	    (t = atomic_exchange(&w->runnext, NULL))) {
		w->lifo_streak++;
		return t;
	}
	w->lifo_streak = 0;
	t = urio__runq_pop(&w->runq);
	if (!t && lifo)
		t = atomic_exchange(&w->runnext, NULL);
	return t;
}

static urio_task *steal(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	unsigned n = rt->nworkers;
	for (int round = 0; round < 4; round++) {
		w->rng = w->rng * 1103515245u + 12345u;
		unsigned start = (w->rng >> 16) % n;
		for (unsigned i = 0; i < n; i++) {
			struct urio__worker *v = &rt->workers[(start + i) % n];
			if (v == w)
				continue;
			urio_task *t = urio__runq_steal(&w->runq, &v->runq);
			if (!t && round == 3)
				t = atomic_exchange(&v->runnext, NULL);
			if (t) {
				URIO_PROBE3(steal, w->index, v->index,
					    1 + urio__runq_len(&w->runq));
				URIO__STAT(w, steals, 1);
				URIO__STAT(w, stolen, 1 + urio__runq_len(&w->runq));
				return t;
			}
		}
	}
	return NULL;
}

static void drain_msgs(struct urio__worker *w)
{
	/* acquire pairs with the release CAS in urio__worker_msg */
	struct urio__msg *m = atomic_exchange_explicit(&w->msgs, NULL,
						       memory_order_acquire);
	while (m) {
		struct urio__msg *next = m->next;
		urio_task *t = m->task;
		urio__task_lock(t);
		struct urio__wait *wt = t->wait;
		/* the wait may be a newer, shielded one by now; an op
		 * cancelled on request is still the one the task waits in
		 * (its record is alive while t->wait points at it) */
		bool go = m->kind == URIO__MSG_CANCEL_OP
				  ? wt == m->op
				  : wt && wt->cancel && urio__scopes_cancelled(t);
		if (go && wt->owner == w)
			urio__io_cancel(w, wt);
		urio__task_unlock(t);
		urio__task_unref(t);
		free(m);
		m = next;
	}
}

void urio__msgs_discard(struct urio__worker *w)
{
	struct urio__msg *m = atomic_exchange(&w->msgs, NULL);
	while (m) {
		struct urio__msg *next = m->next;
		urio__task_unref(m->task);
		free(m);
		m = next;
	}
}

static void poll_all(struct urio__worker *w, bool busy)
{
	if (atomic_load_explicit(&w->msgs, memory_order_relaxed))
		drain_msgs(w);
	urio__registry_reap(w);
	urio__timers_run(w);
	urio__io_poll(w, busy);
}

bool urio__work_queued(urio_rt *rt)
{
	if (atomic_load(&rt->gq_len))
		return true;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *v = &rt->workers[i];
		if (urio__runq_len(&v->runq) || atomic_load(&v->runnext))
			return true;
	}
	return false;
}

/* Is there anything a parking worker must not sleep through? */
static bool work_visible(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	return atomic_load(&w->msgs) || atomic_load(&rt->shutdown) ||
	       urio__work_queued(rt);
}

/* Steals for a short while (~20 us) before giving up: a worker that parks
 * the moment a queue looks empty is woken again by the next spawn, and a
 * park plus a wake cost two syscalls (measured: a 1M-task fan-out on two
 * workers spent most of its time there). While we spin, nspinning keeps
 * wakers from issuing those wakes. */
static urio_task *spin(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	for (int round = 0; round < URIO__SPIN_ROUNDS; round++) {
		urio_task *t = steal(w);
		if (t)
			return t;
		if (atomic_load_explicit(&rt->gq_len, memory_order_relaxed) &&
		    (t = global_take(w)))
			return t;
		/* our own completions come first: stop stealing for them */
		if (atomic_load_explicit(&w->msgs, memory_order_relaxed) ||
		    atomic_load_explicit(&rt->shutdown, memory_order_relaxed) ||
		    urio__io_ready(w))
			return NULL;
		for (int i = 0; i < 64; i++)
			urio__cpu_relax();
	}
	return NULL;
}

static void stop_spinning(struct urio__worker *w)
{
	if (!w->spinning)
		return;
	w->spinning = false;
	/* The last spinner to find work wakes another: there may be more. */
	if (atomic_fetch_sub(&w->rt->nspinning, 1) == 1)
		urio__wake_one(w->rt);
}

/* Leaves the parked state; a worker claimed by a waker was counted as
 * spinning on its behalf (see urio__wake_one). */
static void unpark(struct urio__worker *w)
{
	if (atomic_exchange(&w->parked, 0))
		atomic_fetch_sub(&w->rt->nidle, 1);
	else
		w->spinning = true;
}

static void park(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	if (w->stacks_dirty)
		urio__stack_trim(w); /* idle: the syscalls cost nobody */
	/* seq_cst store then loads: a waker that pushed work before reading
	 * nidle/parked either sees us parked or we see its work here. */
	atomic_store(&w->parked, 1);
	atomic_fetch_add(&rt->nidle, 1);
	if (!work_visible(w)) {
		URIO__STAT(w, parks, 1);
		URIO_PROBE1(worker_park, w->index);
		urio__io_wait(w);
		URIO_PROBE1(worker_wake, w->index);
	}
	unpark(w);
}

static urio_task *find_work(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	urio_task *t;
	w->tick++;
	if (w->tick % URIO__GLOBAL_EVERY == 0 &&
	    atomic_load_explicit(&rt->gq_len, memory_order_relaxed) &&
	    (t = global_take(w)))
		return t;
	if (w->tick % URIO__POLL_EVERY == 0)
		poll_all(w, true);
	if ((t = local_next(w)))
		return t;
	for (;;) {
		poll_all(w, false);
		if ((t = local_next(w)))
			return t;
		if (atomic_load_explicit(&rt->gq_len, memory_order_relaxed) &&
		    (t = global_take(w)))
			return t;
		if (atomic_load(&rt->shutdown))
			return NULL;
		if (rt->nworkers > 1) {
			if (!w->spinning &&
			    2 * atomic_load(&rt->nspinning) <
				    rt->nworkers - atomic_load(&rt->nidle)) {
				w->spinning = true;
				atomic_fetch_add(&rt->nspinning, 1);
			}
			if (w->spinning && (t = spin(w)))
				return t;
		}
		if (w->spinning) {
			w->spinning = false;
			atomic_fetch_sub(&rt->nspinning, 1);
		}
		park(w);
	}
}

void urio__run_post(struct urio__worker *w)
{
	urio_task *t = w->post_task;
	if (!t)
		return;
	w->post_task = NULL;
	switch (w->post) {
	case URIO__POST_PARK:
		if (w->post_fn)
			w->post_fn(w->post_arg);
		break;
	case URIO__POST_YIELD:
		push_local(w, t);
		break;
	case URIO__POST_EXIT:
		urio__task_finish(w, t);
		break;
	}
}

/* The next local task to switch to directly, or NULL when the scheduler
 * should run: the queue is empty, or the next tick is one of the periodic
 * ring / global-queue checks, which find_work makes. */
static urio_task *next_direct(struct urio__worker *w)
{
	uint64_t tick = w->tick + 1;
	if (tick % URIO__POLL_EVERY == 0 || tick % URIO__GLOBAL_EVERY == 0)
		return NULL;
	if (urio__unlikely(w->fuzz) && urio__fuzz_coin(w, 4))
		return NULL; /* a pass through the scheduler instead */
	urio_task *t = local_next(w);
	if (t) {
		w->tick = tick;
		stop_spinning(w);
		if (urio__unlikely(!t->sp))
			urio__task_first_run(w, t);
		/* release: the watchdog reads t's stack after its acquire */
		atomic_store_explicit(&w->beat, tick, memory_order_release);
	}
	return t;
}

/* Switches away from the current task. With another task ready in the
 * local queue it switches straight to it (one switch instead of two, no
 * scheduler pass); that task then runs our post action (unlock-after-
 * switch still holds: it runs once this stack is saved). */
void urio__suspend(int post, void (*after)(void *), void *arg)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *t = w->cur;
	w->post_task = t;
	w->post = post;
	w->post_fn = after;
	w->post_arg = arg;
	bool exiting = post == URIO__POST_EXIT;
	urio_task *next = next_direct(w);
	if (next) {
		atomic_store_explicit(&w->cur, next, memory_order_relaxed);
		URIO_PROBE2(task_switch, w->index, next->id);
		urio__switch_task_to_task(t, next, exiting);
	} else {
		urio__switch_to_sched(w, t, exiting);
	}
	/* resumed, perhaps on another worker: finish whoever switched here */
	urio__run_post(urio__cur_worker());
}

void urio__switch_direct(urio_task *to, void (*after)(void *), void *arg)
{
	struct urio__worker *w = urio__cur_worker();
	urio_task *t = w->cur;
	w->post_task = t;
	w->post = URIO__POST_PARK;
	w->post_fn = after;
	w->post_arg = arg;
	if (urio__unlikely(!to->sp))
		urio__task_first_run(w, to);
	atomic_store_explicit(&w->cur, to, memory_order_relaxed);
	urio__switch_task_to_task(t, to, false);
	urio__run_post(urio__cur_worker());
}

static void run(struct urio__worker *w, urio_task *t)
{
	atomic_store_explicit(&w->cur, t, memory_order_relaxed);
	if (urio__unlikely(!t->sp))
		urio__task_first_run(w, t);
	URIO_PROBE2(task_switch, w->index, t->id);
	/* release: the watchdog reads t's stack after its acquire */
	atomic_store_explicit(&w->beat, w->tick, memory_order_release);
	urio__switch_to_task(w, t);
	atomic_store_explicit(&w->cur, NULL, memory_order_relaxed);
	urio__run_post(w);
}

void urio__sched_loop(struct urio__worker *w)
{
	urio_task *t;
	while ((t = find_work(w))) {
		stop_spinning(w);
		run(w, t);
	}
}
