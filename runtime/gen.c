/* Generators: a coroutine that hands items to its consumer.
 *
 * The generator is a task of its own that is never queued to start: the
 * consumer switches to it directly in urio_gen_next (urio__switch_direct)
 * and it switches straight back in urio_gen_yield, so a hand-off costs two
 * switches and no run-queue trip. Exactly one of the two runs at a time:
 * the consumer stays parked (a wait record, so cancellation and deadlines
 * reach it) while the generator runs, and the generator parks in yield
 * while the consumer runs. Neither can be resumed by anyone else, so each
 * switch goes to a context that has fully switched out (its stack pointer
 * was saved by the very switch that left it).
 *
 * The generator may suspend on I/O; it is then an ordinary parked task,
 * readied by its completion on whatever worker, and later switches to the
 * consumer from there. When its function returns, the task ends the usual
 * way and readies its joiner, which is always the consumer waiting in
 * next or close.
 *
 * Cancellation: a consumer cancelled while it waits in next cancels the
 * generator task (as a cancelled joiner cancels what it joins), so the
 * generator's I/O fails and it returns. close sets `closing`, so the
 * pending and every later yield return -ECANCELED, and resumes the
 * generator until it returns; its cleanup runs there, and urio_with exits
 * are shielded, so they run also when the consumer (and so the generator)
 * is cancelled. A generator cancelled itself (urio_cancel on its task, or
 * a deadline of its own) finds its pending yield failing with -ECANCELED
 * once resumed.
 *
 * A generator nobody closes stays parked in yield, and only a consumer
 * could resume it. urio_rt_free ends such generators once every task left
 * is one of them (then no consumer can exist any more): each is reported,
 * marked closing and orphaned, and queued like any task; its yield
 * returns -ECANCELED, its cleanup runs, and it frees its own record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urio/gen.h>
#include <urio/scope.h>

#include "internal.h"

struct urio_gen {
	urio_task *task;     /* NULL once finished and released */
	urio_task *consumer; /* the task waiting in next or close */
	int (*fn)(urio_gen *g, void *arg);
	void *arg;
	void *item;
	bool has_item; /* a yield handed item over */
	bool closing;
	bool orphan;   /* ended by urio_rt_free: frees itself */
	/* a next or close runs it: another one is refused (relaxed: it only
	 * catches calls that overlap in time, a misuse) */
	_Atomic bool busy;
	int err;       /* fn's failure, not yet returned by next */
};

static intptr_t gen_main(void *arg)
{
	urio_gen *g = arg;
	/* closed before it started: fn never runs */
	int r = g->closing ? 0 : g->fn(g, g->arg);
	if (g->orphan) {
		urio_task *t = g->task;
		free(g);
		urio__task_unref(t); /* g's handle; the body holds another */
	}
	return r;
}

urio_gen *urio_gen_new(int (*fn)(urio_gen *g, void *arg), void *arg)
{
	struct urio__worker *w = urio__cur_worker();
	if (!fn) {
		errno = EINVAL;
		return NULL;
	}
	if (!w || !w->cur) {
		errno = EPERM;
		return NULL;
	}
	urio_gen *g = urio__calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->fn = fn;
	g->arg = arg;
	g->task = urio__task_new(w->rt, w, gen_main, g, 0);
	if (!g->task) {
		int err = errno;
		free(g);
		errno = err;
		return NULL;
	}
	/* the consumer is its joiner from the start: the generator only runs
	 * while a consumer waits for it */
	atomic_store(&g->task->jstate, URIO__J_JOINER);
	atomic_store(&g->task->gen_idle, true);
	urio_task_set_name(g->task, "generator");
	return g;
}

/* urio_self without the call (a hand-off is a few dozen instructions) */
static inline urio_task *self(void)
{
	struct urio__worker *w = urio__cur_worker();
	return w ? w->cur : NULL;
}

static void gen_cancel(struct urio__wait *w)
{
	urio_cancel(w->cancel_arg);
}

/* Runs the generator until it yields (has_item) or returns. A cancelled
 * consumer gets -ECANCELED instead, unless closing (close still runs the
 * generator, cancelled, to its end). */
static int resume(urio_gen *g, urio_task *me, bool closing)
{
	struct urio__wait w = {.what = "gen", .fd = -1};
	w.cancel = gen_cancel;
	w.cancel_arg = g->task;
	if (urio__wait_begin(&w, URIO__WAIT_OTHER) < 0) {
		if (!closing)
			return -ECANCELED;
		urio_cancel(g->task);
		w.cancel = NULL;
		urio__wait_begin(&w, URIO__WAIT_OTHER);
	}
	g->consumer = me;
	g->task->joiner = me;
	g->has_item = false;
	/* relaxed: urio_rt_free only trusts it once no consumer is left */
	atomic_store_explicit(&g->task->gen_idle, false, memory_order_relaxed);
	urio__switch_direct(g->task, NULL, NULL);
	urio__task_lock(me);
	me->wait = NULL;
	urio__task_unlock(me);
	if (!g->has_item) {
		/* it returned; its end readied us (task_finish) */
		intptr_t res = g->task->result;
		g->err = res < 0 ? (int)res : 0;
		urio__task_unref(g->task);
		g->task = NULL;
	}
	return 0;
}

