/* A worker's I/O backend, picked per runtime at start: the io_uring ring
 * (ring.c) or, where io_uring is missing, poll(2) (poll_backend.c). Timers
 * are the same for both. */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

int urio__io_init(struct urio__worker *w)
{
	if (w->rt->no_ring)
		return urio__pb_init(w);
	int r = urio__ring_init(w);
	return r < 0 ? r : urio__wake_eventfd_init(w);
}

void urio__io_fini(struct urio__worker *w)
{
	if (w->ring.ring_fd >= 0)
		io_uring_queue_exit(&w->ring);
	urio__bufring_free(w);
	urio__pb_fini(w);
}

void urio__io_poll(struct urio__worker *w, bool busy)
{
	if (w->rt->no_ring)
		urio__pb_poll(w, busy);
	else
		urio__ring_poll(w, busy);
}

bool urio__io_ready(struct urio__worker *w)
{
	return w->inflight && !w->rt->no_ring && urio__ring_ready(w);
}

void urio__io_wait(struct urio__worker *w)
{
	if (w->rt->no_ring)
		urio__pb_wait(w);
	else
		urio__ring_wait(w);
}

void urio__io_cancel(struct urio__worker *w, struct urio__wait *op)
{
	if (op->kind == URIO__WAIT_TIMER) {
		if (op->heap_idx != SIZE_MAX) {
			urio__timer_del(w, op);
			op->res = -ECANCELED;
			urio__ready(op->task, false);
		}
	} else if (w->rt->no_ring) {
		urio__pb_cancel(w, op);
	} else {
		urio__ring_cancel(w, op);
	}
}
