/* Queries: a whole result, a command's row count, and rows one at a time.
 *
 * Every query goes through the extended protocol (PQsendQueryParams), so a
 * query is one statement and its parameters never meet the SQL text. Rows
 * are streamed with libpq's single-row mode: each row arrives as its own
 * small result, and the iterator hands them out as they are read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pg_int.h"

/* Reads every result of the query in flight; keeps the last good one in
 * *res and returns 0, or the first failure (no *res). */
static int collect(urio_pg *c, PGresult **res)
{
	PGresult *keep = NULL;
	int err = 0;
	for (;;) {
		PGresult *r;
		int e = urio__pg_next(c, &r);
		if (e < 0) {
			err = err ? err : e;
			break;
		}
		if (!r)
			break;
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			PQclear(keep);
			keep = r;
			continue;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			/* no COPY data calls here: the stream is out of step */
			PQclear(r);
			c->broken = true;
			err = -ENOTSUP;
			goto out;
		default:
			if (!err)
				err = urio__pg_result_error(c, r);
			PQclear(r);
		}
	}
out:
	if (err < 0) {
		PQclear(keep);
		keep = NULL;
	}
	*res = keep;
	return err;
}

int urio_pg_query_params(urio_pg *c, const char *sql, const urio_pg_params *p,
			 PGresult **res)
{
	if (!res)
		return -EINVAL;
	*res = NULL;
	int err = urio__pg_send(c, sql, p, false);
	if (err < 0)
		return err;
	return collect(c, res);
}

int urio_pg_query(urio_pg *c, const char *sql, int n,
		  const char *const *values, PGresult **res)
{
	urio_pg_params p = {.n = n, .values = values};
	return urio_pg_query_params(c, sql, &p, res);
}

long urio_pg_exec(urio_pg *c, const char *sql, int n,
		  const char *const *values)
{
	PGresult *res;
	int err = urio_pg_query(c, sql, n, values, &res);
	if (err < 0)
		return err;
	long rows = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rows;
}

const char *urio_pg_value(const urio_pg_row *r, int col)
{
	if (!r || !r->res || col < 0 || col >= PQnfields(r->res) ||
	    r->row < 0 || r->row >= PQntuples(r->res) ||
	    PQgetisnull(r->res, r->row, col))
		return NULL;
	return PQgetvalue(r->res, r->row, col);
}

/* --- rows ----------------------------------------------------------------- */

struct rows {
	urio_iter it; /* first */
	urio_pg *c;
	PGresult *cur; /* the row handed out last */
	urio_pg_row row;
	bool done;
};

static int rows_next(urio_iter *it, void **item)
{
	struct rows *rs = (struct rows *)it;
	urio_pg *c = rs->c;
	PQclear(rs->cur);
	rs->cur = NULL;
	while (!rs->done) {
		PGresult *r;
		int err = urio__pg_next(c, &r);
		if (err < 0 || !r) {
			rs->done = true;
			return err;
		}
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			rs->cur = r;
			rs->row = (urio_pg_row){r, 0};
			*item = &rs->row;
			return 1;
		case PGRES_TUPLES_OK: /* the end marker, or a command's result */
		case PGRES_COMMAND_OK:
		case PGRES_EMPTY_QUERY:
			PQclear(r);
			continue;
		default:
			err = PQresultStatus(r) == PGRES_FATAL_ERROR
				      ? urio__pg_result_error(c, r)
				      : -ENOTSUP;
			PQclear(r);
			if (err == -ENOTSUP)
				c->broken = true; /* COPY: out of step */
			else
				err = urio__pg_drain(c) == -ECONNRESET
					      ? -ECONNRESET
					      : err;
			rs->done = true;
			return err;
		}
	}
	return 0;
}

static void rows_close(urio_iter *it)
{
	struct rows *rs = (struct rows *)it;
	PQclear(rs->cur);
	if (!rs->done && !rs->c->broken)
		urio__pg_drain(rs->c);
	free(rs);
}

static const urio_iter_ops rows_ops = {rows_next, rows_close};

urio_iter *urio_pg_rows_params(urio_pg *c, const char *sql,
			       const urio_pg_params *p)
{
	struct rows *rs = calloc(1, sizeof(*rs));
	if (!rs) {
		urio__pg_set_errno(ENOMEM);
		return NULL;
	}
	int err = urio__pg_send(c, sql, p, true);
	if (err < 0) {
		free(rs);
		urio__pg_set_errno(-err);
		return NULL;
	}
	rs->it.ops = &rows_ops;
	rs->c = c;
	return &rs->it;
}

urio_iter *urio_pg_rows(urio_pg *c, const char *sql, int n,
			const char *const *values)
{
	urio_pg_params p = {.n = n, .values = values};
	return urio_pg_rows_params(c, sql, &p);
}
