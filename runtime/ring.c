/* The worker's io_uring: set-up with the best flags the kernel accepts,
 * submission with back-pressure, and completion reaping.
 *
 * Set-up flags step down one kernel release at a time (DESIGN.md: a
 * default ring cost about twice the server CPU per echo request of a
 * DEFER_TASKRUN one on this machine); each rung drops the newest flag the
 * one above needs, so a 5.10 or 5.15 LTS kernel lands on CLAMP|CQSIZE and
 * a kernel refusing every rung gets the poll(2) backend (see ladder[]).
 * The CQ is four times the SQ so bursts rarely overflow; with
 * IORING_FEAT_NODROP an overflow is held by the kernel and flushed here.
 *
 * Reaping never submits and never reaps again: a completion that needs an
 * SQE (the eventfd read re-armed) or a wake (which may send a MSG_RING) is
 * noted and handled once the CQ head has moved past it, so one completion
 * is resumed once, whatever the SQ and CQ hold. */
#include <errno.h>
#include <string.h>

#include "fault.h"
#include "internal.h"
#include "probes.h"

#define SETUP_CQ IORING_SETUP_CQSIZE
#define SETUP_BASE (IORING_SETUP_CLAMP | SETUP_CQ)
#define SETUP_COOP (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG)
#define MAX_SQ 32768u /* the kernel's IORING_MAX_ENTRIES */
#define MAX_CQ 65536u /* IORING_MAX_CQ_ENTRIES */

static const unsigned ladder[] = {
	/* 6.1: task work runs only when we reap; the flag shows when
	 * completions wait for that */
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
		SETUP_BASE,
	/* 6.0 */
	IORING_SETUP_SINGLE_ISSUER | SETUP_COOP | IORING_SETUP_SUBMIT_ALL |
		SETUP_BASE,
	/* 5.19: no IPI per completion */
	SETUP_COOP | IORING_SETUP_SUBMIT_ALL | SETUP_BASE,
	/* 5.18: a failed SQE does not stop the rest of the batch */
	IORING_SETUP_SUBMIT_ALL | SETUP_BASE,
	/* 5.6: the kernel clamps sizes (we clamp too, for the rungs below) */
	SETUP_BASE,
	/* 5.5 */
	SETUP_CQ,
	0,
};
#define LADDER_PLAIN 3 /* URIO_CFG_PLAIN_RING starts here */

/* A ring of entries SQEs (clamped to what any kernel takes) with flags. */
static int ring_setup(unsigned entries, struct io_uring *ring, unsigned flags)
{
	int r = urio__fault_setup(flags);
	if (r < 0)
		return r;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (entries > MAX_SQ)
		entries = MAX_SQ;
	p.cq_entries = entries * 4 > MAX_CQ ? MAX_CQ : entries * 4;
	r = io_uring_queue_init_params(entries, ring, &p);
	if (r == 0 && urio__fault_no_ext_arg())
		ring->features &= ~IORING_FEAT_EXT_ARG; /* liburing's old wait */
	return r;
}

int urio__ring_choose(urio_rt *rt)
{
	unsigned first = (rt->cfg.flags & URIO_CFG_PLAIN_RING) ? LADDER_PLAIN
							       : 0;
	int r = -EINVAL;
	for (unsigned i = first; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		struct io_uring ring;
		r = ring_setup(rt->cfg.ring_entries, &ring, ladder[i]);
		if (r == 0) {
			io_uring_queue_exit(&ring);
			rt->ring_flags = ladder[i];
			return 0;
		}
		if (r != -EINVAL)
			break; /* ENOMEM, EPERM, ENOSYS: a flag will not help */
	}
	return r;
}

int urio__ring_init(struct urio__worker *w)
{
	int r = ring_setup(w->rt->cfg.ring_entries, &w->ring, w->rt->ring_flags);
	if (r < 0) {
		w->ring.ring_fd = -1;
		return r;
	}
	/* Saves an fd lookup per io_uring_enter (5.18+); optional. */
	io_uring_register_ring_fd(&w->ring);
	return 0;
}

static unsigned reap(struct urio__worker *w);

/* Submits what the tasks prepared; getevents also runs deferred task work
 * so completions appear. Handles the transient errors inside: a full CQ
 * is reaped (never from inside reap()) and the submit retried, in a loop. */
static void submit(struct urio__worker *w, bool getevents)
{
	for (int n = 0;; n++) {
		int r;
		if (urio__fault(URIO__FAULT_SUBMIT))
			r = n & 1 ? -EBUSY : -EAGAIN;
		else
			r = getevents ? io_uring_submit_and_get_events(&w->ring)
				      : io_uring_submit(&w->ring);
		URIO__STAT(w, submits, 1);
		if (r >= 0)
			return;
		if (r == -EINTR)
			continue;
		if (r == -EBUSY || r == -EAGAIN) {
			/* CQ overflow or kernel memory: make room, retry */
			if (w->reaping) {
				fprintf(stderr, "urio: submit inside the CQE "
						"loop\n");
				abort();
			}
			reap(w);
			if (io_uring_cq_has_overflow(&w->ring))
				io_uring_get_events(&w->ring);
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
	if (urio__unlikely(w->reaping)) {
		/* a broken invariant: reap() must defer what needs an SQE */
		fprintf(stderr, "urio: SQE taken inside the CQE loop\n");
		abort();
	}
	while (urio__fault(URIO__FAULT_SQ_FULL) ||
	       !(sqe = io_uring_get_sqe(&w->ring)))
		submit(w, false); /* SQ full: make room */
	return sqe;
}

/* Collects completions: readies their tasks with the wake deferred (a wake
 * may need an SQE for a MSG_RING) and notes an eventfd read to re-arm. */
static unsigned reap(struct urio__worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	w->reaping = true;
	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		n++;
		uint64_t ud = cqe->user_data;
		URIO_PROBE2(op_complete, w->index, cqe->res);
		/* LIBURING_UDATA_TIMEOUT: liburing's own timeout SQE, used
		 * for a wait with a timeout on kernels without EXT_ARG */
		if (ud == URIO__UD_IGNORE || ud == URIO__UD_MSG ||
		    ud == LIBURING_UDATA_TIMEOUT)
			continue;
		if (ud == URIO__UD_WAKE) {
			w->efd_rearm = true;
			continue;
		}
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
	w->reaping = false;
	return n;
}

/* What reap() deferred, now that the CQ head is past it. */
static void after_reap(struct urio__worker *w)
{
	/* each may submit, and a submit that meets a full CQ reaps: loop */
	while (w->efd_rearm || w->wake_deferred) {
		if (w->efd_rearm) {
			w->efd_rearm = false;
			urio__wake_eventfd_arm(w);
		}
		if (w->wake_deferred) {
			w->wake_deferred = false;
			urio__wake_deferred(w);
		}
	}
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
	after_reap(w);
}

bool urio__ring_ready(struct urio__worker *w)
{
	/* TASKRUN: completions wait as task work for our next enter */
	return io_uring_cq_ready(&w->ring) ||
	       (IO_URING_READ_ONCE(*w->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

void urio__ring_wait(struct urio__worker *w)
{
	after_reap(w); /* never sleep with the eventfd read unarmed */
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
