/* Connections: libpq's non-blocking state machine driven by urio_poll.
 *
 * libpq never blocks here: the connection runs in non-blocking mode and
 * each time libpq would wait (PQconnectPoll says which way, PQflush that
 * the send buffer is full, PQisBusy that a result is incomplete) the task
 * parks in urio_poll on libpq's socket instead. A wait that is cancelled
 * while a query is on the server sends a cancel request (PQcancel, which
 * opens its own connection and blocks, so on the offload pool) and leaves
 * the connection broken: the server may still send the query's remaining
 * results, so its protocol state is unknown, and a caller must close it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urio/io.h>
#include <urio/offload.h>
#include <urio/scope.h>
#include "pg_int.h"

static void set_msg(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
	size_t n = strlen(dst);
	while (n && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = 0;
}

__attribute__((noinline)) void urio__pg_set_errno(int e)
{
	errno = e;
}

/* Waits on the socket in the direction PQconnectPoll asked for, until it
 * reports the connection made or failed. 0 or -errno. */
static int connect_poll(PGconn *conn)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			return -ECONNREFUSED;
		/* libpq may move to another socket (next address, SSL retry) */
		int fd = PQsocket(conn);
		if (fd < 0)
			return -ECONNREFUSED;
		int r = urio_poll(fd, st == PGRES_POLLING_READING ? POLLIN
								 : POLLOUT);
		if (r < 0)
			return r;
		st = PQconnectPoll(conn);
	}
	return 0;
}

int urio_pg_connect(urio_pg **out, const char *conninfo, uint64_t timeout_ms)
{
	return urio_pg_connect_why(out, conninfo, timeout_ms, NULL, 0);
}