int urio_gen_next(urio_gen *g, void **item)
{
	urio_task *me = self();
	if (!g || !item)
		return -EINVAL;
	if (!me)
		return -EPERM;
	if (me == g->task)
		return -EINVAL;
	if (g->task) {
		if (atomic_load_explicit(&g->busy, memory_order_relaxed))
			return -EBUSY;
		atomic_store_explicit(&g->busy, true, memory_order_relaxed);
		int r = resume(g, me, false);
		atomic_store_explicit(&g->busy, false, memory_order_relaxed);
		if (r < 0)
			return r;
		if (g->has_item) {
			*item = g->item;
			return 1;
		}
	}
	int r = g->err;
	g->err = 0;
	return r;
}

/* The generator parks here with no wait record: only its consumer can
 * resume it, so there is nothing for a cancel or a deadline to cancel,
 * and two task-lock round trips per item are saved. */
int urio_gen_yield(urio_gen *g, void *item)
{
	urio_task *me = self();
	if (!g || !me || me != g->task)
		return -EINVAL;
	if (g->closing || urio__scopes_cancelled(me))
		return -ECANCELED;
	g->item = item;
	g->has_item = true;
	atomic_store_explicit(&me->gen_idle, true, memory_order_release);
	urio__switch_direct(g->consumer, NULL, NULL);
	/* closed, or cancelled while parked here (nothing else could tell) */
	return g->closing || urio__scopes_cancelled(me) ? -ECANCELED : 0;
}

void urio_gen_close(urio_gen *g)
{
	if (!g)
		return;
	urio_task *me = self();
	if (g->task) {
		if (!me || me == g->task)
			return; /* misuse: only a consumer task can close it */
		if (atomic_load_explicit(&g->busy, memory_order_relaxed)) {
			fprintf(stderr, "urio: task '%s' (id %llu) closed "
					"generator %llu while another task's "
					"urio_gen_next runs it: ignored\n",
				me->name, (unsigned long long)me->id,
				(unsigned long long)g->task->id);
			return;
		}
		atomic_store_explicit(&g->busy, true, memory_order_relaxed);
		g->closing = true;
		resume(g, me, true);
	}
	free(g);
}

/* --- generators nobody closed, at shutdown -------------------------------- */

static uint64_t spawned_total(urio_rt *rt)
{
	uint64_t n = atomic_load(&rt->foreign_spawned);
	for (unsigned i = 0; i < rt->nworkers; i++)
		n += atomic_load(&rt->workers[i].st.spawned);
	return n;
}

/* A live task other than an idle generator. A generator's consumer is
 * such a task while it runs or waits in next, and only a live task can
 * spawn, close or resume anything. */
static bool busy_task(urio_task *t)
{
	if (atomic_load(&t->jstate) == URIO__J_DONE)
		return false;
	return t->fn != gen_main || !atomic_load(&t->gen_idle);
}

/* All live tasks of rt are idle generators (at least one). Shards are
 * scanned one after another, so a task spawned meanwhile in a shard
 * already scanned would go unseen: the spawn count must not move. */
static bool only_idle_gens(urio_rt *rt)
{
	uint64_t spawned = spawned_total(rt);
	unsigned gens = 0;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		bool busy = false;
		urio__spin_lock(&w->reg_lock);
		for (uint32_t k = 0; k < w->nreg && !busy; k++) {
			urio_task *t = urio__reg_at(w, k);
			if (!t || atomic_load(&t->jstate) == URIO__J_DONE)
				continue;
			busy = busy_task(t);
			gens++;
		}
		urio__spin_unlock(&w->reg_lock);
		if (busy)
			return false;
	}
	return gens && spawned_total(rt) == spawned;
}

static void end_abandoned(urio_task *t)
{
	urio_gen *g = t->arg;
	bool exp = true;
	if (!atomic_compare_exchange_strong(&t->gen_idle, &exp, false))
		return;
	char name[URIO__NAME_MAX];
	urio__task_lock(t); /* the name's lock (urio_task_set_name) */
	memcpy(name, t->name, sizeof(name));
	urio__task_unlock(t);
	fprintf(stderr, "urio: urio_rt_free: generator task '%s' (id %llu, "
			"made by task %llu) was never closed (urio_gen_close "
			"is missing); ending it: its urio_gen_yield returns "
			"-ECANCELED\n",
		name, (unsigned long long)t->id,
		(unsigned long long)t->parent_id);
	g->closing = true;
	g->orphan = true;
	/* nobody joins it now: its end readies no consumer */
	atomic_store(&t->jstate, URIO__J_RUNNING);
	urio__ready(t, false);
}

bool urio__gens_end_abandoned(urio_rt *rt)
{
	if (!only_idle_gens(rt))
		return false;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		urio__spin_lock(&w->reg_lock);
		for (uint32_t k = 0; k < w->nreg; k++) {
			urio_task *t = urio__reg_at(w, k);
			if (t && t->fn == gen_main &&
			    atomic_load(&t->jstate) != URIO__J_DONE)
				end_abandoned(t);
		}
		urio__spin_unlock(&w->reg_lock);
	}
	return true;
}
