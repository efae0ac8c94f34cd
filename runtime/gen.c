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
 * is cancelled. */
#include <errno.h>
#include <stdlib.h>
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
	int err;       /* fn's failure, not yet returned by next */
};

static intptr_t gen_main(void *arg)
{
	urio_gen *g = arg;
	if (g->closing)
		return 0; /* closed before it started: fn never runs */
	return g->fn(g, g->arg);
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
	urio_gen *g = calloc(1, sizeof(*g));
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
		int r = resume(g, me, false);
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
	urio__switch_direct(g->consumer, NULL, NULL);
	return g->closing ? -ECANCELED : 0;
}

void urio_gen_close(urio_gen *g)
{
	if (!g)
		return;
	urio_task *me = self();
	if (g->task) {
		if (!me || me == g->task)
			return; /* misuse: only a consumer task can close it */
		g->closing = true;
		resume(g, me, true);
	}
	free(g);
}
