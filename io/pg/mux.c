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
 * completes a deep pipeline at once wakes as many tasks, which overflow
 * the run queues (the overflow waits in the global queue). With the bound, a stalled connection holds at most
 * MUX_DEPTH queries, the rest go to whichever connection frees room
 * first, in arrival order, and a batch of results wakes at most MUX_DEPTH
 * tasks.
 *
 * Each connection's task also reconnects it, with bounded backoff, when
 * it is lost (mux_conn.c; its statement cache is mux_stmt.c): its queries in flight fail with -ECONNRESET (they may have
 * run), queued ones wait for another connection, and while none is up
 * queries fail at once with -ENOTCONN rather than wait for a server that
 * may not come back.
 *
 * libpq is not thread-safe per connection, so every libpq call on one is
 * made under its mutex, which is never held across a suspension. The
 * connection's mutex is taken before the mux's, never after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urio/scope.h>
#include "mux_int.h"

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

void urio__mux_complete(struct done *d)
{
	for (struct mreq *q = d->head, *nx; q; q = nx) {
		nx = q->next;
		req_complete(q);
	}
}

/* Fails every queued request with err (no connection is left to run them).
 * Under m->mu. */
void urio__mux_fail_queue(urio_pg_mux *m, int err, struct done *d)
{
	while (m->qhead) {
		struct mreq *q = m->qhead;
		fifo_unlink(m, q);
		q->err = err;
		done_add(d, q);
	}
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
	m->started = true;
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
		urio__mux_take(mc, &d);
		urio__mux_flush_now(mc, &d);
		bool out = mc->out;
		pthread_mutex_unlock(&mc->mu);
		urio__mux_complete(&d);
		if (out)
			urio__mux_flush_wait(mc);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static int mux_query(urio_pg_mux *m, const char *sql, const urio_pg_params *p,
		     PGresult **res)
{
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
	atomic_fetch_add(&m->inside, 1);
	int r = mux_query(m, sql, p, res);
	atomic_fetch_sub(&m->inside, 1); /* our last touch of m */
	return r;
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
	struct done d = {NULL, &d.head};
	for (unsigned i = 0; i < m->n; i++) {
		struct mconn *mc = &m->c[i];
		if (mc->task) {
			urio_cancel(mc->task);
			urio_join(mc->task, NULL);
		}
		pthread_mutex_lock(&mc->mu);
		if (mc->conn) /* its task never ran, or there was none */
			urio__mux_lose(mc, -ESHUTDOWN, &d);
		pthread_mutex_unlock(&mc->mu);
	}
	pthread_mutex_lock(&m->mu);
	urio__mux_fail_queue(m, -ESHUTDOWN, &d);
	pthread_mutex_unlock(&m->mu);
	urio__mux_complete(&d);
	/* every query is answered, but a task may still be on its way out,
	 * or in flush_wait (which lose's shutdown of the socket woke) */
	urio_shield sh;
	urio_shield_enter(&sh);
	while (atomic_load(&m->inside))
		urio_sleep_ms(1);
	urio_shield_exit(&sh);
	for (unsigned i = 0; i < m->n; i++) {
		urio__mux_stmts_clear(&m->c[i]);
		free(m->c[i].stmts);
		PQfinish(m->c[i].conn);
		pthread_mutex_destroy(&m->c[i].mu);
	}
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
		err = urio__mux_connect(mc);
		if (err < 0)
			break;
		mc->task = urio_spawn(urio__mux_conn_task, mc);
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

