/* Shared, pipelined connections: many tasks' queries on a few connections.
 *
 * A pool lends a connection to one task for a whole round trip, so with
 * more requesters than connections most of them wait for a lease, and each
 * server backend sleeps and wakes once per query. Here a query does not
 * lease: it is appended to a connection in libpq's pipeline mode (its own
 * Sync after it, so one query's error does not abort the next) and its
 * task waits on a future, while one reader task per connection reads the
 * results in order and completes the futures. Queries from many tasks
 * reach a backend back to back, as pgbench's pipeline mode and
 * tokio-postgres do.
 *
 * libpq is not thread-safe per connection, so every libpq call on one is
 * made under its mutex, which is never held across a suspension: the
 * reader polls for input without it, and a writer whose send buffer is
 * full polls for output without it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <urio/future.h>
#include <urio/io.h>
#include <urio/scope.h>
#include "pg_int.h"

struct mreq {
	struct mreq *next;
	urio_future *f;  /* completed with the mreq itself */
	PGresult *res;   /* the result, or the first error's */
	int err;
	bool ended;      /* its results are read; its Sync is next */
};

struct mconn {
	pthread_mutex_t mu; /* the PGconn, the queue, broken */
	PGconn *conn;
	struct mreq *head, *tail; /* sent, results not yet all read */
	atomic_uint queued;       /* length of that queue, read unlocked */
	atomic_bool down;         /* broken, read unlocked */
	bool broken;
	urio_task *reader;
};

struct urio_pg_mux {
	unsigned n;
	atomic_uint next; /* where the search for the shortest queue starts */
	struct mconn *c;
};

static void req_free(struct mreq *q)
{
	PQclear(q->res);
	free(q);
}

/* Hands q to its waiter, or frees it if the waiter gave up. */
static void req_complete(struct mreq *q)
{
	urio_future *f = q->f;
	if (urio_future_set(f, (intptr_t)q) < 0) /* cancelled by the waiter */
		req_free(q);
	urio_future_free(f);
}

/* Moves the whole queue to *done with err (the connection is lost). */
static void fail_all(struct mconn *mc, int err, struct mreq **done)
{
	for (struct mreq *q = mc->head; q; q = q->next)
		if (!q->err)
			q->err = err;
	if (mc->tail) {
		mc->tail->next = *done;
		*done = mc->head;
	}
	mc->head = mc->tail = NULL;
	atomic_store_explicit(&mc->queued, 0, memory_order_relaxed);
	atomic_store_explicit(&mc->down, true, memory_order_relaxed);
	mc->broken = true;
}