int urio_pg_connect_why(urio_pg **out, const char *conninfo,
			uint64_t timeout_ms, char *why, size_t why_len)
{
	char *perr = NULL;
	if (!out || !conninfo)
		return -EINVAL;
	*out = NULL;
	if (why && why_len)
		why[0] = 0;
	else
		why_len = 0;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (!opts) {
		if (why_len)
			set_msg(why, why_len, perr);
		PQfreemem(perr);
		return perr ? -EINVAL : -ENOMEM;
	}
	PQconninfoFree(opts);
	urio_pg *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->conn = PQconnectStart(conninfo);
	if (!c->conn) {
		free(c);
		return -ENOMEM;
	}
	int err = -ECONNREFUSED;
	if (PQstatus(c->conn) != CONNECTION_BAD) {
		urio_deadline d;
		urio_timeout_enter(&d, timeout_ms ? timeout_ms : UINT64_MAX);
		err = connect_poll(c->conn);
		if (urio_timeout_exit(&d) == -ETIMEDOUT)
			err = -ETIMEDOUT;
	}
	if (err == 0 && PQsetnonblocking(c->conn, 1) != 0)
		err = -ECONNREFUSED;
	if (err < 0) {
		if (why_len)
			set_msg(why, why_len, PQerrorMessage(c->conn));
		PQfinish(c->conn);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void urio_pg_close(urio_pg *c)
{
	if (!c)
		return;
	PQfinish(c->conn);
	free(c);
}

PGconn *urio_pg_conn(const urio_pg *c)
{
	return c ? c->conn : NULL;
}

bool urio_pg_ok(const urio_pg *c)
{
	return c && !c->broken && !c->inflight &&
	       PQstatus(c->conn) == CONNECTION_OK &&
	       PQtransactionStatus(c->conn) == PQTRANS_IDLE;
}

const char *urio_pg_sqlstate(const urio_pg *c)
{
	return c ? c->sqlstate : "";
}

const char *urio_pg_error(const urio_pg *c)
{
	return c ? c->msg : "";
}

int urio__pg_lost(urio_pg *c)
{
	c->sqlstate[0] = 0;
	set_msg(c->msg, sizeof(c->msg), PQerrorMessage(c->conn));
	c->broken = true;
	return -ECONNRESET;
}

bool urio__pg_fatal(const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	return sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"));
}

int urio__pg_result_error(urio_pg *c, const PGresult *res)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", st ? st : "");
	set_msg(c->msg, sizeof(c->msg), PQresultErrorMessage(res));
	if (PQstatus(c->conn) != CONNECTION_OK || urio__pg_fatal(res)) {
		c->broken = true;
		return -ECONNRESET;
	}
	return -EREMOTEIO;
}

/* --- cancelling on the server -------------------------------------------- */

/* Runs on an offload thread and owns its PGcancel: the task waiting for it
 * may give up (its cleanup bound ran out), the request still completes. */
static intptr_t cancel_run(void *arg)
{
	PGcancel *pc = arg;
	char err[256];
	int ok = PQcancel(pc, err, sizeof(err));
	PQfreeCancel(pc);
	return ok ? 0 : -ECONNREFUSED;
}

/* Asks the server to cancel c's running query, shielded (the caller is
 * usually a cancelled task) and bounded; c is left broken either way. */
static void cancel_on_server(urio_pg *c)
{
	c->broken = true;
	PGcancel *pc = PQgetCancel(c->conn);
	urio_executor *e = urio_offload_executor();
	if (!pc || !e) {
		PQfreeCancel(pc);
		return;
	}
	urio_shield sh;
	urio_deadline d;
	urio_shield_enter(&sh);
	urio_timeout_enter(&d, URIO__PG_CLEANUP_MS);
	urio_future *f = urio_executor_submit(e, cancel_run, pc);
	if (f) {
		urio_future_wait(f, NULL);
		urio_future_free(f);
	} else {
		PQfreeCancel(pc);
	}
	urio_timeout_exit(&d);
	urio_shield_exit(&sh);
}

/* A wait on the socket failed with err (-ECANCELED: the task was cancelled
 * or a deadline fired). */
static int interrupted(urio_pg *c, int err)
{
	if (c->inflight)
		cancel_on_server(c);
	c->broken = true;
	c->sqlstate[0] = 0;
	snprintf(c->msg, sizeof(c->msg), "interrupted: %s", strerror(-err));
	return err;
}

/* --- sending and reading -------------------------------------------------- */

/* Pushes libpq's send buffer out, reading meanwhile so a server that
 * answers before it has read everything cannot deadlock us. */
static int flush(urio_pg *c)
{
	for (;;) {
		int r = PQflush(c->conn);
		if (r == 0)
			return 0;
		if (r < 0)
			return urio__pg_lost(c);
		int ev = urio_poll(PQsocket(c->conn), POLLIN | POLLOUT);
		if (ev < 0)
			return interrupted(c, ev);
		if ((ev & (POLLIN | POLLERR | POLLHUP)) &&
		    !PQconsumeInput(c->conn))
			return urio__pg_lost(c);
	}
}

int urio__pg_send(urio_pg *c, const char *sql, const urio_pg_params *p,
		  bool single)
{
	static const urio_pg_params none;
	if (!c || !sql)
		return -EINVAL;
	if (!p)
		p = &none;
	if (p->n < 0 || (p->n > 0 && !p->values))
		return -EINVAL;
	if (c->broken)
		return -ENOTCONN;
	if (c->inflight)
		return -EBUSY;
	if (PQstatus(c->conn) != CONNECTION_OK)
		return urio__pg_lost(c);
	if (!PQsendQueryParams(c->conn, sql, p->n, p->types, p->values,
			       p->lengths, p->formats, p->result_format)) {
		if (PQstatus(c->conn) != CONNECTION_OK)
			return urio__pg_lost(c);
		c->sqlstate[0] = 0;
		set_msg(c->msg, sizeof(c->msg), PQerrorMessage(c->conn));
		return -EINVAL; /* refused before sending: c is still fine */
	}
	c->inflight = true;
	if (single)
		PQsetSingleRowMode(c->conn);
	return flush(c);
}

int urio__pg_next(urio_pg *c, PGresult **res)
{
	*res = NULL;
	while (PQisBusy(c->conn)) {
		int ev = urio_poll(PQsocket(c->conn), POLLIN);
		if (ev < 0)
			return interrupted(c, ev);
		if (!PQconsumeInput(c->conn))
			return urio__pg_lost(c);
	}
	*res = PQgetResult(c->conn);
	if (!*res) {
		c->inflight = false;
		if (PQstatus(c->conn) != CONNECTION_OK)
			return urio__pg_lost(c);
	}
	return 0;
}

int urio__pg_drain(urio_pg *c)
{
	int err = 0;
	while (c->inflight) {
		PGresult *res;
		int r = urio__pg_next(c, &res);
		if (r < 0)
			return r;
		if (res && PQresultStatus(res) == PGRES_FATAL_ERROR && !err)
			err = urio__pg_result_error(c, res);
		PQclear(res);
	}
	return err;
}
