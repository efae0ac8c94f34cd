/* Tasks: spawn, join, detach, cancel, and the suspension protocol every
 * blocking call is built on.
 *
 * A task record is shared by the running body and the handle (plus any
 * in-flight cancel message): it is freed when the last reference drops.
 * Its stack goes back to the pool as soon as the body returns.
 *
 * Cancellation is level-triggered: urio_cancel sets `cancelled`, and then,
 * under the task's lock, cancels whatever the task waits in right now. A
 * task registers its wait under the same lock and refuses to start one once
 * cancelled, so a cancel can never fall between the check and the wait. */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault.h"
#include "fiber.h"
#include "internal.h"
#include "probes.h"

static _Atomic uint64_t next_id = 1;

#define ID_BLOCK 1024

/* Ids are unique per process; workers take them in blocks so spawning
 * does not bounce one counter between CPUs. */
static uint64_t new_id(struct urio__worker *w)
{
	if (!w)
		return atomic_fetch_add_explicit(&next_id, 1,
						 memory_order_relaxed);
	if (w->id_next == w->id_end) {
		w->id_next = atomic_fetch_add_explicit(&next_id, ID_BLOCK,
						       memory_order_relaxed);
		w->id_end = w->id_next + ID_BLOCK;
	}
	return w->id_next++;
}

uint64_t urio__live_tasks(urio_rt *rt)
{
	uint64_t fin = 0, spawned = 0;
	/* acquire pairs with URIO__STAT's release: a finish seen here makes
	 * its spawn visible below */
	for (unsigned i = 0; i < rt->nworkers; i++)
		fin += atomic_load_explicit(&rt->workers[i].st.finished,
					    memory_order_acquire);
	for (unsigned i = 0; i < rt->nworkers; i++)
		spawned += atomic_load_explicit(&rt->workers[i].st.spawned,
						memory_order_acquire);
	spawned += atomic_load_explicit(&rt->foreign_spawned,
					memory_order_acquire);
	return spawned - fin;
}

