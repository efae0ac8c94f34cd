/* Per-worker run queue: a fixed ring of URIO__RUNQ_SIZE tasks, the layout
 * of Go's runq and tokio's local queue. Only the owner pushes (tail), and
 * the owner and thieves consume by CAS on head. A push is one acquire load
 * and one release store; a thief takes half the queue in one CAS, so
 * stealing costs one cache-line transfer per batch, not per task. When the
 * ring is full the owner moves half of it to the global queue. Indices are
 * 32-bit and wrap; only differences are used. Cells are atomics (relaxed):
 * a thief may read a cell the owner is about to overwrite after wrap-around,
 * and its CAS on head then fails and discards what it read. */
#include "internal.h"

#define MASK (URIO__RUNQ_SIZE - 1)

bool urio__runq_push(struct urio__runq *q, urio_task *t)
{
	/* acquire pairs with the release CAS of consumers on head */
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tl = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (tl - h >= URIO__RUNQ_SIZE)
		return false;
	atomic_store_explicit(&q->buf[tl & MASK], t, memory_order_relaxed);
	/* release: the cell is visible before consumers see the new tail */
	atomic_store_explicit(&q->tail, tl + 1, memory_order_release);
	return true;
}

urio_task *urio__runq_pop(struct urio__runq *q)
{
	if (q->solo) { /* only the owner touches head */
		uint32_t h = atomic_load_explicit(&q->head,
						  memory_order_relaxed);
		if (atomic_load_explicit(&q->tail, memory_order_relaxed) == h)
			return NULL;
		urio_task *t = atomic_load_explicit(&q->buf[h & MASK],
						    memory_order_relaxed);
		atomic_store_explicit(&q->head, h + 1, memory_order_relaxed);
		return t;
	}
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head,
						  memory_order_acquire);
		uint32_t tl = atomic_load_explicit(&q->tail,
						   memory_order_relaxed);
		if (tl == h)
			return NULL;
		urio_task *t = atomic_load_explicit(&q->buf[h & MASK],
						    memory_order_relaxed);
		/* release pairs with the owner's acquire load of head in push */
		if (atomic_compare_exchange_weak_explicit(
			    &q->head, &h, h + 1, memory_order_release,
			    memory_order_relaxed))
			return t;
	}
}

uint32_t urio__runq_len(struct urio__runq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tl = atomic_load_explicit(&q->tail, memory_order_acquire);
	return tl - h;
}

/* Copies about half of victim's tasks into batch; returns how many. */
static uint32_t grab(struct urio__runq *victim, urio_task **batch)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&victim->head,
						  memory_order_acquire);
		/* acquire pairs with the owner's release store of tail */
		uint32_t tl = atomic_load_explicit(&victim->tail,
						   memory_order_acquire);
		uint32_t n = tl - h;
		n -= n / 2;
		if (n == 0)
			return 0;
		if (n > URIO__RUNQ_SIZE / 2)
			continue; /* read h and tl at different times */
		for (uint32_t i = 0; i < n; i++)
			batch[i] = atomic_load_explicit(
				&victim->buf[(h + i) & MASK],
				memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(
			    &victim->head, &h, h + n, memory_order_release,
			    memory_order_relaxed))
			return n;
	}
}

urio_task *urio__runq_steal(struct urio__runq *q, struct urio__runq *victim)
{
	urio_task *batch[URIO__RUNQ_SIZE / 2];
	uint32_t n = grab(victim, batch);
	if (n == 0)
		return NULL;
	/* Our own queue is empty when we steal, so the rest fits. */
	for (uint32_t i = 1; i < n; i++)
		urio__runq_push(q, batch[i]);
	return batch[0];
}

unsigned urio__runq_take_half(struct urio__runq *q, urio_task **out)
{
	return grab(q, out);
}
