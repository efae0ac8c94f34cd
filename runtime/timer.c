/* Per-worker timers: a binary min-heap of wait records ordered by deadline.
 * Only the owning worker touches its heap (cancels from other threads come
 * as messages), so there is no lock. A sleeping task costs one heap slot
 * and no syscall; the worker parks in io_uring_enter with the earliest
 * deadline as its timeout. */
#include <errno.h>
#include <time.h>

#include "internal.h"

uint64_t urio__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void place(struct urio__worker *w, size_t i, struct urio__wait *t)
{
	w->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct urio__worker *w, size_t i)
{
	struct urio__wait *t = w->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (w->heap[p]->when <= t->when)
			break;
		place(w, i, w->heap[p]);
		i = p;
	}
	place(w, i, t);
}

static void sift_down(struct urio__worker *w, size_t i)
{
	struct urio__wait *t = w->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap && w->heap[c + 1]->when < w->heap[c]->when)
			c++;
		if (t->when <= w->heap[c]->when)
			break;
		place(w, i, w->heap[c]);
		i = c;
	}
	place(w, i, t);
}

int urio__timer_add(struct urio__worker *w, struct urio__wait *t)
{
	if (w->nheap == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 256;
		struct urio__wait **h = realloc(w->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		w->heap = h;
		w->heap_cap = cap;
	}
	w->heap[w->nheap] = t;
	t->heap_idx = w->nheap++;
	sift_up(w, t->heap_idx);
	return 0;
}

void urio__timer_del(struct urio__worker *w, struct urio__wait *t)
{
	size_t i = t->heap_idx;
	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	struct urio__wait *last = w->heap[--w->nheap];
	if (i == w->nheap)
		return;
	place(w, i, last);
	if (i > 0 && w->heap[(i - 1) / 2]->when > last->when)
		sift_up(w, i);
	else
		sift_down(w, i);
}

uint64_t urio__timers_run(struct urio__worker *w)
{
	if (w->nheap == 0)
		return UINT64_MAX;
	uint64_t now = urio__now_ns();
	bool fired = false;
	while (w->nheap && w->heap[0]->when <= now) {
		struct urio__wait *t = w->heap[0];
		urio__timer_del(w, t);
		fired = true;
		if (t->fire) {
			t->fire(t);
			continue;
		}
		t->res = 0;
		urio__ready(t->task, false);
	}
	/* 0 once something fired: it may have readied a task on this worker,
	 * which must not go to sleep over it (a parking worker runs timers
	 * after its last look for work) */
	if (fired)
		return 0;
	return w->nheap ? w->heap[0]->when - now : UINT64_MAX;
}

/* At shutdown: deadline records of scopes exited on another worker wait
 * here for their due time; let them go now (their scopes are closed). */
void urio__timers_drop(struct urio__worker *w)
{
	while (w->nheap) {
		struct urio__wait *t = w->heap[0];
		urio__timer_del(w, t);
		if (t->fire)
			t->fire(t);
	}
}
