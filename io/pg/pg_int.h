/* Internal to urio-pg: the connection record and the waiting helpers the
 * query, row, pool and transaction files share. */
#ifndef URIO_PG_INT_H
#define URIO_PG_INT_H

#include <urio/pg.h>

/* Bound on shielded cleanup (a ROLLBACK, a server-side cancel) so a
 * cancelled task cannot hang on a server that stopped answering. */
#define URIO__PG_CLEANUP_MS 5000

struct urio_pg {
	PGconn *conn;
	bool inflight; /* a query's results are not all read */
	bool broken;   /* protocol state unknown: close it */
	char sqlstate[6];
	char msg[256];
};

/* Sends sql with p; in single-row mode if single. 0 or -errno. */
int urio__pg_send(urio_pg *c, const char *sql, const urio_pg_params *p,
		  bool single);
/* The next result of the query in flight into *res, NULL once all are
 * read (the query is then over). 0 or -errno; on a cancelled wait the
 * query is cancelled on the server and c left broken. */
int urio__pg_next(urio_pg *c, PGresult **res);
/* Reads and drops the results of the query in flight: 0, or the first
 * failure among them. */
int urio__pg_drain(urio_pg *c);
/* Records a failed result's SQLSTATE and message; returns -EREMOTEIO, or
 * -ECONNRESET if the connection went down with it. */
int urio__pg_result_error(urio_pg *c, const PGresult *res);
/* True if res is an error that ends the session (FATAL: the server is
 * shutting down, the backend was terminated): the connection is lost. */
bool urio__pg_fatal(const PGresult *res);
/* Sets errno on the thread running the task now: glibc's errno address
 * is a thread local that the compiler may keep across a suspension. */
void urio__pg_set_errno(int e);
/* Records libpq's connection error; marks c broken; returns -ECONNRESET. */
int urio__pg_lost(urio_pg *c);

#endif
