/* Resource pool.
 *
 * Room is a semaphore of max_size permits (sync/sem.c), which gives the
 * FIFO queue, cancellation and deadlines for free. Every creation and
 * every destruction runs under a held permit; an idle resource is pushed
 * before its lease's permit is released and popped only by a permit
 * holder. So an acquirer that finds nothing idle may create: the
 * resources that exist are then all tied to other holders. The one
 * creation that is not, the background warm-up of idle spares, also
 * checks the count of all resources (leased, idle, being made or unmade)
 * against max_size, which they thus never exceed. Idle resources
 * form a list, newest first: acquirers take the newest (warm, and the
 * oldest are left to time out), the background task retires from the old
 * end. Leased and idle resources are all in a table keyed by pointer
 * (ptab.c), so release finds a lease's record (its age) in O(1) and
 * ignores pointers it never handed out.
 *
 * The pool's fields are under one spinlock held for a few loads and stores
 * (no callback runs under it). urio_pool_free counts on `inside` (acquirers
 * under way plus leases out) dropping to zero: the call that drops it
 * completes a future the freeing task waits on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urio/future.h>
#include <urio/pool.h>
#include <urio/scope.h>
#include <urio/sync.h>

#include "../runtime/internal.h"
#include "ptab.h"

#define MS 1000000ull
#define BACKOFF_MIN (10 * MS) /* background creation failed: retry after */
#define BACKOFF_MAX (1000 * MS)

struct node {
	void *res; /* first: the table's key */
	uint64_t born, idle_since;
	struct node *prev, *next; /* idle list, while idle */
	bool leased;
};

struct urio_pool {
	urio_pool_ops ops;
	void *ctx;
	urio_pool_opts o;
	bool bounded; /* max_size > 0: slots counts the room */
	urio_sem slots;

	urio__spin lock;
	struct node *idle_head, *idle_tail; /* newest first */
	unsigned nidle, nused, ncreating, nwaiting;
	unsigned total; /* resources that exist or are being made */
	struct urio__ptab tab; /* every resource's node, by resource */
	unsigned inside; /* acquirers under way + leases out */
	bool closing;
	urio_pool_stats st;

	urio_future *drained; /* completed when inside drops to 0 in free */
	urio_task *maint;     /* background task, if any */
	urio_sem kick;        /* wakes it */
	_Atomic bool kicked;
	uint64_t maint_wake; /* when it looks next on its own (ns) */
};

/* --- the idle list (under the lock) -------------------------------------- */

static void idle_push(urio_pool *p, struct node *n)
{
	n->prev = NULL;
	n->next = p->idle_head;
	if (p->idle_head)
		p->idle_head->prev = n;
	else
		p->idle_tail = n;
	p->idle_head = n;
	p->nidle++;
}

static void idle_del(urio_pool *p, struct node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		p->idle_head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		p->idle_tail = n->prev;
	p->nidle--;
}

/* --- helpers --------------------------------------------------------------- */

static void lock(urio_pool *p)
{
	urio__spin_lock(&p->lock);
}

static void unlock(urio_pool *p)
{
	urio__spin_unlock(&p->lock);
}

/* t + ms milliseconds, saturating (0 ms: never, UINT64_MAX) */
static uint64_t after(uint64_t t, uint64_t ms)
{
	if (!ms || ms > UINT64_MAX / MS || ms * MS > UINT64_MAX - t)
		return UINT64_MAX;
	return t + ms * MS;
}

static bool too_old(const urio_pool *p, const struct node *n, uint64_t now)
{
	return after(n->born, p->o.max_lifetime_ms) <= now;
}

/* When n, idle, is due to be retired (UINT64_MAX: never); a spare (one
 * beyond min_idle) may also time out. */
static uint64_t due(const urio_pool *p, const struct node *n, bool spare)
{
	uint64_t t = after(n->born, p->o.max_lifetime_ms);
	uint64_t idle = after(n->idle_since, p->o.idle_timeout_ms);
	return spare && idle < t ? idle : t;
}

/* Wakes the background task to look again. */
static void kick(urio_pool *p)
{
	/* the exchange pairs with the store at the top of maintain()'s loop:
	 * a kick after that store is seen by the next wait */
	if (p->maint && !atomic_exchange(&p->kicked, true))
		urio_sem_release(&p->kick);
}