/* Reads the results that are complete; finished requests go to *done. */
static void deliver(struct mconn *mc, struct mreq **done)
{
	while (mc->head && !PQisBusy(mc->conn)) {
		struct mreq *q = mc->head;
		PGresult *r = PQgetResult(mc->conn);
		if (!r) {
			if (q->ended) { /* no Sync where one is due */
				fail_all(mc, -EPROTO, done);
				return;
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
			atomic_fetch_sub_explicit(&mc->queued, 1,
						  memory_order_relaxed);
			q->next = *done;
			*done = q;
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
				fail_all(mc, -ECONNRESET, done);
				return;
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
}

static void complete_all(struct mreq *done)
{
	while (done) {
		struct mreq *q = done;
		done = q->next;
		req_complete(q);
	}
}

static intptr_t reader(void *arg)
{
	struct mconn *mc = arg;
	int fd = PQsocket(mc->conn);
	for (;;) {
		int ev = urio_poll(fd, POLLIN);
		struct mreq *done = NULL;
		pthread_mutex_lock(&mc->mu);
		if (ev < 0) /* urio_pg_mux_free */
			fail_all(mc, -ESHUTDOWN, &done);
		else if (!PQconsumeInput(mc->conn))
			fail_all(mc, -ECONNRESET, &done);
		else
			deliver(mc, &done);
		bool broken = mc->broken;
		pthread_mutex_unlock(&mc->mu);
		complete_all(done);
		if (broken)
			return 0;
	}
}

/* Pushes mc's send buffer out, waiting for room without the mutex. */
static int flush(struct mconn *mc)
{
	for (;;) {
		pthread_mutex_lock(&mc->mu);
		int r = mc->broken ? -1 : PQflush(mc->conn);
		int fd = PQsocket(mc->conn);
		pthread_mutex_unlock(&mc->mu);
		if (r <= 0)
			return r < 0 ? -ECONNRESET : 0;
		int ev = urio_poll(fd, POLLOUT);
		if (ev < 0)
			return ev;
	}
}

static int mux_send(struct mconn *mc, const char *sql, const urio_pg_params *p,
		    struct mreq *q)
{
	pthread_mutex_lock(&mc->mu);
	int err = 0;
	if (mc->broken)
		err = -ECONNRESET;
	else if (!PQsendQueryParams(mc->conn, sql, p->n, p->types, p->values,
				    p->lengths, p->formats, p->result_format))
		err = PQstatus(mc->conn) == CONNECTION_OK ? -EINVAL
							  : -ECONNRESET;
	else if (!PQpipelineSync(mc->conn))
		err = -ECONNRESET; /* the query is queued: the stream is lost */
	if (err == 0) {
		if (mc->tail)
			mc->tail->next = q;
		else
			mc->head = q;
		mc->tail = q;
		atomic_fetch_add_explicit(&mc->queued, 1, memory_order_relaxed);
		urio_future_ref(q->f); /* the reader's */
	}
	bool lost = err == -ECONNRESET && !mc->broken;
	struct mreq *done = NULL;
	if (lost)
		fail_all(mc, -ECONNRESET, &done);
	pthread_mutex_unlock(&mc->mu);
	complete_all(done);
	return err;
}

/* The connection with the shortest queue among those up (a hint: read
 * without locks), so a slow backend does not hold a fair share of the
 * queries back; the search starts in turn at each, to spread ties. */
static struct mconn *pick(urio_pg_mux *m)
{
	unsigned start = atomic_fetch_add_explicit(&m->next, 1,
						   memory_order_relaxed);
	struct mconn *best = NULL;
	unsigned best_q = UINT32_MAX;
	for (unsigned i = 0; i < m->n; i++) {
		struct mconn *mc = &m->c[(start + i) % m->n];
		unsigned q = atomic_load_explicit(&mc->queued,
						  memory_order_relaxed);
		if (q < best_q && !atomic_load_explicit(&mc->down,
							memory_order_relaxed)) {
			best = mc;
			best_q = q;
		}
	}
	return best ? best : &m->c[start % m->n];
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
	if (p->n < 0 || (p->n > 0 && !p->values))
		return -EINVAL;
	struct mreq *q = calloc(1, sizeof(*q));
	if (!q || !(q->f = urio_future_new())) {
		free(q);
		return -ENOMEM;
	}
	struct mconn *mc = NULL;
	int err = -ECONNRESET;
	for (unsigned i = 0; i < m->n && err == -ECONNRESET; i++) {
		mc = pick(m);
		err = mux_send(mc, sql, p, q);
	}
	if (err < 0) {
		urio_future_free(q->f);
		free(q);
		return err;
	}
	err = flush(mc);
	intptr_t v = 0;
	int w = err < 0 ? err : urio_future_wait(q->f, &v);
	if (w < 0 && urio_future_cancel(q->f) == 0) {
		urio_future_free(q->f); /* the reader frees q */
		return w;
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
	for (unsigned i = 0; i < m->n; i++) {
		struct mconn *mc = &m->c[i];
		if (mc->reader) {
			urio_cancel(mc->reader);
			urio_join(mc->reader, NULL);
		}
		PQfinish(mc->conn);
		pthread_mutex_destroy(&mc->mu);
	}
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
	if (!m || !(m->c = calloc(conns, sizeof(*m->c)))) {
		free(m);
		urio__pg_set_errno(ENOMEM);
		return NULL;
	}
	int err = 0;
	for (; m->n < conns && err == 0; m->n++) {
		struct mconn *mc = &m->c[m->n];
		pthread_mutex_init(&mc->mu, NULL);
		urio_pg *c;
		err = urio_pg_connect(&c, conninfo, connect_timeout_ms);
		if (err < 0)
			break;
		mc->conn = c->conn; /* the record is urio_pg's; the PGconn ours */
		free(c);
		if (!PQenterPipelineMode(mc->conn)) {
			err = -EPROTO;
			break;
		}
		mc->reader = urio_spawn(reader, mc);
		if (!mc->reader) {
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
