/* Shared, pipelined connections: many tasks' queries on a few connections.
 *
 * A pool lends a connection to one task for a whole round trip, so with
 * more requesters than connections most of them wait for a lease, and each
 * server backend sleeps and wakes once per query. Here a query does not
 * lease: it joins one FIFO queue shared by the connections, and its task
 * waits on a future. Each connection in libpq's pipeline mode takes the
 * queue's head whenever it has room, up to MUX_DEPTH queries in flight
 * (each with its own Sync, so one query's error does not abort the next),
 * and its task reads the results in order and completes the futures.
 * Queries of many tasks reach a backend back to back, as pgbench's
 * pipeline mode and tokio-postgres do.
 *
 * Why one queue and a bound: a query given to one connection's pipeline
 * when submitted waits behind everything sent there before it, so a
 * backend the OS leaves without a CPU for a while holds a fair share of
 * all queries while the other connections idle; and a connection that
 * completes a hundred queries at once wakes a hundred tasks, which pile up
 * in the run queues. With the bound, a stalled connection holds at most
 * MUX_DEPTH queries, the rest go to whichever connection frees room
 * first, in arrival order, and a batch of results wakes at most MUX_DEPTH
 * tasks.
 *
 * Each connection's task also reconnects it, with bounded backoff, when
 * it is lost: its queries in flight fail with -ECONNRESET (they may have
 * run), queued ones wait for another connection, and while none is up
 * queries fail at once with -ENOTCONN rather than wait for a server that
 * may not come back.
 *
 * libpq is not thread-safe per connection, so every libpq call on one is
 * made under its mutex, which is never held across a suspension. The
 * connection's mutex is taken before the mux's, never after. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <urio/future.h>
#include <urio/io.h>
#include <urio/scope.h>
#include "pg_int.h"

/* Queries in flight per connection: enough to keep a backend busy while
 * its results travel back, few enough that a stall delays few. */
#define MUX_DEPTH 16
/* Reconnection backoff: first wait, doubled to the cap. */
#define MUX_BACKOFF_MIN_MS 20
#define MUX_BACKOFF_MAX_MS 1000

struct mreq {
	struct mreq *next, *prev; /* the mux's queue; then next in the sent */
	urio_future *f;           /* completed with the mreq itself */
	const char *sql;          /* the submitter's, valid while queued */
	const urio_pg_params *p;
	PGresult *res;            /* the result, or the first error's */
	int err;
	bool queued;              /* in the mux's queue, not sent */
	bool ended;               /* its results are read; its Sync is next */
};

/* Requests to complete once the locks are dropped, in order. */
struct done {
	struct mreq *head, **tail;
};

struct mconn {
	urio_pg_mux *m;
	pthread_mutex_t mu; /* below up to `up` */
	PGconn *conn;       /* NULL while reconnecting */
	unsigned gen;       /* connections made so far */
	struct mreq *head, *tail; /* sent, results not yet all read */
	bool out;           /* libpq holds output the socket did not take */
	bool lost;          /* conn is dead: its task replaces it */
	/* under m->mu: */
	bool up;
	unsigned inflight;  /* length of the sent list */
	urio_task *task;
};

struct urio_pg_mux {
	pthread_mutex_t mu; /* the queue, nup, closing, each mconn's up+inflight */
	struct mreq *qhead, *qtail;
	unsigned nup;       /* connections up */
	unsigned next;      /* where the search for room starts */
	bool closing;
	char *conninfo;
	uint64_t connect_timeout_ms;
	unsigned n;
	struct mconn *c;
};

static void done_add(struct done *d, struct mreq *q)
{
	q->next = NULL;
	*d->tail = q;
	d->tail = &q->next;
}

/* Hands q to its waiter, or frees it if the waiter gave up. */
static void req_complete(struct mreq *q)
{
	urio_future *f = q->f;
	if (urio_future_set(f, (intptr_t)q) < 0) { /* cancelled by the waiter */
		PQclear(q->res);
		free(q);
	}
	urio_future_free(f); /* the mux's reference */
}

static void complete_all(struct done *d)
{
	for (struct mreq *q = d->head, *nx; q; q = nx) {
		nx = q->next;
		req_complete(q);
	}
}

static void fifo_unlink(urio_pg_mux *m, struct mreq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		m->qhead = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		m->qtail = q->prev;
	q->next = q->prev = NULL;
	q->queued = false;
}

/* Fails every queued request with err (no connection is left to run them).
 * Under m->mu. */
static void fail_queue(urio_pg_mux *m, int err, struct done *d)
{
	while (m->qhead) {
		struct mreq *q = m->qhead;
		fifo_unlink(m, q);
		q->err = err;
		done_add(d, q);
	}
}