static void give_back_room(urio_pool *p)
{
	if (p->bounded)
		urio_sem_release(&p->slots);
}

/* Runs destroy to the end even in a cancelled task: an fd closed through
 * the ring must not fail with -ECANCELED and leak. */
static void destroy_res(urio_pool *p, void *res)
{
	urio_shield sh;
	urio_shield_enter(&sh);
	p->ops.destroy(p->ctx, res);
	urio_shield_exit(&sh);
}

/* Destroys n, which the caller took out of the idle list or holds leased;
 * the caller holds a permit (bounded pools). */
static void drop(urio_pool *p, struct node *n)
{
	lock(p);
	urio__ptab_del(&p->tab, n->res);
	if (n->leased)
		p->nused--;
	unlock(p);
	destroy_res(p, n->res);
	lock(p);
	p->st.destroyed++;
	p->total--;
	bool low = p->nidle < p->o.min_idle;
	unlock(p);
	free(n);
	if (low)
		kick(p);
}

/* Makes a resource, under a permit the caller holds and with ncreating
 * and total counted: leased to the caller (*out set) or pushed idle.
 * Returns 0 or create's error. */
static int make(urio_pool *p, bool lease, void **out)
{
	struct node *n = urio__malloc(sizeof(*n));
	void *res = NULL;
	int err = n ? p->ops.create(p->ctx, &res) : -ENOMEM;
	if (err >= 0 && !res)
		err = -EINVAL; /* create must hand over a resource */
	uint64_t now = urio_now_ns();
	lock(p);
	p->ncreating--;
	if (err >= 0) {
		*n = (struct node){.res = res, .born = now, .idle_since = now,
				   .leased = lease};
		p->st.created++;
		err = urio__ptab_add(&p->tab, n);
	} else {
		p->st.create_errors++;
		p->total--;
	}
	if (err >= 0) {
		if (lease)
			p->nused++;
		else
			idle_push(p, n);
	}
	unlock(p);
	if (err >= 0) {
		if (lease)
			*out = res;
		return 0;
	}
	if (res) { /* made, but no room in the table */
		destroy_res(p, res);
		lock(p);
		p->st.destroyed++;
		p->total--;
		unlock(p);
	}
	free(n);
	return err < 0 ? err : -EIO;
}

/* Takes a permit, then the newest idle resource that passes its check, or
 * makes one. On failure the permit is given back. */
static int get(urio_pool *p, void **out)
{
	if (urio_cancelled()) /* even when one is free at once */
		return -ECANCELED;
	lock(p);
	p->nwaiting++;
	unlock(p);
	int err = p->bounded ? urio_sem_acquire(&p->slots) : 0;
	lock(p);
	p->nwaiting--;
	unlock(p);
	if (err < 0)
		return err;
	for (;;) {
		lock(p);
		if (p->closing) {
			unlock(p);
			err = -ESHUTDOWN;
			break;
		}
		struct node *n = p->idle_head;
		if (!n) {
			p->ncreating++;
			p->total++;
			unlock(p);
			err = make(p, true, out);
			if (err < 0)
				break;
			return 0;
		}
		idle_del(p, n);
		n->leased = true;
		p->nused++;
		bool low = p->nidle < p->o.min_idle;
		unlock(p);
		if (low)
			kick(p); /* warm a spare in the background */
		bool old = too_old(p, n, urio_now_ns());
		bool broken = !old && p->ops.check &&
			      p->ops.check(p->ctx, n->res) < 0;
		if (!old && !broken) {
			*out = n->res;
			return 0;
		}
		if (broken) {
			lock(p);
			p->st.broken++;
			unlock(p);
		}
		drop(p, n);
	}
	give_back_room(p);
	return err;
}

/* An acquirer or a lease is done with p. */
static void leave(urio_pool *p)
{
	urio_future *f = NULL;
	lock(p);
	if (--p->inside == 0 && p->closing)
		f = urio_future_ref(p->drained);
	unlock(p);
	if (f) { /* p may be freed from here on */
		urio_future_set(f, 0);
		urio_future_free(f);
	}
}

/* --- public API ------------------------------------------------------------ */

