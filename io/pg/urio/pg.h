/* urio-pg: a PostgreSQL client on libpq's non-blocking API.
 *
 * libpq speaks the protocol; urio owns the waiting: every wait for the
 * socket (connecting, sending, reading results) is a urio_poll, so a task
 * waiting for the server parks and its worker runs other tasks. No blocking
 * libpq call runs on a worker (PQcancel, which blocks, goes to the offload
 * pool). A host name in conninfo is resolved by libpq itself, blocking:
 * prefer numeric addresses (hostaddr=) or local names.
 *
 * Errors are -errno: -EREMOTEIO for an error the server reported (its
 * SQLSTATE and message in urio_pg_sqlstate / urio_pg_error; the connection
 * stays usable), -ECONNRESET when the connection was lost (also when the
 * server ended the session with a FATAL error, whose SQLSTATE is kept:
 * 57P01 for a terminated backend), -ECANCELED when
 * the task was cancelled or a deadline fired during a query: the query is
 * then cancelled on the server (PQcancel) and the connection is left
 * broken, to be closed (a pool destroys it), never reused in an unknown
 * state. Call everything from tasks; one task at a time per connection. */
#ifndef URIO_PG_H
#define URIO_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <urio/iter.h>
#include <urio/pool.h>
#include <urio/txn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_pg urio_pg;

/* Connects with a libpq conninfo string ("host=... port=... dbname=...")
 * within timeout_ms (0: no limit of ours). 0 with *out set, -EINVAL (bad
 * conninfo), -ECONNREFUSED (the server refused or failed the connection),
 * -ETIMEDOUT, -ECANCELED, -ENOMEM. */
URIO_API int urio_pg_connect(urio_pg **out, const char *conninfo,
			     uint64_t timeout_ms);
/* urio_pg_connect that also puts libpq's reason for a failure in why (at
 * most why_len bytes, NUL-terminated; "" on success). */
URIO_API int urio_pg_connect_why(urio_pg **out, const char *conninfo,
				 uint64_t timeout_ms, char *why,
				 size_t why_len);
/* Closes the connection and frees c (NULL is ignored). */
URIO_API void urio_pg_close(urio_pg *c);
/* The libpq connection, for reading its state (PQserverVersion, ...). Do
 * not run queries on it directly. */
URIO_API PGconn *urio_pg_conn(const urio_pg *c);
/* True if c is connected, idle (no query or transaction open) and not
 * broken: fit to hand to another user. */
URIO_API bool urio_pg_ok(const urio_pg *c);
/* The SQLSTATE ("42601") of c's last failed call, "" if the server sent
 * none (a lost connection); and that failure's message ("" if none). */
URIO_API const char *urio_pg_sqlstate(const urio_pg *c);
URIO_API const char *urio_pg_error(const urio_pg *c);

/* Parameters of a query: n values, text unless formats says otherwise. */
typedef struct urio_pg_params {
	int n;
	const char *const *values; /* NULL entry: SQL NULL */
	const Oid *types;          /* may be NULL: the server infers them */
	const int *lengths;        /* byte lengths of binary values */
	const int *formats;        /* may be NULL: all text; 1 = binary */
	int result_format;         /* 0 text, 1 binary */
} urio_pg_params;

/* Runs sql with n text parameters ($1 ... $n; values may be NULL if n is
 * 0) and returns its whole result in *res (PQclear it): 0, -EREMOTEIO,
 * -ECONNRESET, -ECANCELED, -EBUSY (a row iterator is open on c), -EINVAL,
 * -ENOTCONN (c is broken), -ENOTSUP (COPY). */
URIO_API int urio_pg_query(urio_pg *c, const char *sql, int n,
			   const char *const *values, PGresult **res);
/* urio_pg_query with parameters of any format (p may be NULL). */
URIO_API int urio_pg_query_params(urio_pg *c, const char *sql,
				  const urio_pg_params *p, PGresult **res);
/* Runs a command and discards its result: the number of rows it affected
 * (0 for commands that report none), or an error as urio_pg_query. */
URIO_API long urio_pg_exec(urio_pg *c, const char *sql, int n,
			   const char *const *values);

/* A row of a row iterator: row `row` of res; valid until the next call of
 * next (copy what you keep). */
typedef struct urio_pg_row {
	PGresult *res;
	int row;
} urio_pg_row;

/* Column col of a row as text (binary results: its bytes), NULL for SQL
 * NULL or a column out of range. */
URIO_API const char *urio_pg_value(const urio_pg_row *r, int col);

/* The rows of sql as an iterator (<urio/iter.h>) whose items are
 * urio_pg_row *, read from the server one at a time (libpq's single-row
 * mode), so a large result never sits in memory whole. An error the
 * server reports (possibly after some rows) is returned once as an item
 * error (-EREMOTEIO), then the iterator ends. Closing it early reads and
 * drops the remaining rows. NULL with errno as urio_pg_query's error. */
URIO_API urio_iter *urio_pg_rows(urio_pg *c, const char *sql, int n,
				 const char *const *values);
URIO_API urio_iter *urio_pg_rows_params(urio_pg *c, const char *sql,
					const urio_pg_params *p);

/* --- transactions --------------------------------------------------------
 * BEGIN / COMMIT / ROLLBACK as a urio_txn (<urio/txn.h>): run it with
 * urio_with(&urio_txn_scope, &t, body, ctx). The body's failure, a
 * cancellation or a deadline rolls back; so does a COMMIT of a transaction
 * the server already aborted (an error the body ignored), reported as
 * -EREMOTEIO. A connection broken during the body is not rolled back by
 * hand: closing it makes the server roll back. */
