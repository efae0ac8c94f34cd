/* Task-local values (contextvars, for C): a few process-wide keys, a block
 * of values per task, and a read-only view of the caller's block for a
 * function urio_offload runs on a pool thread (asyncio.to_thread copies the
 * context the same way).
 *
 * The block is shared, not copied, and refcounted: the task holds one
 * reference and every offloaded call made from it holds one while it runs.
 * A call abandoned by a cancelled caller may run on after the task is gone,
 * and still reads the values then, so destructors run only when the last
 * reference drops. Slots are atomic because such a call may read a slot
 * while the task sets it. Keys are never deleted, which keeps a slot index
 * valid forever at the price of a fixed limit (URIO_LOCAL_KEYS). */
#include <errno.h>
#include <urio/offload.h>

#include "internal.h"

typedef void (*dtor_fn)(void *);

struct urio__locals {
	_Atomic int refs;
	_Atomic(void *) v[URIO_LOCAL_KEYS];
};

static _Atomic unsigned nkeys;
static _Atomic(dtor_fn) dtors[URIO_LOCAL_KEYS];

/* The block an offloaded function sees on this pool thread, or NULL. */
static __thread struct urio__locals *view;

int urio_local_key_new(urio_local_key *k, void (*dtor)(void *))
{
	if (!k)
		return -EINVAL;
	unsigned n = atomic_load_explicit(&nkeys, memory_order_relaxed);
	do {
		if (n >= URIO_LOCAL_KEYS)
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak(&nkeys, &n, n + 1));
	/* relaxed: the key reaches its users through some other
	 * synchronisation, which carries this store with it */
	atomic_store_explicit(&dtors[n], dtor, memory_order_relaxed);
	*k = n + 1; /* 0 stays invalid: a zeroed key is caught */
	return 0;
}

static bool key_ok(urio_local_key k)
{
	return k >= 1 && k <= atomic_load_explicit(&nkeys,
						   memory_order_relaxed);
}

int urio_local_set(urio_local_key k, void *v)
{
	urio_task *t = urio_self();
	if (!t)
		return -EPERM;
	if (!key_ok(k))
		return -EINVAL;
	struct urio__locals *l = t->locals;
	if (!l) {
		if (!v)
			return 0;
		l = urio__calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		atomic_init(&l->refs, 1);
		t->locals = l;
	}
	/* release pairs with the acquire load in urio_local_get on a pool
	 * thread that still runs a call this task abandoned */
	atomic_store_explicit(&l->v[k - 1], v, memory_order_release);
	return 0;
}

void *urio_local_get(urio_local_key k)
{
	urio_task *t = urio_self();
	struct urio__locals *l = t ? t->locals : view;
	if (!l || !key_ok(k))
		return NULL;
	return atomic_load_explicit(&l->v[k - 1], memory_order_acquire);
}

struct urio__locals *urio__locals_ref(void)
{
	urio_task *t = urio_self();
	struct urio__locals *l = t ? t->locals : view;
	if (l)
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	return l;
}

void urio__locals_unref(struct urio__locals *l)
{
	/* acq_rel: the last owner sees every value stored by the others */
	if (!l || atomic_fetch_sub_explicit(&l->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	unsigned n = atomic_load_explicit(&nkeys, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		void *v = atomic_load_explicit(&l->v[i], memory_order_relaxed);
		dtor_fn d = atomic_load_explicit(&dtors[i],
						 memory_order_relaxed);
		if (v && d)
			d(v);
	}
	free(l);
}

struct urio__locals *urio__locals_enter(struct urio__locals *l)
{
	struct urio__locals *prev = view;
	view = l;
	return prev;
}

void urio__locals_release(urio_task *t)
{
	struct urio__locals *l = t->locals;
	t->locals = NULL;
	urio__locals_unref(l);
}