int urio_pool_acquire(urio_pool *p, void **res)
{
	if (!p || !res)
		return -EINVAL;
	*res = NULL;
	if (!urio_self())
		return -EPERM;
	uint64_t t0 = urio_now_ns();
	lock(p);
	if (p->closing) {
		unlock(p);
		return -ESHUTDOWN;
	}
	p->inside++;
	unlock(p);
	urio_deadline d;
	uint64_t ms = p->o.acquire_timeout_ms;
	if (ms)
		urio_timeout_enter(&d, ms);
	int err = get(p, res);
	if (ms && urio_timeout_exit(&d) == -ETIMEDOUT &&
	    (err == -ECANCELED || err == -ETIMEDOUT))
		err = -ETIMEDOUT;
	uint64_t t1 = urio_now_ns();
	lock(p);
	p->st.wait_ns += t1 - t0;
	if (err == 0)
		p->st.acquires++;
	else if (err == -ETIMEDOUT)
		p->st.timeouts++;
	unlock(p);
	if (err < 0)
		leave(p);
	return err;
}

void urio_pool_release(urio_pool *p, void *res, int err)
{
	if (!p || !res)
		return;
	uint64_t now = urio_now_ns();
	lock(p);
	struct node *n = urio__ptab_get(&p->tab, res);
	if (!n || !n->leased) {
		unlock(p);
		return;
	}
	bool destroy = err < 0 || too_old(p, n, now);
	bool wake = false;
	if (err < 0)
		p->st.broken++;
	if (!destroy) {
		n->leased = false;
		n->idle_since = now;
		p->nused--;
		idle_push(p, n);
		wake = p->nidle < p->o.min_idle ||
		       due(p, n, p->nidle > p->o.min_idle) < p->maint_wake;
	}
	unlock(p);
	if (destroy)
		drop(p, n);
	else if (wake)
		kick(p);
	give_back_room(p);
	leave(p);
}

void urio_pool_get_stats(urio_pool *p, urio_pool_stats *out)
{
	if (!p || !out)
		return;
	lock(p);
	*out = p->st;
	out->in_use = p->nused;
	out->idle = p->nidle;
	out->waiting = p->nwaiting;
	out->creating = p->ncreating;
	unlock(p);
}

/* --- the background task --------------------------------------------------- */

/* Destroys idle resources past their time, each under a permit (taken
 * without waiting: with acquirers queued, it is left for later). */
static void retire(urio_pool *p)
{
	for (;;) {
		if (p->bounded && urio_sem_try_acquire(&p->slots) < 0)
			return;
		uint64_t now = urio_now_ns();
		lock(p);
		struct node *n = p->idle_tail;
		unsigned spare = p->nidle > p->o.min_idle ? p->nidle - p->o.min_idle
							  : 0;
		/* oldest idle first; the ones beyond min_idle may time out */
		for (; n; n = n->prev, spare = spare ? spare - 1 : 0)
			if (due(p, n, spare > 0) <= now)
				break;
		if (n)
			idle_del(p, n);
		unlock(p);
		if (n)
			drop(p, n);
		give_back_room(p);
		if (!n)
			return;
	}
}

/* Tops the idle list up to min_idle while there is room. Returns create's
 * error if a creation failed. */
static int warm(urio_pool *p)
{
	for (;;) {
		/* a permit first: none is free while acquirers queue */
		if (p->bounded && urio_sem_try_acquire(&p->slots) < 0)
			return 0;
		lock(p);
		bool need = !p->closing &&
			    p->nidle + p->ncreating < p->o.min_idle &&
			    (!p->bounded || p->total < p->o.max_size);
		if (need) {
			p->ncreating++;
			p->total++;
		}
		unlock(p);
		if (!need) {
			give_back_room(p);
			return 0;
		}
		int err = make(p, false, NULL);
		give_back_room(p);
		if (err < 0)
			return err;
	}
}

/* The earliest moment an idle resource is due (UINT64_MAX: none). */
static uint64_t next_due(urio_pool *p)
{
	uint64_t t = UINT64_MAX;
	lock(p);
	unsigned spare = p->nidle > p->o.min_idle ? p->nidle - p->o.min_idle : 0;
	for (struct node *n = p->idle_tail; n;
	     n = n->prev, spare = spare ? spare - 1 : 0) {
		uint64_t d = due(p, n, spare > 0);
		t = d < t ? d : t;
	}
	unlock(p);
	return t;
}

