/* Multishot ops: the kernel posts a completion per event (an accepted fd,
 * a received buffer) until the op ends, a CQE without IORING_CQE_F_MORE.
 * The completions arrive on the ring of the worker that armed the op, in
 * its reap loop (ring.c calls the record's handler), and wait in a queue
 * until the consuming task, wherever it runs now, pops them. The record
 * must outlive the op: a user ends it (shutdown(2) of the socket, say) and
 * pops until pop returns 0 before freeing it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <urio/scope.h>

#include "mshot.h"
#include "../runtime/probes.h"

/* In the reap loop, which cannot wait for memory: a completion that finds
 * no room is dropped, its fd or buffer given back, and pop reports the
 * loss after what came before it. */
static void push(struct urio__mshot *m, const struct io_uring_cqe *cqe)
{
	if (m->lost) {
		m->drop(m, cqe);
		return;
	}
	if (m->qlen == m->qcap) {
		unsigned cap = m->qcap ? m->qcap * 2 : 16;
		struct urio__mshot_cqe *q = urio__malloc(cap * sizeof(*q));
		if (!q) {
			m->lost = true;
			m->drop(m, cqe);
			return;
		}
		for (unsigned i = 0; i < m->qlen; i++)
			q[i] = m->q[(m->qhead + i) % m->qcap];
		free(m->q);
		m->q = q;
		m->qhead = 0;
		m->qcap = cap;
	}
	m->q[(m->qhead + m->qlen++) % m->qcap] =
		(struct urio__mshot_cqe){cqe->res, cqe->flags};
}

/* On the owner, from its reap loop. */
static void on_cqe(struct urio__cqe_handler *h, struct urio__worker *w,
		   const struct io_uring_cqe *cqe)
{
	struct urio__mshot *m = (struct urio__mshot *)h;
	urio__spin_lock(&m->lock);
	push(m, cqe);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		m->armed = false;
		w->inflight--;
	}
	struct urio__wait *wt = m->wait;
	m->wait = NULL;
	urio__spin_unlock(&m->lock);
	URIO__STAT(w, ops, 1);
	if (wt)
		urio__ready(wt->task, false);
}

void urio__mshot_init(struct urio__mshot *m, const char *what, int fd,
		      void (*drop)(struct urio__mshot *m,
				   const struct io_uring_cqe *cqe))
{
	*m = (struct urio__mshot){
		.h.fn = on_cqe, .drop = drop, .what = what, .fd = fd};
	atomic_flag_clear(&m->lock.f);
}

int urio__mshot_arm(struct urio__mshot *m,
		    void (*prep)(struct io_uring_sqe *sqe, struct urio__mshot *m))
{
	struct urio__worker *w = urio__cur_worker();
	if (!w || !w->cur)
		return -EPERM;
	if (urio_cancelled())
		return -ECANCELED;
	/* the SQE first: making room may reap, and reaping takes m->lock */
	struct io_uring_sqe *sqe = urio__sqe(w);
	prep(sqe, m);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)m | URIO__UD_HANDLER);
	URIO_PROBE3(op_submit, w->index, sqe->opcode, m->fd);
	urio__spin_lock(&m->lock);
	m->owner = w;
	m->armed = true;
	urio__spin_unlock(&m->lock);
	w->inflight++;
	return 0;
}

/* Runs with the waiting task's lock held, on any thread. */
static void pop_cancel(struct urio__wait *w)
{
	struct urio__mshot *m = w->cancel_arg;
	urio__spin_lock(&m->lock);
	bool mine = m->wait == w;
	if (mine) {
		m->wait = NULL;
		w->res = -ECANCELED;
	}
	urio__spin_unlock(&m->lock);
	if (mine)
		urio__ready(w->task, true);
}

static void unlock_cb(void *arg)
{
	struct urio__mshot *m = arg;
	urio__spin_unlock(&m->lock);
}

int urio__mshot_pop(struct urio__mshot *m, struct urio__mshot_cqe *c)
{
	for (;;) {
		urio__spin_lock(&m->lock);
		if (m->qlen) {
			*c = m->q[m->qhead];
			m->qhead = (m->qhead + 1) % m->qcap;
			m->qlen--;
			urio__spin_unlock(&m->lock);
			return 1;
		}
		if (m->lost) {
			m->lost = false;
			urio__spin_unlock(&m->lock);
			return -ENOMEM;
		}
		bool armed = m->armed;
		urio__spin_unlock(&m->lock);
		if (!armed)
			return 0;
		struct urio__wait wt = {.what = m->what, .fd = m->fd};
		wt.cancel = pop_cancel;
		wt.cancel_arg = m;
		int r = urio__wait_begin(&wt, URIO__WAIT_OTHER);
		if (r < 0)
			return r;
		urio__spin_lock(&m->lock);
		if (m->qlen || m->lost || !m->armed) {
			urio__spin_unlock(&m->lock);
			urio__wait_abort(&wt);
			continue;
		}
		/* a cancel between wait_begin and here found nothing to cancel */
		if (urio__scopes_cancelled(wt.task)) {
			urio__spin_unlock(&m->lock);
			urio__wait_abort(&wt);
			return -ECANCELED;
		}
		m->wait = &wt;
		r = urio__wait_end(&wt, unlock_cb, m);
		if (r < 0)
			return r;
	}
}

void urio__mshot_end(struct urio__mshot *m, void (*end)(struct urio__mshot *m))
{
	struct urio__worker *w = urio__cur_worker();
	urio__spin_lock(&m->lock);
	bool armed = m->armed, mine = w == m->owner;
	urio__spin_unlock(&m->lock);
	if (!armed)
		return;
	if (!mine) { /* another worker's ring: only its thread may submit */
		end(m);
		return;
	}
	struct io_uring_sqe *sqe = urio__sqe(w);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)m | URIO__UD_HANDLER,
			       0);
	io_uring_sqe_set_data64(sqe, URIO__UD_IGNORE);
}

bool urio__kernel_at_least(unsigned maj, unsigned min)
{
	struct utsname u;
	unsigned a = 0, b = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) != 2)
		return false;
	return a > maj || (a == maj && b >= min);
}

void urio__mshot_fini(struct urio__mshot *m)
{
	free(m->q);
	m->q = NULL;
	m->qlen = m->qcap = 0;
}
