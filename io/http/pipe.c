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
 * in step. When the queue is empty the reader gives the connection back to
 * the pool and ends.
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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <urio/future.h>
#include <urio/io.h>

#include "client.h"

#define WRITE_TIMEOUT_MS 10000
#define LINGER_MS 100     /* an idle pipelined connection's wait for more */
#define LINGER_ROOM 4096u

struct preq {
	struct preq *next;
	urio_http_response *r; /* receives the response */
	urio_future *f;        /* set once r is read (or err) */
	int err;
	bool retried;
	size_t max_body;
	size_t len;            /* of wire */
	char wire[];           /* the request, kept to send it again */
};

struct pconn {
	struct pconn *next;       /* the pipe's, until the reader ends */
	struct http_pipe *p;
	struct http_conn *c;
	urio_task *reader;
	struct preq *head, *tail; /* queued: responses due in this order */
	unsigned inflight;
	unsigned answered;        /* responses on c, before this lease too */
	bool accepting;           /* takes requests (counted in p->open) */
	bool writing;             /* a task is sending out */
	bool wfail;               /* a send failed */
	urio_future *wdone;       /* the reader waits for the writer */
	char *out, *spare;        /* to send; the writer's, being sent */
	size_t out_len, out_cap, spare_cap;
	char *carry;              /* received past the last response */
	size_t carry_len, carry_cap;
};

struct http_pipe {
	pthread_mutex_t mu;
	struct http_host *h;
	unsigned depth, max;
	struct pconn *conns;
	unsigned open, opening, readers;
	unsigned max_uses;        /* 0: unknown */
	urio_future *changed;     /* a connection opened or ended */
	urio_future *gone;        /* the last reader ended (freeing) */
	urio_sem room;
};

static void lock(struct http_pipe *p)
{
	pthread_mutex_lock(&p->mu);
}

static void unlock(struct http_pipe *p)
{
	pthread_mutex_unlock(&p->mu);
}

static void signal_free(urio_future *f)
{
	if (f) {
		urio_future_set(f, 0);
		urio_future_free(f);
	}
}

/* Under the lock: a reference to *slot, made if need be (NULL: ENOMEM). */
static urio_future *watch_locked(urio_future **slot)
{
	if (!*slot)
		*slot = urio_future_new();
	return *slot ? urio_future_ref(*slot) : NULL;
}

/* Waits for a future made by watch_locked, shielded: the event it marks
 * comes soon, and the caller holds what it waits for in hand. */
static void wait_free(urio_future *f, bool shield)
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

/* q leaves the pipeline: to its caller, or freed if the caller left. */
static void finish(struct http_pipe *p, struct preq *q, int err)
{
	urio_future *f = q->f;
	q->err = err;
	q->r->c = NULL;
	urio_sem_release(&p->room);
	if (urio_future_set(f, 0) < 0) /* cancelled by its caller */
		preq_free(q);
	urio_future_free(f);
}

/* --- queueing ---------------------------------------------------------------- */

static void stop_locked(struct pconn *pc)
{
	if (pc->accepting) {
		pc->accepting = false;
		pc->p->open--;
	}
}

static int grow(char **b, size_t *cap, size_t need)
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
	if (grow(&pc->out, &pc->out_cap, pc->out_len + q->len) < 0)
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
		lock(p);
		if (!pc->out_len || !pc->accepting) {
			pc->out_len = 0;
			pc->writing = false;
			urio_future *f = pc->wdone;
			pc->wdone = NULL;
			unlock(p);
			signal_free(f);
			break;
		}
		char *b = pc->out;
		size_t n = pc->out_len, cap = pc->out_cap;
		pc->out = pc->spare;
		pc->out_cap = pc->spare_cap;
		pc->out_len = 0;
		pc->spare = b;
		pc->spare_cap = cap;
		unlock(p);
		int err = 0, terr = 0;
		URIO_TIMEOUT(terr, WRITE_TIMEOUT_MS)
		err = urio__http_send_all(pc->c->fd, b, n, 0);
		if (err < 0 || terr < 0) {
			lock(p);
			pc->wfail = true;
			stop_locked(pc);
			unlock(p);
			shutdown(pc->c->fd, SHUT_RDWR);
		}
	}
	urio_shield_exit(&sh);
}

static intptr_t reader(void *arg);