static void futex_wait(_Atomic int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Puts t in a slot of shard's registry: 0, or -ENOMEM. */
static int registry_add(urio_rt *rt, urio_task *t, unsigned shard)
{
	struct urio__worker *w = &rt->workers[shard];
	int r = 0;
	urio__spin_lock(&w->reg_lock);
	uint32_t k = w->reg_free;
	if (k != URIO__REG_NONE) {
		w->reg_free = (uint32_t)(w->reg[k] >> 1);
	} else if (w->nreg < w->reg_cap) {
		k = w->nreg++;
	} else {
		uint32_t cap = w->reg_cap ? w->reg_cap * 2 : 256;
		uintptr_t *grown = cap > w->reg_cap
					   ? urio__realloc(w->reg, cap * sizeof(*grown))
					   : NULL;
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		w->reg = grown;
		w->reg_cap = cap;
		k = w->nreg++;
	}
	w->reg[k] = (uintptr_t)t;
	t->reg = shard;
	t->reg_slot = k;
out:
	urio__spin_unlock(&w->reg_lock);
	return r;
}

static void unlink_locked(struct urio__worker *w, urio_task *t)
{
	w->reg[t->reg_slot] = ((uintptr_t)w->reg_free << 1) | 1;
	w->reg_free = t->reg_slot;
}

#define GONE_BATCH 32

/* Pushes the batched tasks of shard s onto its owner's graveyard. */
static void gone_push(struct urio__worker *w, unsigned s)
{
	urio_task *first = w->gone[s], *last = first;
	if (!first)
		return;
	while (last->next)
		last = last->next;
	struct urio__worker *o = &w->rt->workers[s];
	urio_task *head = atomic_load_explicit(&o->graveyard,
					       memory_order_relaxed);
	do
		last->next = head;
	/* release pairs with the acquire exchange in urio__registry_reap */
	while (!atomic_compare_exchange_weak_explicit(&o->graveyard, &head,
						      first,
						      memory_order_release,
						      memory_order_relaxed));
	w->gone[s] = NULL;
	w->ngone[s] = 0;
}

/* A finished task leaves the registry. Unlinking it from another worker's
 * shard would bounce that shard's lock between CPUs once per task (most of
 * the cost of a fan-out on two workers), so such tasks are batched and
 * handed to the shard's owner, which unlinks them in its next scheduler
 * pass. Until then the registry's reference keeps them alive, marked done. */
static void registry_del(struct urio__worker *w, urio_task *t)
{
	if (t->reg == w->index) {
		urio__spin_lock(&w->reg_lock);
		unlink_locked(w, t);
		urio__spin_unlock(&w->reg_lock);
		urio__task_unref(t);
		return;
	}
	t->next = w->gone[t->reg];
	w->gone[t->reg] = t;
	if (++w->ngone[t->reg] >= GONE_BATCH)
		gone_push(w, t->reg);
}

void urio__registry_flush(struct urio__worker *w)
{
	for (unsigned s = 0; s < w->rt->nworkers; s++)
		gone_push(w, s);
}

void urio__registry_reap(struct urio__worker *w)
{
	if (!atomic_load_explicit(&w->graveyard, memory_order_relaxed))
		return;
	urio_task *t = atomic_exchange_explicit(&w->graveyard, NULL,
						memory_order_acquire);
	urio__spin_lock(&w->reg_lock);
	for (urio_task *x = t; x; x = x->next)
		unlink_locked(w, x);
	urio__spin_unlock(&w->reg_lock);
	while (t) {
		urio_task *next = t->next;
		urio__task_unref(t);
		t = next;
	}
}

urio_task *urio__task_new(urio_rt *rt, struct urio__worker *w, urio_fn fn,
			  void *arg, size_t stack_size)
{
	if (!fn || (stack_size && stack_size < URIO__MIN_STACK)) {
		errno = EINVAL;
		return NULL;
	}
	urio_task *t = urio__calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->stack = urio__stack_get(w, stack_size ? stack_size
						 : rt->cfg.stack_size,
				   &t->stack_size);
	if (!t->stack) {
		int err = errno;
		free(t);
		errno = err == ENOMEM || err == EAGAIN ? err : ENOMEM;
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	t->rt = rt;
	atomic_init(&t->refs, 3); /* the handle, the body, the registry */
	atomic_init(&t->jstate, URIO__J_RUNNING);
	atomic_init(&t->handle, URIO__H_HELD);
	atomic_flag_clear_explicit(&t->lock, memory_order_relaxed); /* unshared */
	t->id = new_id(w);
#ifdef URIO__TSAN
	t->tsan_fiber = __tsan_create_fiber(0);
#endif
	t->parent_id = w && w->cur ? w->cur->id : 0; /* before introspection sees t */
	if (registry_add(rt, t, w ? w->index : 0) < 0) {
#ifdef URIO__TSAN
		__tsan_destroy_fiber(t->tsan_fiber);
#endif
		urio__stack_put(w, t->stack, t->stack_size);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	URIO_PROBE2(task_spawn, t->id, t->parent_id);
	if (w)
		URIO__STAT(w, spawned, 1);
	else
		atomic_fetch_add_explicit(&rt->foreign_spawned, 1,
					  memory_order_release);
	return t;
}

void urio__task_unref(urio_task *t)
{
	/* acq_rel: the last owner sees every write of the others */
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		free(t);
}

/* t is about to run for the first time, on w: it trades its stack for the
 * one w used last (urio__stack_swap; t->reg is the spawner's index) and
 * lays out its first frame there. Not at spawn: a fan-out's spawner would
 * touch each stack twice, or a stack another worker then swaps away (each
 * stack top is its own page: on this VM a TLB miss was most of a spawn).
 * The stack was reserved at spawn, so running out of memory stays the
 * spawner's error. */
void urio__task_first_run(struct urio__worker *w, urio_task *t)
{
	__atomic_store_n(&t->stack, urio__stack_swap(w, t->stack,
			 &t->stack_size, t->reg != w->index), __ATOMIC_RELAXED);
	t->sp = urio__ctx_init((char *)t->stack, urio__task_entry, t);
}

void urio__task_entry(urio_task *t)
{
	urio__fiber_started();
	urio__run_post(urio__cur_worker());
	t->result = t->fn(t->arg);
	/* scopes first: waiting for an abandoned group suspends, and a
	 * suspension must not walk scopes of frames that are gone */
	urio__scopes_abandon(t);
	urio__groups_abandon(t);
	urio__locals_release(t);
	urio__suspend(URIO__POST_EXIT, NULL, NULL);
	__builtin_unreachable();
}

/* Runs on the scheduler stack after t's body has switched out for good. */
void urio__task_finish(struct urio__worker *w, urio_task *t)
{
	URIO_PROBE2(task_finish, t->id, t->result);
	/* the watchdog may read t->stack now (watchdog.c) */
	struct urio__stack *st = t->stack;
	__atomic_store_n(&t->stack, NULL, __ATOMIC_RELAXED);
	urio__stack_put(w, st, t->stack_size);
#ifdef URIO__TSAN
	__tsan_destroy_fiber(t->tsan_fiber);
#endif
	URIO__STAT(w, finished, 1); /* before the joiner can look */
	if (t->group)
		urio__group_child_done(t);
	/* acq_rel: publishes result to the joiner; pairs with its CAS/load */
	int old = atomic_exchange(&t->jstate, URIO__J_DONE);
	if (old == URIO__J_JOINER)
		urio__ready(t->joiner, true);
	else if (old == URIO__J_FOREIGN)
		futex_wake(&t->jstate);
	registry_del(w, t);
	urio__task_unref(t);
}

/* --- the suspension protocol --------------------------------------------- */

void urio__wait_cancel_owned(struct urio__wait *w)
{
	struct urio__worker *me = urio__cur_worker();
	if (me == w->owner) {
		urio__io_cancel(me, w);
		return;
	}
	struct urio__msg *m = malloc(sizeof(*m));
	if (!m)
		abort(); /* a lost cancel would hang the task forever */
	m->kind = URIO__MSG_CANCEL;
	m->task = w->task;
	atomic_fetch_add(&w->task->refs, 1);
	urio__worker_msg(w->owner, m);
}

void urio__wait_cancel_now(struct urio__wait *w)
{
	struct urio__worker *me = urio__cur_worker();
	if (me == w->owner) {
		urio__io_cancel(me, w);
		return;
	}
	struct urio__msg *m = malloc(sizeof(*m));
	if (!m)
		abort(); /* a lost cancel would hang the task forever */
	m->kind = URIO__MSG_CANCEL_OP;
	m->task = w->task;
	m->op = w;
	atomic_fetch_add(&w->task->refs, 1);
	urio__worker_msg(w->owner, m);
}

int urio__wait_begin(struct urio__wait *w, enum urio__wait_kind kind)
{
	struct urio__worker *wk = urio__cur_worker();
	urio_task *t = wk ? wk->cur : NULL;
	if (!t)
		return -EPERM;
	w->kind = kind;
	w->owner = wk;
	w->task = t;
	w->res = 0;
	w->cqe_flags = 0;
	w->cancel_sent = false;
	w->heap_idx = SIZE_MAX;
	w->done = NULL;
	if (kind != URIO__WAIT_OTHER) {
		w->cancel = urio__wait_cancel_owned;
		w->fire = NULL;
	}
	urio__task_lock(t);
	if (w->cancel && urio__scopes_cancelled(t)) {
		urio__task_unlock(t);
		return -ECANCELED;
	}
	t->wait = w;
	urio__task_unlock(t);
	return 0;
}

void urio__wait_abort(struct urio__wait *w)
{
	urio__task_lock(w->task);
	w->task->wait = NULL;
	urio__task_unlock(w->task);
}

int32_t urio__wait_end(struct urio__wait *w, void (*after)(void *),
		       void *arg)
{
	urio__suspend(URIO__POST_PARK, after, arg);
	urio_task *t = w->task;
	urio__task_lock(t);
	t->wait = NULL;
	urio__task_unlock(t);
	int32_t res = w->res;
	if (urio__unlikely(urio__cur_worker()->fuzz))
		urio__fuzz_after_wait();
	return res;
}

/* --- public task API ------------------------------------------------------ */

urio_task *urio_spawn_ex(urio_fn fn, void *arg, size_t stack_size)
{
	struct urio__worker *w = urio__cur_worker();
	if (!w || !w->cur) {
		errno = EPERM;
		return NULL;
	}
	urio_task *t = urio__task_new(w->rt, w, fn, arg, stack_size);
	if (t)
		urio__ready(t, false);
	return t;
}

urio_task *urio_spawn(urio_fn fn, void *arg)
{
	return urio_spawn_ex(fn, arg, 0);
}

static void join_after(void *arg)
{
	urio_task *t = arg;
	int exp = URIO__J_RUNNING;
	/* Publish the joiner only now that it has switched out; if t finished
	 * meanwhile, nobody else will wake the joiner. */
	if (!atomic_compare_exchange_strong(&t->jstate, &exp, URIO__J_JOINER))
		urio__ready(t->joiner, true);
}

static void join_cancel(struct urio__wait *w)
{
	urio_cancel(w->cancel_arg);
}

static void join_foreign(urio_task *t)
{
	int s = atomic_load(&t->jstate);
	while (s != URIO__J_DONE) {
		if (s == URIO__J_RUNNING &&
		    !atomic_compare_exchange_strong(&t->jstate, &s,
						    URIO__J_FOREIGN))
			continue;
		futex_wait(&t->jstate, URIO__J_FOREIGN);
		s = atomic_load(&t->jstate);
	}
}

/* Takes t's handle for a join or a detach. Fails when it was taken
 * already: joined (or being joined), detached, or owned by a group. */
static bool claim_handle(urio_task *t, int how)
{
	int exp = URIO__H_HELD;
	return atomic_compare_exchange_strong(&t->handle, &exp, how);
}

int urio_join(urio_task *t, intptr_t *result)
{
	if (!t)
		return -EINVAL;
	urio_task *me = urio_self();
	if (me == t)
		return -EDEADLK;
	if (!claim_handle(t, URIO__H_JOINED))
		return -EINVAL;
	if (!me) {
		join_foreign(t);
	} else if (atomic_load(&t->jstate) != URIO__J_DONE) {
		struct urio__wait w = {.what = "join", .fd = -1};
		w.cancel = join_cancel;
		w.cancel_arg = t;
		t->joiner = me;
		/* A cancelled joiner cancels t and still waits for it: nothing
		 * outlives its joiner. */
		if (urio__wait_begin(&w, URIO__WAIT_OTHER) < 0) {
			urio_cancel(t);
			w.cancel = NULL;
			urio__wait_begin(&w, URIO__WAIT_OTHER);
		}
		urio__wait_end(&w, join_after, t);
	}
	if (result)
		*result = t->result;
	int r = atomic_load(&t->cancelled) ? -ECANCELED : 0;
	urio__task_unref(t);
	return r;
}

void urio_detach(urio_task *t)
{
	if (t && claim_handle(t, URIO__H_DETACHED))
		urio__task_unref(t);
}

int urio_cancel(urio_task *t)
{
	if (!t)
		return -EINVAL;
	if (atomic_load(&t->jstate) == URIO__J_DONE)
		return -EALREADY;
	bool foreign = urio__foreign_enter(t->rt);
	atomic_store(&t->cancelled, true);
	urio__cancel_current_wait(t);
	urio__task_lock(t);
	urio__groups_cancel(t); /* cancelling the owner cancels its groups */
	urio__task_unlock(t);
	urio__foreign_exit(t->rt, foreign);
	return 0;
}

void urio__cancel_current_wait(urio_task *t)
{
	urio__task_lock(t);
	struct urio__wait *w = t->wait;
	if (w && w->cancel && !w->cancel_sent && urio__scopes_cancelled(t)) {
		w->cancel_sent = true;
		w->cancel(w);
	}
	urio__task_unlock(t);
}

bool urio_task_done(const urio_task *t)
{
	return t && atomic_load(&((urio_task *)t)->jstate) == URIO__J_DONE;
}

void urio_task_set_name(urio_task *t, const char *name)
{
	if (!t)
		return;
	if (!name)
		name = "";
	/* strncpy pads; the last byte stays 0. The lock: introspect.c */
	urio__task_lock(t);
	strncpy(t->name, name, sizeof(t->name) - 1);
	urio__task_unlock(t);
}

const char *urio_task_name(const urio_task *t)
{
	return t ? t->name : "";
}

uint64_t urio_task_id(const urio_task *t)
{
	return t ? t->id : 0;
}

urio_task *urio_self(void)
{
	struct urio__worker *w = urio__cur_worker();
	return w ? w->cur : NULL;
}

int urio_worker_index(void)
{
	struct urio__worker *w = urio__cur_worker();
	return w ? (int)w->index : -1;
}

void urio_yield(void)
{
	struct urio__worker *w = urio__cur_worker();
	if (w && w->cur)
		urio__suspend(URIO__POST_YIELD, NULL, NULL);
}

int urio_sleep_ns(uint64_t ns)
{
	struct urio__wait w = {.what = "sleep", .fd = -1};
	uint64_t now = urio__now_ns();
	w.when = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
	int r = urio__wait_begin(&w, URIO__WAIT_TIMER);
	if (r < 0)
		return r;
	r = urio__timer_add(w.owner, &w);
	if (r < 0) {
		urio__wait_abort(&w);
		return r;
	}
	return urio__wait_end(&w, NULL, NULL);
}

int urio_sleep_ms(uint64_t ms)
{
	return urio_sleep_ns(ms > UINT64_MAX / 1000000 ? UINT64_MAX
						      : ms * 1000000);
}
