/* The worker's io_uring: set-up with the best flags the kernel accepts,
 * submission with back-pressure, and completion reaping.
 *
 * Flags, tried in order (DESIGN.md: a default ring cost about twice the
 * server CPU per echo request of a DEFER_TASKRUN one on this machine):
 *   SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG (6.1+): task work runs
 *       only when we reap; the flag shows when completions wait for that
 *   COOP_TASKRUN | TASKRUN_FLAG    (5.19+): no IPI per completion
 *   none
 * The CQ is four times the SQ so bursts rarely overflow; with
 * IORING_FEAT_NODROP an overflow is held by the kernel and flushed here. */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "probes.h"

int urio__ring_init(struct urio__worker *w)
{
	urio_rt *rt = w->rt;
	unsigned entries = rt->cfg.ring_entries;
	static const unsigned ladder[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	unsigned first = (rt->cfg.flags & URIO_CFG_PLAIN_RING) ? 2 : 0;
	int r = -EINVAL;
	for (unsigned i = first; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = ladder[i] | IORING_SETUP_CQSIZE |
			  IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = entries * 4;
		r = io_uring_queue_init_params(entries, &w->ring, &p);
		if (r == 0) {
			if (w->index == 0)
				rt->ring_flags = ladder[i];
			break;
		}
		if (r != -EINVAL)
			break; /* ENOMEM, EPERM, ENOSYS: a flag will not help */
	}
	if (r < 0) {
		w->ring.ring_fd = -1;
		return r;
	}
	/* Saves an fd lookup per io_uring_enter (5.18+); optional. */
	io_uring_register_ring_fd(&w->ring);
	return 0;
}

/* Submits what the tasks prepared; getevents also runs deferred task work
 * so completions appear. Handles the transient errors inside. */
static void submit(struct urio__worker *w, bool getevents)
{
	for (;;) {
		int r = getevents ? io_uring_submit_and_get_events(&w->ring)
				  : io_uring_submit(&w->ring);
		URIO__STAT(w, submits, 1);
		if (r >= 0)
			return;
		if (r == -EINTR)
			continue;
		if (r == -EBUSY || r == -EAGAIN) {
			/* CQ overflow or kernel memory: reap, then retry */
			urio__ring_poll(w, false);
			if (!io_uring_sq_ready(&w->ring))
				return;
			continue;
		}
		fprintf(stderr, "urio: io_uring_enter: %s\n", strerror(-r));
		abort();
	}
}

struct io_uring_sqe *urio__sqe(struct urio__worker *w)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&w->ring)))
		submit(w, false); /* SQ full: make room */
	return sqe;
}

static unsigned reap(struct urio__worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		n++;
		uint64_t ud = cqe->user_data;
		URIO_PROBE2(op_complete, w->index, cqe->res);
		if (ud == URIO__UD_IGNORE)
			continue;
		if (ud == URIO__UD_WAKE) {
			urio__wake_eventfd_arm(w);
			continue;
		}
		if (ud == URIO__UD_MSG)
			continue;
		if (ud & URIO__UD_HANDLER) {
			struct urio__cqe_handler *h =
				(void *)(uintptr_t)(ud & ~(uint64_t)7);
			h->fn(h, w, cqe);
			continue;
		}
		if ((ud & URIO__UD_TAG_MASK) == URIO__UD_SENT) {
			if (cqe->res < 0) /* our MSG_RING wake failed */
				urio__wake_eventfd_post(
					(struct urio__worker *)(uintptr_t)(
						ud & ~(uint64_t)URIO__UD_TAG_MASK));
			continue;
		}
		struct urio__wait *op = (struct urio__wait *)(uintptr_t)ud;
		if (cqe->flags & IORING_CQE_F_MORE) {
			/* a zero-copy send's result: its pages stay lent
			 * until the notification, which ends the wait */
			op->res = cqe->res;
			op->cqe_flags = cqe->flags;
			continue;
		}
		if (!(cqe->flags & IORING_CQE_F_NOTIF)) {
			op->res = cqe->res;
			op->cqe_flags = cqe->flags;
		}
		w->inflight--;
		URIO__STAT(w, ops, 1);
		if (op->done)
			op->done(op);
		else
			urio__ready(op->task, false);
	}
	io_uring_cq_advance(&w->ring, n);
	return n;
}

void urio__ring_poll(struct urio__worker *w, bool busy)
{
	unsigned pending = io_uring_sq_ready(&w->ring);
	/* Busy (tasks still runnable): enter the kernel only for a full
	 * batch, for ops already in the kernel that may have completed, or
	 * for SQEs left over from the previous busy poll, so the periodic
	 * fairness poll does not split batches yet never strands an SQE. */
	bool enter = pending || w->inflight;
	if (busy) {
		enter = pending >= URIO__BATCH || w->inflight > pending ||
			(pending && w->sq_waited);
		w->sq_waited = pending && !enter;
	}
	if (enter)
		submit(w, true);
	while (reap(w) || io_uring_cq_has_overflow(&w->ring)) {
		if (io_uring_cq_has_overflow(&w->ring)) {
			URIO__STAT(w, overflow_flushes, 1);
			io_uring_get_events(&w->ring);
		}
	}
}

bool urio__ring_ready(struct urio__worker *w)
{
	/* TASKRUN: completions wait as task work for our next enter */
	return io_uring_cq_ready(&w->ring) ||
	       (IO_URING_READ_ONCE(*w->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

void urio__ring_wait(struct urio__worker *w)
{
	uint64_t next = urio__timers_run(w);
	if (next == 0)
		return;
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(next / 1000000000u),
		.tv_nsec = (long long)(next % 1000000000u),
	};
	struct io_uring_cqe *cqe;
	int r = io_uring_submit_and_wait_timeout(
		&w->ring, &cqe, 1, next == UINT64_MAX ? NULL : &ts, NULL);
	URIO__STAT(w, submits, 1);
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY &&
	    r != -EAGAIN) {
		fprintf(stderr, "urio: io_uring wait: %s\n", strerror(-r));
		abort();
	}
	urio__ring_poll(w, false);
}

void urio__ring_cancel(struct urio__worker *w, struct urio__wait *op)
{
	struct io_uring_sqe *sqe = urio__sqe(w);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data64(sqe, URIO__UD_IGNORE);
}
