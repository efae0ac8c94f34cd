/* HTTP/1.1 pipelining: many tasks' requests in flight on few connections.
 *
 * A lease per request lets a connection carry one request per round trip,
 * so with more requesters than connections the server serves at most one
 * request per connection each time it wakes. Here a request that may be
 * sent twice (GET, HEAD, OPTIONS, no body) does not lease: it is queued on
 * one of the host's pipelined connections (the least busy, a new one while
 * the pool allows) behind at most depth - 1 others. The first task to
 * queue on an idle writer becomes the writer: it sends what is queued, the
 * requests of every task that queued meanwhile in one send, until nothing
 * is left. A reader task per connection reads the responses in order, each
 * whole into its request's record, and hands it to the waiting caller
 * (a future), or drops it if the caller has left, so the connection stays
 * in step. When the queue has stayed empty a moment the reader gives the
 * connection back to the pool and ends.
 *
 * The connection ends early when the server says Connection: close or the
 * stream ends: the requests after the last response are queued again,
 * once each, elsewhere (the server took none of them). The number of
 * responses after which the server said close is kept, and no connection
 * is given more requests than that, so a request sent again is answered
 * the second time. A malformed response, or one that does not come in
 * time, fails the requests on the connection.
 *
 * A semaphore of depth permits per connection bounds the requests in the
 * pipeline: a request holding one always finds room on a connection, or a
 * slot for a new one, or a connection being opened to wait for. One mutex
 * per host guards the connections' queues and buffers, and is never held
 * across a suspension. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <urio/io.h>

#include "pipe.h"

#define WRITE_TIMEOUT_MS 10000

void urio__pipe_signal(urio_future *f)
{
	if (f) {
		urio_future_set(f, 0);
		urio_future_free(f);
	}
}

urio_future *urio__pipe_watch_locked(urio_future **slot)
{
	if (!*slot)
		*slot = urio_future_new();
	return *slot ? urio_future_ref(*slot) : NULL;
}

void urio__pipe_wait_free(urio_future *f, bool shield)
{
	urio_shield sh;
	if (shield)
		urio_shield_enter(&sh);
	urio_future_wait(f, NULL);
	if (shield)
		urio_shield_exit(&sh);
	urio_future_free(f);
}

static void preq_free(struct preq *q)
{
	urio_http_response_free(q->r);
	free(q);
}

void urio__pipe_finish(struct http_pipe *p, struct preq *q, int err)
{
	urio_future *f = q->f;
	q->err = err;
	q->r->c = NULL;
	urio_sem_release(&p->room);
	if (urio_future_set(f, 0) < 0) /* cancelled by its caller */
		preq_free(q);
	urio_future_free(f);
}

/* --- queueing ---------------------------------------------------------- */

void urio__pipe_stop_locked(struct pconn *pc)
{
	if (pc->accepting) {
		pc->accepting = false;
		pc->p->open--;
	}
}

int urio__pipe_grow(char **b, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 4096;
	while (n < need)
		n *= 2;
	char *nb = realloc(*b, n);
	if (!nb)
		return -ENOMEM;
	*b = nb;
	*cap = n;
	return 0;
}

/* Under the lock: q queued on pc, its bytes behind pc's others. Returns 1
 * if the caller is to write, 0, or -ENOMEM. */
static int enqueue_locked(struct pconn *pc, struct preq *q)
{
	if (urio__pipe_grow(&pc->out, &pc->out_cap, pc->out_len + q->len) < 0)
		return -ENOMEM;
	memcpy(pc->out + pc->out_len, q->wire, q->len);
	pc->out_len += q->len;
	q->next = NULL;
	if (pc->tail)
		pc->tail->next = q;
	else
		pc->head = q;
	pc->tail = q;
	pc->inflight++;
	urio_http_session *s = pc->p->h->s;
	urio__http_bump(&s->requests);
	urio__http_bump(&s->pipelined);
	if (pc->c->uses++)
		urio__http_bump(&s->reused);
	bool lead = !pc->writing;
	pc->writing = true;
	return lead;
}

/* Under the lock: the accepting connection with the fewest requests in
 * flight and room for one more, or NULL. */
static struct pconn *pick_locked(struct http_pipe *p)
{
	struct pconn *best = NULL;
	for (struct pconn *pc = p->conns; pc; pc = pc->next)
		if (pc->accepting && pc->inflight < p->depth && !pc->wfail &&
		    (!p->max_uses || pc->c->uses < p->max_uses) &&
		    (!best || pc->inflight < best->inflight))
			best = pc;
	return best;
}

/* Sends what is queued on pc until nothing is: shielded, for the bytes of
 * other tasks ride on it, and bounded. A failed send shuts the socket down:
 * the reader then sees the end and sorts the requests out. */
static void write_out(struct pconn *pc)
{
	struct http_pipe *p = pc->p;
	urio_shield sh;
	urio_shield_enter(&sh);
	/* the tasks woken with this one queue theirs first: one send */
	urio_yield();
	for (;;) {
		urio__pipe_lock(p);
		if (!pc->out_len || !pc->accepting) {
			pc->out_len = 0;
			pc->writing = false;
			urio_future *f = pc->wdone;
			pc->wdone = NULL;
			urio__pipe_unlock(p);
			urio__pipe_signal(f);
			break;
		}
		char *b = pc->out;
		size_t n = pc->out_len, cap = pc->out_cap;
		pc->out = pc->spare;
		pc->out_cap = pc->spare_cap;
		pc->out_len = 0;
		pc->spare = b;
		pc->spare_cap = cap;
		urio__pipe_unlock(p);
		int err = 0, terr = 0;
		URIO_TIMEOUT(terr, WRITE_TIMEOUT_MS)
		err = urio__http_send_all(pc->c->fd, b, n, 0);
		if (err < 0 || terr < 0) {
			urio__pipe_lock(p);
			pc->wfail = true;
			urio__pipe_stop_locked(pc);
			urio__pipe_unlock(p);
			shutdown(pc->c->fd, SHUT_RDWR);
		}
	}
	urio_shield_exit(&sh);
}

