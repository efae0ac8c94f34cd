/* Pipelined connections' readers (see pipe.c): each response read whole
 * into its request's record in order, the bytes past it kept for the
 * next; an idle connection lingers a moment, then goes back to the pool;
 * a connection that ends hands its unanswered requests on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urio/io.h>

#include "pipe.h"

#define LINGER_MS 100 /* an idle connection's wait for more requests */
#define LINGER_ROOM 4096u

/* Reads the rest of a body past the caller's cap: the connection stays in
 * step, the caller gets -E2BIG. */
static int drain(urio_http_response *r)
{
	r->err = 0;
	urio_slice c;
	int k;
	while ((k = urio_http_body_next(r, &c)) == 1)
		;
	return k;
}

/* q's response read whole into q->r: 0 (q->err set for q alone: -E2BIG)
 * or the error that ends the connection; *keep: the server keeps it. */
static int read_one(struct pconn *pc, struct preq *q, bool *keep,
		    bool *nothing)
{
	urio_http_response *r = q->r;
	r->c = pc->c;
	r->piped = true;
	r->err = 0;
	r->len = r->parsed = 0;
	*nothing = !pc->carry_len;
	if (pc->carry_len) {
		if (urio__http_reserve(r, pc->carry_len) < 0)
			return -ENOMEM;
		memcpy(r->buf, pc->carry, pc->carry_len);
		r->len = pc->carry_len;
		pc->carry_len = 0;
	}
	int err = urio__http_read_head(r);
	*nothing = *nothing && !r->got;
	if (err == 0) {
		err = urio_http_response_read_all(r, q->max_body, NULL);
		if (err == -E2BIG) {
			q->err = err;
			err = drain(r);
		}
	}
	if (err < 0)
		return err;
	*keep = r->keep_alive;
	size_t extra = r->len - r->parsed;
	if (!extra)
		return 0;
	if (urio__pipe_grow(&pc->carry, &pc->carry_cap, extra) < 0)
		return -ENOMEM;
	memcpy(pc->carry, r->buf + r->parsed, extra);
	pc->carry_len = extra;
	return 0;
}

/* Under the lock: the server said close after n responses (keep false),
 * or kept going past what it said before. */
static void learn_locked(struct http_pipe *p, unsigned n, bool keep)
{
	if (!keep)
		p->max_uses = n;
	else if (p->max_uses && n >= p->max_uses)
		p->max_uses = 0;
}

/* The requests left on a connection that ended with err (0: the server
 * said close): sent again once each where the server took none of them,
 * failed with err where it may have. */
static void requeue(struct http_pipe *p, struct preq *rest, int err,
		    bool retry_first)
{
	uint64_t fail_ns = urio_now_ns();
	bool ended = err == 0 || err == -ECONNRESET || err == -EPIPE;
	for (struct preq *q = rest, *next; q; q = next) {
		next = q->next;
		int e = err ? err : -ECONNRESET;
		if (urio_future_state(q->f) == URIO_FUTURE_CANCELLED) {
			urio__pipe_finish(p, q, -ECANCELED); /* nobody waits: freed */
			continue;
		}
		if (ended && !q->retried && (q != rest || retry_first)) {
			q->retried = true;
			urio__http_bump(&p->h->s->retries);
			e = urio__pipe_place(p, q, fail_ns);
			if (e == 0)
				continue;
		}
		urio__pipe_finish(p, q, e);
	}
}

/* Takes pc off the pipe once its reader is done with it. */
static void reader_end(struct pconn *pc)
{
	struct http_pipe *p = pc->p;
	urio__pipe_lock(p);
	struct pconn **pp = &p->conns;
	while (*pp != pc)
		pp = &(*pp)->next;
	*pp = pc->next;
	urio_future *changed = p->changed, *gone = NULL;
	p->changed = NULL;
	if (!--p->readers) {
		gone = p->gone;
		p->gone = NULL;
	}
	urio__pipe_unlock(p);
	free(pc->out);
	free(pc->spare);
	free(pc->carry);
	free(pc);
	urio__pipe_signal(changed);
	urio__pipe_signal(gone);
}

/* The queue is empty: waits up to LINGER_MS for the bytes of requests
 * queued meanwhile (into pc->carry), so a busy connection is not given
 * back and taken again between two rounds of requests. 1: bytes came (or
 * the wait ended: see pc->head), 0: the server closed, or -errno. */
static int linger(struct pconn *pc, bool *waited)
{
	if (urio__pipe_grow(&pc->carry, &pc->carry_cap,
			    pc->carry_len + LINGER_ROOM) < 0)
		return -ENOMEM;
	int err = 0;
	ssize_t n = 0;
	URIO_TIMEOUT(err, LINGER_MS)
	n = urio_recv(pc->c->fd, pc->carry + pc->carry_len, LINGER_ROOM, 0);
	*waited = true;
	if (n > 0) {
		pc->carry_len += (size_t)n;
		*waited = false;
		return 1;
	}
	if (err == -ETIMEDOUT)
		return 1;
	return n == 0 ? 0 : (int)n;
}

intptr_t urio__pipe_reader(void *arg)
{
	struct pconn *pc = arg;
	struct http_pipe *p = pc->p;
	int err = 0;
	bool keep = true, nothing = true, waited = false;
	struct preq *rest;
	for (;;) {
		urio__pipe_lock(p);
		struct preq *q = pc->head;
		if (!q && (waited || pc->carry_len)) {
			/* nothing came, or bytes nobody asked for */
			if (pc->carry_len)
				err = -EPROTO;
			urio__pipe_stop_locked(pc);
			rest = NULL;
			urio__pipe_unlock(p);
			break;
		}
		urio__pipe_unlock(p);
		if (!q) {
			int k = linger(pc, &waited);
			if (k > 0)
				continue;
			/* closed, or failed, as requests came: their ends */
			urio__pipe_lock(p);
			urio__pipe_stop_locked(pc);
			rest = pc->head;
			pc->head = pc->tail = NULL;
			urio__pipe_unlock(p);
			err = k ? k : -ECONNRESET;
			nothing = true;
			break;
		}
		waited = false;
		urio_deadline d;
		urio_timeout_enter(&d, p->h->s->o.idle_timeout_ms);
		err = read_one(pc, q, &keep, &nothing);
		if (urio_timeout_exit(&d) == -ETIMEDOUT && err < 0)
			err = -ETIMEDOUT;
		urio__pipe_lock(p);
		if (err == 0) {
			pc->head = q->next;
			if (!pc->head)
				pc->tail = NULL;
			pc->inflight--;
			learn_locked(p, ++pc->answered, keep);
		}
		if (err < 0 || !keep) {
			urio__pipe_stop_locked(pc);
			rest = pc->head;
			pc->head = pc->tail = NULL;
		}
		urio__pipe_unlock(p);
		if (err == 0)
			urio__pipe_finish(p, q, q->err);
		if (err < 0 || !keep)
			break;
	}
	/* the writer is done with the socket before it is given back */
	urio__pipe_lock(p);
	urio_future *w = pc->writing ? urio__pipe_watch_locked(&pc->wdone) : NULL;
	urio__pipe_unlock(p);
	if (w)
		urio__pipe_wait_free(w, true);
	bool reuse = err == 0 && keep && !pc->carry_len && !pc->wfail;
	pc->c->released_ns = urio_now_ns();
	urio_pool_release(p->h->pool, pc->c, reuse ? 0 : -EPIPE);
	requeue(p, rest, err, err == 0 || nothing);
	reader_end(pc);
	return 0;
}