/* mc's connection is gone: its sent requests fail with err; the socket is
 * shut down so every task polling it wakes. Under mc->mu. */
static void lose(struct mconn *mc, int err, struct done *d)
{
	urio_pg_mux *m = mc->m;
	if (mc->lost)
		return;
	mc->lost = true;
	mc->out = false;
	for (struct mreq *q = mc->head, *nx; q; q = nx) {
		nx = q->next;
		if (!q->err)
			q->err = err;
		done_add(d, q);
	}
	mc->head = mc->tail = NULL;
	int fd = PQsocket(mc->conn);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_lock(&m->mu);
	mc->inflight = 0;
	if (mc->up && --m->nup == 0)
		fail_queue(m, m->closing ? -ESHUTDOWN : -ENOTCONN, d);
	mc->up = false;
	pthread_mutex_unlock(&m->mu);
}

/* Appends q's query and a Sync to mc's output. 0, -EINVAL (libpq refused
 * the query), or -ECONNRESET. Under mc->mu. */
static int send_one(struct mconn *mc, struct mreq *q)
{
	const urio_pg_params *p = q->p;
	if (!PQsendQueryParams(mc->conn, q->sql, p->n, p->types, p->values,
			       p->lengths, p->formats, p->result_format))
		return PQstatus(mc->conn) == CONNECTION_OK ? -EINVAL
							   : -ECONNRESET;
	if (!PQpipelineSync(mc->conn))
		return -ECONNRESET; /* the query is queued: the stream is lost */
	return 0;
}