typedef struct urio_pg_txn {
	urio_txn txn; /* first */
	/* private: */
	urio_pg *c;
	const char *begin;
} urio_pg_txn;

/* Prepares t for c; begin is the statement that opens it (NULL: "BEGIN";
 * e.g. "BEGIN ISOLATION LEVEL SERIALIZABLE"), kept by pointer. */
URIO_API void urio_pg_txn_init(urio_pg_txn *t, urio_pg *c, const char *begin);

/* --- pool ------------------------------------------------------------------
 * Connections to one server on urio_pool (<urio/pool.h>). An idle
 * connection is checked before reuse (still connected: a server that went
 * away is noticed, and the connection destroyed and replaced). */
typedef struct urio_pg_pool urio_pg_pool;

/* A pool of connections made with conninfo (copied) and connect_timeout_ms
 * as urio_pg_connect, limits in opts (may be NULL). Call from a task. NULL
 * with errno EINVAL, EPERM (not in a task), ENOMEM. */
URIO_API urio_pg_pool *urio_pg_pool_new(const char *conninfo,
					uint64_t connect_timeout_ms,
					const urio_pool_opts *opts);
/* Leases a connection into *c: 0, or as urio_pool_acquire (the connect's
 * error, -ETIMEDOUT, -ECANCELED, -ESHUTDOWN, ...). */
URIO_API int urio_pg_pool_acquire(urio_pg_pool *pp, urio_pg **c);
/* Returns c. It is destroyed unless it is fit for reuse (urio_pg_ok) and
 * err is >= 0 or a server error (-EREMOTEIO), which leaves it usable. */
URIO_API void urio_pg_pool_release(urio_pg_pool *pp, urio_pg *c, int err);
/* Waits for the leases still out, closes every connection, frees pp. */
URIO_API void urio_pg_pool_free(urio_pg_pool *pp);
/* The generic pool underneath (stats). */
URIO_API urio_pool *urio_pg_pool_pool(urio_pg_pool *pp);

/* Leases a connection, runs body(c, ctx) in a transaction on it (commit on
 * >= 0, rollback otherwise) and releases it. Returns body's result, or the
 * first error among acquire, BEGIN, body and COMMIT. */
URIO_API int urio_pg_transact(urio_pg_pool *pp,
			      int (*body)(urio_pg *c, void *ctx), void *ctx);

/* --- shared, pipelined connections -----------------------------------------
 * For many tasks running short queries: conns connections shared by all,
 * each in libpq's pipeline mode, so queries of many tasks travel to the
 * server back to back instead of each waiting for a lease. Queries wait in
 * one queue, in arrival order, and each connection takes from it when it
 * has room (a bounded number in flight), so a slow connection delays few.
 * A query is not in a transaction with any other (use the pool for
 * transactions and for row iterators).
 *
 * Cancellation (urio_cancel, a deadline): the task gets -ECANCELED at
 * once. A query still queued is taken back, never sent; one already sent
 * runs to its end on the server, its result is read and dropped, and the
 * connection stays in step. The server is not asked to cancel it (PQcancel
 * stops whatever the connection runs then, maybe another task's query):
 * run long queries on the pool, whose cancel reaches the server.
 *
 * A lost connection (server restart, network error) fails the queries
 * sent on it with -ECONNRESET (they may or may not have run) and is
 * replaced in the background, retrying with a backoff of up to a second;
 * queued queries go to the other connections. While no connection is up,
 * queries fail at once with -ENOTCONN. */
typedef struct urio_pg_mux urio_pg_mux;

/* Connects conns connections (1..1024) with conninfo (copied, also used
 * to reconnect), each within connect_timeout_ms, and starts their tasks.
 * Call from a task. NULL with errno EINVAL, ENOMEM, or the first connect's
 * error. */
URIO_API urio_pg_mux *urio_pg_mux_new(const char *conninfo, unsigned conns,
				      uint64_t connect_timeout_ms);
/* Runs sql with n text parameters on one of m's connections: as
 * urio_pg_query (0 with *res), except that a server error returns
 * -EREMOTEIO with the error's result in *res (PQresultErrorField gives
 * its SQLSTATE; PQclear it), -ENOTCONN while no connection is up, and
 * -ESHUTDOWN once m is being freed. sql and p are read until it returns. */
URIO_API int urio_pg_mux_query(urio_pg_mux *m, const char *sql, int n,
			       const char *const *values, PGresult **res);
URIO_API int urio_pg_mux_query_params(urio_pg_mux *m, const char *sql,
				      const urio_pg_params *p,
				      PGresult **res);
/* Prepares, on each connection, each SQL text run there (with parameter
 * types left to the server) the first time, and runs it later by name,
 * so the server does not parse and plan it again (as asyncpg does): up to
 * max texts per connection (0..4096; 0, the default: none), the others
 * sent unnamed. Call once, before the first query: 0, -EINVAL, -EBUSY. A
 * text whose meaning changes under it (a table altered) may then fail
 * where an unnamed one would not. */
URIO_API int urio_pg_mux_cache_statements(urio_pg_mux *m, unsigned max);
/* Stops the connections' tasks (queries still waiting get -ESHUTDOWN),
 * closes the connections and frees m (NULL is ignored). Call from a task,
 * once no task is about to start a query on m. */
URIO_API void urio_pg_mux_free(urio_pg_mux *m);

#ifdef __cplusplus
}
#endif
#endif