/* A new pipelined connection with q on it; the caller writes. */
static int open_conn(struct http_pipe *p, struct preq *q, uint64_t fail_ns)
{
	struct pconn *pc = calloc(1, sizeof(*pc));
	struct http_conn *c = NULL;
	int err = pc ? urio__http_acquire(p->h, fail_ns, &c) : -ENOMEM;
	urio__pipe_lock(p);
	p->opening--;
	if (err == 0) {
		pc->p = p;
		pc->c = c;
		pc->answered = c->uses;
		err = enqueue_locked(pc, q);
	}
	if (err >= 0) {
		/* under the lock: it looks at its queue first */
		pc->reader = urio_spawn(urio__pipe_reader, pc);
		err = pc->reader ? 0 : -ENOMEM;
	}
	if (err == 0) {
		urio_detach(pc->reader);
		pc->next = p->conns;
		p->conns = pc;
		pc->accepting = true;
		p->open++;
		p->readers++;
	}
	urio_future *f = p->changed;
	p->changed = NULL;
	urio__pipe_unlock(p);
	urio__pipe_signal(f);
	if (err < 0) {
		if (c)
			urio_pool_release(p->h->pool, c, -ECANCELED);
		if (pc)
			free(pc->out);
		free(pc);
		return err;
	}
	write_out(pc);
	return 0;
}

int urio__pipe_place(struct http_pipe *p, struct preq *q, uint64_t fail_ns)
{
	for (;;) {
		urio__pipe_lock(p);
		struct pconn *pc = pick_locked(p);
		bool can_open = p->open + p->opening < p->max;
		if (pc && (!pc->inflight || !can_open)) {
			int lead = enqueue_locked(pc, q);
			urio__pipe_unlock(p);
			if (lead > 0)
				write_out(pc);
			return lead < 0 ? lead : 0;
		}
		if (can_open) {
			p->opening++;
			urio__pipe_unlock(p);
			return open_conn(p, q, fail_ns);
		}
		/* every slot taken, and the connections being opened have
		 * the room the permit promises */
		urio_future *f = urio__pipe_watch_locked(&p->changed);
		urio__pipe_unlock(p);
		if (!f)
			return -ENOMEM;
		int err = urio_future_wait(f, NULL);
		urio_future_free(f);
		if (err < 0)
			return err;
	}
}

/* --- the caller's side ------------------------------------------------- */

bool urio__http_pipelinable(const urio_http_request *req, const char *method)
{
	static const char *const hop[] = {"Connection", "Upgrade", "Expect",
					  "TE"};
	if (req->body || req->body_len || req->body_iter ||
	    (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	     strcmp(method, "OPTIONS")))
		return false;
	for (const char *const *h = req->headers; h && *h; h++)
		for (size_t i = 0; i < sizeof(hop) / sizeof(*hop); i++) {
			size_t n = strlen(hop[i]);
			if (!strncasecmp(*h, hop[i], n) && (*h)[n] == ':')
				return false;
		}
	return true;
}

int urio__http_pipe_fetch(struct http_pipe *p, urio_http_response *r,
			  size_t head_len, size_t max_body,
			  urio_http_response **resp)
{
	struct preq *q = malloc(sizeof(*q) + head_len);
	if (!q || !(q->f = urio_future_new())) {
		free(q);
		urio_http_response_free(r);
		return -ENOMEM;
	}
	q->r = r;
	q->err = 0;
	q->retried = false;
	q->max_body = max_body;
	q->len = head_len;
	memcpy(q->wire, r->buf, head_len);
	urio_future_ref(q->f); /* the pipeline's */
	int err = urio_sem_acquire(&p->room);
	if (err == 0) {
		err = urio__pipe_place(p, q, 0);
		if (err < 0)
			urio_sem_release(&p->room);
	}
	if (err < 0) {
		urio_future_free(q->f);
		urio_future_free(q->f);
		preq_free(q);
		return err;
	}
	err = urio_future_wait(q->f, NULL);
	if (err < 0 && urio_future_cancel(q->f) == 0) {
		urio_future_free(q->f); /* the reader drops the response */
		return err;
	}
	urio_future_free(q->f);
	err = q->err;
	free(q);
	if (err < 0) {
		urio_http_response_free(r);
		return err;
	}
	r->piped = false;
	*resp = r;
	return r->status;
}

struct http_pipe *urio__http_pipe_new(struct http_host *h, unsigned depth)
{
	struct http_pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->h = h;
	p->depth = depth;
	p->max = h->s->o.max_conns_per_host;
	urio_sem_init(&p->room, p->depth * p->max);
	return p;
}

void urio__http_pipe_free(struct http_pipe *p)
{
	if (!p)
		return;
	urio__pipe_lock(p);
	for (struct pconn *pc = p->conns; pc; pc = pc->next)
		urio_cancel(pc->reader); /* alive: it unlinks pc as it ends */
	urio_future *f = p->readers ? urio__pipe_watch_locked(&p->gone) : NULL;
	urio__pipe_unlock(p);
	if (f)
		urio__pipe_wait_free(f, true);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
