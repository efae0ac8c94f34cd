/* The life of one of a mux's connections (mux.c has the queue): taking
 * queries from the queue while it has room, reading their results in
 * order, and, when the connection is lost, failing what was sent on it and
 * making another with bounded backoff. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <urio/io.h>
#include <urio/scope.h>
#include "mux_int.h"

/* mc's connection is gone: its sent requests fail with err; the socket is
 * shut down so every task polling it wakes. Under mc->mu. */
void urio__mux_lose(struct mconn *mc, int err, struct done *d)
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
		urio__mux_fail_queue(m, m->closing ? -ESHUTDOWN : -ENOTCONN, d);
	mc->up = false;
	pthread_mutex_unlock(&m->mu);
}

/* Sends the queue's head on mc while mc has room. Under mc->mu. */
void urio__mux_take(struct mconn *mc, struct done *d)
{
	urio_pg_mux *m = mc->m;
	int err = 0;
	pthread_mutex_lock(&m->mu);
	/* the submitters' sql and params are read under m->mu, so a
	 * cancelled submitter finds its request either queued or sent */
	while (mc->up && mc->inflight < MUX_DEPTH && m->qhead && !err) {
		struct mreq *q = m->qhead;
		fifo_unlink(m, q);
		err = urio__mux_send(mc, q, m->cache_max);
		if (err == -EINVAL || err == -EPIPE) {
			q->err = err == -EINVAL ? err : -ECONNRESET;
			done_add(d, q);
			err = err == -EINVAL ? 0 : -ECONNRESET;
		} else if (err == 0) {
			if (mc->tail)
				mc->tail->next = q;
			else
				mc->head = q;
			mc->tail = q;
			mc->inflight++;
		} else { /* not sent: back to the head, for another connection */
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
		urio__mux_lose(mc, err, d);
}

/* Pushes out what the socket takes now; mc->out says if some is left.
 * Under mc->mu. */
void urio__mux_flush_now(struct mconn *mc, struct done *d)
{
	if (mc->lost)
		return;
	int r = PQflush(mc->conn);
	if (r < 0)
		urio__mux_lose(mc, -ECONNRESET, d);
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
		if (q->prep != MUX_NO_PREP) { /* its Prepare's results first */
			if (!r) {
				q->prep = MUX_NO_PREP;
				continue;
			}
			int slot = q->prep;
			q->prep = MUX_PREP_READ;
			if (slot >= 0 && urio__mux_prepared(mc, slot, r) == 0)
				continue;
			/* the Prepare failed: its error is the query's */
		}
		if (!r) {
			if (q->ended) { /* no Sync where one is due */
				urio__mux_lose(mc, -EPROTO, d);
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
				urio__mux_lose(mc, -ECONNRESET, d);
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

/* Serves mc's connection until it is lost (1 if it completed a query, 0
 * if not) or the task is cancelled (-ECANCELED: the mux is being freed). */
static int serve(struct mconn *mc)
{
	urio_pg_mux *m = mc->m;
	pthread_mutex_lock(&mc->mu);
	int fd = PQsocket(mc->conn);
	pthread_mutex_unlock(&mc->mu);
	bool served = false;
	for (;;) {
		struct done d = {NULL, &d.head};
		pthread_mutex_lock(&mc->mu);
		short want = POLLIN | (mc->out ? POLLOUT : 0);
		bool lost = mc->lost;
		pthread_mutex_unlock(&mc->mu);
		if (lost)
			return served;
		int ev = urio_poll(fd, want);
		pthread_mutex_lock(&mc->mu);
		if (ev < 0) {
			urio__mux_lose(mc, ev == -ECANCELED ? -ESHUTDOWN
							    : -ECONNRESET,
				       &d);
		} else if (!PQconsumeInput(mc->conn)) {
			urio__mux_lose(mc, -ECONNRESET, &d);
		} else {
			unsigned n = deliver(mc, &d);
			served |= n > 0;
			if (!mc->lost) {
				pthread_mutex_lock(&m->mu);
				mc->inflight -= n;
				pthread_mutex_unlock(&m->mu);
				urio__mux_take(mc, &d);
				urio__mux_flush_now(mc, &d);
			}
		}
		pthread_mutex_unlock(&mc->mu);
		urio__mux_complete(&d);
		if (ev < 0)
			return ev;
	}
}

/* Makes a new connection for mc and puts it to work. 0 or -errno. */
int urio__mux_connect(struct mconn *mc)
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
	urio__mux_stmts_clear(mc);
	mc->gen++;
	mc->lost = false;
	pthread_mutex_lock(&m->mu);
	mc->up = true;
	m->nup++;
	pthread_mutex_unlock(&m->mu);
	urio__mux_take(mc, &d);
	urio__mux_flush_now(mc, &d);
	pthread_mutex_unlock(&mc->mu);
	urio__mux_complete(&d);
	return 0;
}

static uint64_t backoff_next(uint64_t ms)
{
	ms = ms ? ms * 2 : MUX_BACKOFF_MIN_MS;
	return ms < MUX_BACKOFF_MAX_MS ? ms : MUX_BACKOFF_MAX_MS;
}

/* A connection's life: serve it, and when it is lost make another, waiting
 * between failed attempts, until the mux is freed. A connection lost
 * before it completed anything counts as a failed attempt, so a server
 * that accepts and drops at once is not hammered. */
intptr_t urio__mux_conn_task(void *arg)
{
	struct mconn *mc = arg;
	uint64_t backoff = 0;
	for (;;) {
		if (!mc->conn) {
			int err = backoff ? urio_sleep_ms(backoff) : 0;
			if (err == 0)
				err = urio__mux_connect(mc);
			if (err == -ECANCELED)
				return 0;
			if (err < 0) {
				backoff = backoff_next(backoff);
				continue;
			}
		}
		int r = serve(mc);
		pthread_mutex_lock(&mc->mu);
		PQfinish(mc->conn);
		mc->conn = NULL;
		pthread_mutex_unlock(&mc->mu);
		if (r == -ECANCELED)
			return 0;
		backoff = r > 0 ? 0 : backoff_next(backoff);
	}
}

/* Waits until mc's output is out: the caller's take left some that the
 * socket would not take. Shielded, so that a cancelled caller does not
 * leave other tasks' queries unsent, and bounded: a server that reads
 * nothing for that long is given up. */
void urio__mux_flush_wait(struct mconn *mc)
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
			urio__mux_lose(mc, -ECONNRESET, &d);
		else
			urio__mux_flush_now(mc, &d);
		pthread_mutex_unlock(&mc->mu);
		urio__mux_complete(&d);
		pthread_mutex_lock(&mc->mu);
	}
	pthread_mutex_unlock(&mc->mu);
	urio_timeout_exit(&dl);
	urio_shield_exit(&sh);
}

