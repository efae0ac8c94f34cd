/* A pool of connections and BEGIN / COMMIT / ROLLBACK as a transaction.
 *
 * The pool is urio_pool with libpq connections: an idle connection is
 * checked before reuse by reading whatever the server sent meanwhile
 * (PQconsumeInput never blocks): a server that closed the connection
 * (restart, idle timeout, crash) leaves it CONNECTION_BAD, and it is
 * destroyed instead of handed out. A connection goes back into the pool
 * only when it is idle and in step with the server; a server error leaves
 * it so, a cancelled query or a lost connection does not. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <urio/scope.h>
#include "pg_int.h"

struct urio_pg_pool {
	urio_pool *pool;
	char *conninfo;
	uint64_t connect_ms;
};

static int pool_create(void *ctx, void **res)
{
	struct urio_pg_pool *pp = ctx;
	urio_pg *c;
	int err = urio_pg_connect(&c, pp->conninfo, pp->connect_ms);
	if (err == 0)
		*res = c;
	return err;
}

static void pool_destroy(void *ctx, void *res)
{
	(void)ctx;
	urio_pg_close(res);
}

/* Reads what the server sent while c idled, without waiting: a server
 * going away may first send an error ("terminating connection ...") and
 * then close, so read until nothing is left, to see the close too. */
static int pool_check(void *ctx, void *res)
{
	(void)ctx;
	urio_pg *c = res;
	for (int i = 0; i < 8; i++) {
		if (!urio_pg_ok(c))
			return -ECONNRESET;
		struct pollfd pfd = {PQsocket(c->conn), POLLIN, 0};
		if (poll(&pfd, 1, 0) <= 0)
			return 0; /* nothing came: in step */
		if (!PQconsumeInput(c->conn) || PQisBusy(c->conn))
			c->broken = true;
	}
	return -ECONNRESET; /* a stream of unsolicited data: not idle */
}

static const urio_pool_ops pg_pool_ops = {pool_create, pool_destroy,
					  pool_check};

urio_pg_pool *urio_pg_pool_new(const char *conninfo,
			       uint64_t connect_timeout_ms,
			       const urio_pool_opts *opts)
{
	if (!conninfo) {
		errno = EINVAL;
		return NULL;
	}
	struct urio_pg_pool *pp = calloc(1, sizeof(*pp));
	if (!pp)
		goto fail;
	pp->conninfo = strdup(conninfo);
	if (!pp->conninfo)
		goto fail_pp;
	pp->connect_ms = connect_timeout_ms;
	pp->pool = urio_pool_new(&pg_pool_ops, pp, opts);
	if (!pp->pool)
		goto fail_info;
	return pp;
fail_info:
	free(pp->conninfo);
fail_pp:
	free(pp);
fail:
	return NULL; /* errno set by calloc, strdup or urio_pool_new */
}

int urio_pg_pool_acquire(urio_pg_pool *pp, urio_pg **c)
{
	if (!pp || !c)
		return -EINVAL;
	void *res = NULL;
	int err = urio_pool_acquire(pp->pool, &res);
	*c = res;
	return err;
}

void urio_pg_pool_release(urio_pg_pool *pp, urio_pg *c, int err)
{
	if (!pp || !c)
		return;
	bool keep = urio_pg_ok(c) && (err >= 0 || err == -EREMOTEIO);
	urio_pool_release(pp->pool, c, keep ? 0 : -ECONNRESET);
}

void urio_pg_pool_free(urio_pg_pool *pp)
{
	if (!pp)
		return;
	urio_pool_free(pp->pool);
	free(pp->conninfo);
	free(pp);
}

urio_pool *urio_pg_pool_pool(urio_pg_pool *pp)
{
	return pp ? pp->pool : NULL;
}

/* --- transactions --------------------------------------------------------- */

static int txn_begin(urio_txn *t)
{
	urio_pg_txn *pt = (urio_pg_txn *)t;
	long r = urio_pg_exec(pt->c, pt->begin ? pt->begin : "BEGIN", 0, NULL);
	return r < 0 ? (int)r : 0;
}

static int txn_commit(urio_txn *t)
{
	urio_pg_txn *pt = (urio_pg_txn *)t;
	urio_pg *c = pt->c;
	/* COMMIT of an aborted transaction "succeeds" as a ROLLBACK */
	if (PQtransactionStatus(c->conn) == PQTRANS_INERROR)
		return -EREMOTEIO; /* sqlstate: the body's ignored error */
	PGresult *res;
	int err = urio_pg_query(c, "COMMIT", 0, NULL, &res);
	if (err < 0)
		return err;
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		err = -EREMOTEIO;
	PQclear(res);
	return err;
}

/* Runs shielded (urio_with's exit), bounded so that a server that stopped
 * answering cannot hold the task forever. */
static void txn_rollback(urio_txn *t, int err)
{
	(void)err;
	urio_pg *c = ((urio_pg_txn *)t)->c;
	if (c->broken || c->inflight || PQstatus(c->conn) != CONNECTION_OK ||
	    PQtransactionStatus(c->conn) == PQTRANS_IDLE)
		return; /* nothing open, or closing c rolls back */
	char state[sizeof(c->sqlstate)], msg[sizeof(c->msg)];
	memcpy(state, c->sqlstate, sizeof(state));
	memcpy(msg, c->msg, sizeof(msg));
	urio_deadline d;
	urio_timeout_enter(&d, URIO__PG_CLEANUP_MS);
	if (urio_pg_exec(c, "ROLLBACK", 0, NULL) < 0)
		c->broken = true;
	urio_timeout_exit(&d);
	/* the caller wants the error that caused the rollback */
	memcpy(c->sqlstate, state, sizeof(state));
	memcpy(c->msg, msg, sizeof(msg));
}

static const urio_txn_ops pg_txn_ops = {txn_begin, txn_commit, txn_rollback};

void urio_pg_txn_init(urio_pg_txn *t, urio_pg *c, const char *begin)
{
	if (!t)
		return;
	t->txn.ops = &pg_txn_ops;
	t->c = c;
	t->begin = begin;
}

struct transact {
	int (*body)(urio_pg *c, void *ctx);
	void *ctx;
};

static int transact_body(void *res, void *ctx)
{
	struct transact *x = ctx;
	return x->body(((urio_pg_txn *)res)->c, x->ctx);
}

int urio_pg_transact(urio_pg_pool *pp, int (*body)(urio_pg *c, void *ctx),
		     void *ctx)
{
	if (!pp || !body)
		return -EINVAL;
	urio_pg *c;
	int err = urio_pg_pool_acquire(pp, &c);
	if (err < 0)
		return err;
	urio_pg_txn t;
	struct transact x = {body, ctx};
	urio_pg_txn_init(&t, c, NULL);
	err = urio_with(&urio_txn_scope, &t, transact_body, &x);
	urio_pg_pool_release(pp, c, err);
	return err;
}