/* Sends the queue's head on mc while mc has room. Under mc->mu. */
static void take(struct mconn *mc, struct done *d)
{
	urio_pg_mux *m = mc->m;
	int err = 0;
	pthread_mutex_lock(&m->mu);
	/* the submitters' sql and params are read under m->mu, so a
	 * cancelled submitter finds its request either queued or sent */
	while (mc->up && mc->inflight < MUX_DEPTH && m->qhead && !err) {
		struct mreq *q = m->qhead;
		fifo_unlink(m, q);
		err = send_one(mc, q);
		if (err == -EINVAL) {
			q->err = err;
			done_add(d, q);
			err = 0;
		} else if (err == 0) {
			if (mc->tail)
				mc->tail->next = q;
			else
				mc->head = q;
			mc->tail = q;
			mc->inflight++;
		} else { /* back to the head, for another connection */
			q->queued = true;
			q->next = m->qhead;
			if (m->qhead)
				m->qhead->prev = q;
			else
				m->qtail = q;
			m->qhead = q;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (err)
		lose(mc, err, d);
}

/* Pushes out what the socket takes now; mc->out says if some is left.
 * Under mc->mu. */
static void flush_now(struct mconn *mc, struct done *d)
{
	if (mc->lost)
		return;
	int r = PQflush(mc->conn);
	if (r < 0)
		lose(mc, -ECONNRESET, d);
	else
		mc->out = r > 0;
}

/* Reads the results that are complete; finished requests go to d. Returns
 * how many finished. Under mc->mu. */
static unsigned deliver(struct mconn *mc, struct done *d)
{
	unsigned n = 0;
	while (mc->head && !PQisBusy(mc->conn)) {
		struct mreq *q = mc->head;
		PGresult *r = PQgetResult(mc->conn);
		if (!r) {
			if (q->ended) { /* no Sync where one is due */
				lose(mc, -EPROTO, d);
				return n;
			}
			q->ended = true;
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			mc->head = q->next;
			if (!mc->head)
				mc->tail = NULL;
			done_add(d, q);
			n++;
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
		case PGRES_EMPTY_QUERY:
			if (!q->res) {
				q->res = r;
				break;
			}
			PQclear(r);
			break;
		default: /* an error, or the pipeline aborted by one */
			if (urio__pg_fatal(r)) { /* the session is over */
				PQclear(r);
				lose(mc, -ECONNRESET, d);
				return n;
			}
			if (!q->err) {
				q->err = -EREMOTEIO;
				PQclear(q->res);
				q->res = r;
				break;
			}
			PQclear(r);
		}
	}
	return n;
}

/* Serves mc's connection until it is lost (0) or the task is cancelled
 * (-ECANCELED: the mux is being freed). */
static int serve(struct mconn *mc)
{
	urio_pg_mux *m = mc->m;
	int fd = PQsocket(mc->conn);
	for (;;) {
		struct done d = {NULL, &d.head};
		pthread_mutex_lock(&mc->mu);
		short want = POLLIN | (mc->out ? POLLOUT : 0);
		bool lost = mc->lost;
		pthread_mutex_unlock(&mc->mu);
		if (lost)
			return 0;
		int ev = urio_poll(fd, want);
		pthread_mutex_lock(&mc->mu);
		if (ev < 0) {
			lose(mc, -ESHUTDOWN, &d);
		} else if (!PQconsumeInput(mc->conn)) {
			lose(mc, -ECONNRESET, &d);
		} else {
			unsigned n = deliver(mc, &d);
			if (!mc->lost) {
				pthread_mutex_lock(&m->mu);
				mc->inflight -= n;
				pthread_mutex_unlock(&m->mu);
				take(mc, &d);
				flush_now(mc, &d);
			}
		}
		pthread_mutex_unlock(&mc->mu);
		complete_all(&d);
		if (ev < 0)
			return ev;
	}
}

/* Makes a new connection for mc and puts it to work. 0 or -errno. */
static int reconnect(struct mconn *mc)
{
	urio_pg_mux *m = mc->m;
	urio_pg *c;
	int err = urio_pg_connect(&c, m->conninfo, m->connect_timeout_ms);
	if (err < 0)
		return err;
	PGconn *conn = c->conn; /* the record is urio_pg's; the PGconn ours */
	free(c);
	if (!PQenterPipelineMode(conn)) {
		PQfinish(conn);
		return -EPROTO;
	}
	struct done d = {NULL, &d.head};
	pthread_mutex_lock(&mc->mu);
	mc->conn = conn;
	mc->gen++;
	mc->lost = false;
	pthread_mutex_lock(&m->mu);
	mc->up = true;
	m->nup++;
	pthread_mutex_unlock(&m->mu);
	take(mc, &d);
	flush_now(mc, &d);
	pthread_mutex_unlock(&mc->mu);
	complete_all(&d);
	return 0;
}

/* A connection's life: serve it, and when it is lost make another, waiting
 * between failed attempts, until the mux is freed. */
static intptr_t conn_task(void *arg)
{
	struct mconn *mc = arg;
	uint64_t backoff = 0;
	for (;;) {
		if (!mc->conn) {
			int err = backoff ? urio_sleep_ms(backoff) : 0;
			if (err == 0)
				err = reconnect(mc);
			if (err == -ECANCELED)
				return 0;
			if (err < 0) {
				backoff = backoff ? backoff * 2 : MUX_BACKOFF_MIN_MS;
				if (backoff > MUX_BACKOFF_MAX_MS)
					backoff = MUX_BACKOFF_MAX_MS;
				continue;
			}
			backoff = 0;
		}
		int err = serve(mc);
		pthread_mutex_lock(&mc->mu);
		PQfinish(mc->conn);
		mc->conn = NULL;
		pthread_mutex_unlock(&mc->mu);
		if (err == -ECANCELED)
			return 0;
	}
}

/* Waits until mc's output is out: the caller's take left some that the
 * socket would not take. Shielded, so that a cancelled caller does not
 * leave other tasks' queries unsent, and bounded: a server that reads
 * nothing for that long is given up. */
static void flush_wait(struct mconn *mc)
{
	urio_shield sh;
	urio_deadline dl;
	urio_shield_enter(&sh);
	urio_timeout_enter(&dl, URIO__PG_CLEANUP_MS);
	pthread_mutex_lock(&mc->mu);
	unsigned gen = mc->gen;
	while (mc->out && !mc->lost && mc->gen == gen) {
		int fd = PQsocket(mc->conn);
		pthread_mutex_unlock(&mc->mu);
		int ev = urio_poll(fd, POLLOUT);
		struct done d = {NULL, &d.head};
		pthread_mutex_lock(&mc->mu);
		if (mc->lost || mc->gen != gen)
			break;
		if (ev < 0)
			lose(mc, -ETIMEDOUT, &d);
		else
			flush_now(mc, &d);
		pthread_mutex_unlock(&mc->mu);
		complete_all(&d);
		pthread_mutex_lock(&mc->mu);
	}
	pthread_mutex_unlock(&mc->mu);
	urio_timeout_exit(&dl);
	urio_shield_exit(&sh);
}

/* The up connection with room and the fewest queries in flight, or NULL
 * if none has room (each will take from the queue as results free it).
 * Under m->mu. */
static struct mconn *pick(urio_pg_mux *m)
{
	struct mconn *best = NULL;
	unsigned start = m->next++;
	for (unsigned i = 0; i < m->n; i++) {
		struct mconn *mc = &m->c[(start + i) % m->n];
		if (mc->up && mc->inflight < MUX_DEPTH &&
		    (!best || mc->inflight < best->inflight))
			best = mc;
	}
	return best;
}

/* Queues q, then sends the queue's head on connections with room until q
 * is sent or none has room. 0, -ENOTCONN or -ESHUTDOWN. */
static int submit(urio_pg_mux *m, struct mreq *q)
{
	pthread_mutex_lock(&m->mu);
	if (m->closing || m->nup == 0) {
		int err = m->closing ? -ESHUTDOWN : -ENOTCONN;
		pthread_mutex_unlock(&m->mu);
		return err;
	}
	urio_future_ref(q->f); /* the mux's */
	q->queued = true;
	q->prev = m->qtail;
	if (m->qtail)
		m->qtail->next = q;
	else
		m->qhead = q;
	m->qtail = q;
	/* each pass sends from the queue or finds a connection gone or full */
	for (unsigned i = 0; i <= 2 * m->n && q->queued; i++) {
		struct mconn *mc = pick(m);
		if (!mc)
			break;
		pthread_mutex_unlock(&m->mu);
		struct done d = {NULL, &d.head};
		pthread_mutex_lock(&mc->mu);
		take(mc, &d);
		flush_now(mc, &d);
		bool out = mc->out;
		pthread_mutex_unlock(&mc->mu);
		complete_all(&d);
		if (out)
			flush_wait(mc);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return 0;
}

int urio_pg_mux_query_params(urio_pg_mux *m, const char *sql,
			     const urio_pg_params *p, PGresult **res)
{
	static const urio_pg_params none;
	if (!m || !sql || !res)
		return -EINVAL;
	*res = NULL;
	if (!p)
		p = &none;
	if (p->n < 0 || p->n > 65535 || (p->n > 0 && !p->values))
		return -EINVAL;
	struct mreq *q = calloc(1, sizeof(*q));
	if (!q || !(q->f = urio_future_new())) {
		free(q);
		return -ENOMEM;
	}
	q->sql = sql;
	q->p = p;
	int err = submit(m, q);
	if (err < 0) {
		urio_future_free(q->f);
		free(q);
		return err;
	}
	intptr_t v = 0;
	int w = urio_future_wait(q->f, &v);
	if (w < 0) {
		pthread_mutex_lock(&m->mu);
		bool queued = q->queued; /* never sent: take it back */
		if (queued)
			fifo_unlink(m, q);
		pthread_mutex_unlock(&m->mu);
		if (queued) {
			urio_future_free(q->f); /* the mux's */
			urio_future_free(q->f);
			free(q);
			return w;
		}
		if (urio_future_cancel(q->f) == 0) {
			urio_future_free(q->f); /* its completer frees q */
			return w;
		}
	}
	/* done (maybe just now, as we gave up): q is ours */
	urio_future_free(q->f);
	*res = q->res;
	err = q->err;
	free(q);
	if (err < 0 && err != -EREMOTEIO) {
		PQclear(*res);
		*res = NULL;
	}
	return err;
}

int urio_pg_mux_query(urio_pg_mux *m, const char *sql, int n,
		      const char *const *values, PGresult **res)
{
	urio_pg_params p = {.n = n, .values = values};
	return urio_pg_mux_query_params(m, sql, &p, res);
}

void urio_pg_mux_free(urio_pg_mux *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->closing = true;
	pthread_mutex_unlock(&m->mu);
	for (unsigned i = 0; i < m->n; i++) {
		struct mconn *mc = &m->c[i];
		if (mc->task) {
			urio_cancel(mc->task);
			urio_join(mc->task, NULL);
		}
		PQfinish(mc->conn);
		pthread_mutex_destroy(&mc->mu);
	}
	struct done d = {NULL, &d.head};
	fail_queue(m, -ESHUTDOWN, &d); /* queued while none was up */
	complete_all(&d);
	pthread_mutex_destroy(&m->mu);
	free(m->conninfo);
	free(m->c);
	free(m);
}

urio_pg_mux *urio_pg_mux_new(const char *conninfo, unsigned conns,
			     uint64_t connect_timeout_ms)
{
	if (!conninfo || conns == 0 || conns > 1024) {
		urio__pg_set_errno(EINVAL);
		return NULL;
	}
	urio_pg_mux *m = calloc(1, sizeof(*m));
	if (!m || !(m->c = calloc(conns, sizeof(*m->c))) ||
	    !(m->conninfo = strdup(conninfo))) {
		if (m)
			free(m->c);
		free(m);
		urio__pg_set_errno(ENOMEM);
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->connect_timeout_ms = connect_timeout_ms;
	int err = 0;
	for (; m->n < conns && err == 0; m->n++) {
		struct mconn *mc = &m->c[m->n];
		mc->m = m;
		pthread_mutex_init(&mc->mu, NULL);
		err = reconnect(mc);
		if (err < 0)
			break;
		mc->task = urio_spawn(conn_task, mc);
		if (!mc->task) {
			err = -errno;
			break;
		}
	}
	if (err < 0) {
		m->n++; /* the one that failed is torn down too */
		urio_pg_mux_free(m);
		urio__pg_set_errno(-err);
		return NULL;
	}
	return m;
}