/* A new pipelined connection with q on it; the caller writes. */
static int open_conn(struct http_pipe *p, struct preq *q, uint64_t fail_ns)
{
	struct pconn *pc = calloc(1, sizeof(*pc));
	struct http_conn *c = NULL;
	int err = pc ? urio__http_acquire(p->h, fail_ns, &c) : -ENOMEM;
	lock(p);
	p->opening--;
	if (err == 0) {
		pc->p = p;
		pc->c = c;
		pc->answered = c->uses;
		err = enqueue_locked(pc, q);
	}
	if (err >= 0) {
		/* under the lock: it looks at its queue first */
		pc->reader = urio_spawn(reader, pc);
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
	unlock(p);
	signal_free(f);
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

/* Queues q (holding a permit) on a connection and, if nobody is writing
 * there, writes. */
static int place(struct http_pipe *p, struct preq *q, uint64_t fail_ns)
{
	for (;;) {
		lock(p);
		struct pconn *pc = pick_locked(p);
		bool can_open = p->open + p->opening < p->max;
		if (pc && (!pc->inflight || !can_open)) {
			int lead = enqueue_locked(pc, q);
			unlock(p);
			if (lead > 0)
				write_out(pc);
			return lead < 0 ? lead : 0;
		}
		if (can_open) {
			p->opening++;
			unlock(p);
			return open_conn(p, q, fail_ns);
		}
		/* every slot taken, and the connections being opened have
		 * the room the permit promises */
		urio_future *f = watch_locked(&p->changed);
		unlock(p);
		if (!f)
			return -ENOMEM;
		int err = urio_future_wait(f, NULL);
		urio_future_free(f);
		if (err < 0)
			return err;
	}
}

/* --- reading ----------------------------------------------------------------- */

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
	if (grow(&pc->carry, &pc->carry_cap, extra) < 0)
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
			finish(p, q, -ECANCELED); /* nobody waits: freed */
			continue;
		}
		if (ended && !q->retried && (q != rest || retry_first)) {
			q->retried = true;
			urio__http_bump(&p->h->s->retries);
			e = place(p, q, fail_ns);
			if (e == 0)
				continue;
		}
		finish(p, q, e);
	}
}

/* Takes pc off the pipe once its reader is done with it. */
static void reader_end(struct pconn *pc)
{
	struct http_pipe *p = pc->p;
	lock(p);
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
	unlock(p);
	free(pc->out);
	free(pc->spare);
	free(pc->carry);
	free(pc);
	signal_free(changed);
	signal_free(gone);
}

/* The queue is empty: waits up to LINGER_MS for the bytes of requests
 * queued meanwhile (into pc->carry), so a busy connection is not given
 * back and taken again between two rounds of requests. 1: bytes came (or
 * the wait ended: see pc->head), 0: the server closed, or -errno. */
static int linger(struct pconn *pc, bool *waited)
{
	if (grow(&pc->carry, &pc->carry_cap, pc->carry_len + LINGER_ROOM) < 0)
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

static intptr_t reader(void *arg)
{
	struct pconn *pc = arg;
	struct http_pipe *p = pc->p;
	int err = 0;
	bool keep = true, nothing = true, waited = false;
	struct preq *rest;
	for (;;) {
		lock(p);
		struct preq *q = pc->head;
		if (!q && (waited || pc->carry_len)) {
			/* nothing came, or bytes nobody asked for */
			if (pc->carry_len)
				err = -EPROTO;
			stop_locked(pc);
			rest = NULL;
			unlock(p);
			break;
		}
		unlock(p);
		if (!q) {
			int k = linger(pc, &waited);
			if (k > 0)
				continue;
			/* closed, or failed, as requests came: their ends */
			lock(p);
			stop_locked(pc);
			rest = pc->head;
			pc->head = pc->tail = NULL;
			unlock(p);
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
		lock(p);
		if (err == 0) {
			pc->head = q->next;
			if (!pc->head)
				pc->tail = NULL;
			pc->inflight--;
			learn_locked(p, ++pc->answered, keep);
		}
		if (err < 0 || !keep) {
			stop_locked(pc);
			rest = pc->head;
			pc->head = pc->tail = NULL;
		}
		unlock(p);
		if (err == 0)
			finish(p, q, q->err);
		if (err < 0 || !keep)
			break;
	}
	/* the writer is done with the socket before it is given back */
	lock(p);
	urio_future *w = pc->writing ? watch_locked(&pc->wdone) : NULL;
	unlock(p);
	if (w)
		wait_free(w, true);
	bool reuse = err == 0 && keep && !pc->carry_len && !pc->wfail;
	pc->c->released_ns = urio_now_ns();
	urio_pool_release(p->h->pool, pc->c, reuse ? 0 : -EPIPE);
	requeue(p, rest, err, err == 0 || nothing);
	reader_end(pc);
	return 0;
}

/* --- the caller's side -------------------------------------------------------- */

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
		err = place(p, q, 0);
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
	lock(p);
	for (struct pconn *pc = p->conns; pc; pc = pc->next)
		urio_cancel(pc->reader); /* alive: it unlinks pc as it ends */
	urio_future *f = p->readers ? watch_locked(&p->gone) : NULL;
	unlock(p);
	if (f)
		wait_free(f, true);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