static intptr_t maintain(void *arg)
{
	urio_pool *p = arg;
	uint64_t backoff = 0;
	for (;;) {
		/* pairs with the exchange in kick(): kicks from here on make
		 * the wait below return at once */
		atomic_store(&p->kicked, false);
		retire(p);
		if (warm(p) < 0)
			backoff = backoff ? backoff * 2 : BACKOFF_MIN;
		else
			backoff = 0;
		backoff = backoff > BACKOFF_MAX ? BACKOFF_MAX : backoff;
		uint64_t now = urio_now_ns(), next = next_due(p);
		if (backoff && now + backoff < next)
			next = now + backoff;
		lock(p);
		p->maint_wake = next;
		unlock(p);
		int r;
		if (next == UINT64_MAX) {
			r = urio_sem_acquire(&p->kick);
		} else {
			uint64_t ms = next > now ? (next - now + MS - 1) / MS : 1;
			r = urio_sem_acquire_timeout(&p->kick, ms ? ms : 1);
		}
		if (r == -ECANCELED || urio_cancelled())
			return 0;
	}
}

/* --- life cycle ------------------------------------------------------------ */

urio_pool *urio_pool_new(const urio_pool_ops *ops, void *ctx,
			 const urio_pool_opts *opts)
{
	urio_pool_opts o = opts ? *opts : (urio_pool_opts){0};
	if (!ops || !ops->create || !ops->destroy ||
	    (o.max_size && o.min_idle > o.max_size)) {
		errno = EINVAL;
		return NULL;
	}
	if (!urio_self()) {
		errno = EPERM;
		return NULL;
	}
	int err;
	urio_pool *p = urio__calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->ops = *ops;
	p->ctx = ctx;
	p->o = o;
	p->bounded = o.max_size > 0;
	urio_sem_init(&p->slots, o.max_size);
	urio_sem_init(&p->kick, 0);
	atomic_flag_clear(&p->lock.f);
	p->maint_wake = UINT64_MAX;
	if (urio__ptab_init(&p->tab) < 0) {
		errno = ENOMEM;
		goto fail_pool;
	}
	p->drained = urio_future_new();
	if (!p->drained)
		goto fail_tab;
	if (o.min_idle || o.idle_timeout_ms || o.max_lifetime_ms) {
		p->maint = urio_spawn(maintain, p);
		if (!p->maint)
			goto fail_future;
		urio_task_set_name(p->maint, "urio-pool");
	}
	return p;

fail_future:
	err = errno;
	urio_future_free(p->drained);
	errno = err;
fail_tab:
	urio__ptab_fini(&p->tab);
fail_pool:
	free(p);
fail:
	return NULL;
}

void urio_pool_free(urio_pool *p)
{
	if (!p)
		return;
	urio_shield sh;
	urio_shield_enter(&sh);
	lock(p);
	p->closing = true;
	unlock(p);
	/* first the background task, which may hold a permit an acquirer
	 * queues for */
	if (p->maint) { /* kept set: kick() may still read it, harmlessly */
		urio_cancel(p->maint);
		urio_join(p->maint, NULL);
	}
	lock(p);
	bool wait = p->inside > 0;
	unlock(p);
	if (wait)
		urio_future_wait(p->drained, NULL);
	struct node *n;
	while ((n = p->idle_head)) {
		idle_del(p, n);
		drop(p, n);
	}
	urio_shield_exit(&sh);
	urio_future_free(p->drained);
	urio__ptab_fini(&p->tab);
	free(p);
}

/* --- lease scope ----------------------------------------------------------- */

static int lease_enter(void *res)
{
	urio_pool_lease *l = res;
	if (!l)
		return -EINVAL;
	return urio_pool_acquire(l->pool, &l->res);
}

static int lease_exit(void *res, int err)
{
	urio_pool_lease *l = res;
	urio_pool_release(l->pool, l->res, err < 0 ? err : 0);
	l->res = NULL;
	return err;
}

const urio_scope_ops urio_pool_lease_scope = {lease_enter, lease_exit};
