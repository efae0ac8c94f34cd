/* A mux connection's prepared statements, as asyncpg keeps them: the first
 * time an SQL text (with server-inferred parameter types) is sent on a
 * connection it is prepared under a name of its own, and later runs send
 * only the name and the values, so the server neither parses nor plans
 * it again. At most cache_max per connection; once full, new texts go
 * unnamed (libpq 15 cannot close a statement without a query of its own).
 * Until the server accepts a Prepare, its text goes unnamed too, so a
 * text the server rejects fails with its own error every time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mux_int.h"

static uint64_t hash_sql(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static void stmt_name(char *buf, size_t len, int slot)
{
	snprintf(buf, len, "urio_mux_%d", slot);
}

/* sql's slot (*ready if prepared), or a new slot it now holds, or -1. */
static int stmt_find(struct mconn *mc, const char *sql, unsigned max,
		     bool *ready)
{
	uint64_t h = hash_sql(sql);
	int free_slot = -1;
	*ready = false;
	for (unsigned i = 0; i < mc->nstmts; i++) {
		struct mstmt *s = &mc->stmts[i];
		if (!s->sql) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if (s->hash == h && !strcmp(s->sql, sql)) {
			*ready = s->ready;
			return s->ready ? (int)i : -1; /* pending: unnamed */
		}
	}
	if (free_slot < 0 && mc->nstmts < max) {
		if (!mc->stmts && !(mc->stmts = calloc(max, sizeof(*mc->stmts))))
			return -1;
		free_slot = (int)mc->nstmts++;
	}
	if (free_slot < 0 || !(mc->stmts[free_slot].sql = strdup(sql)))
		return -1;
	mc->stmts[free_slot].hash = h;
	mc->stmts[free_slot].ready = false;
	return free_slot;
}

static void stmt_drop(struct mconn *mc, int slot)
{
	free(mc->stmts[slot].sql);
	mc->stmts[slot].sql = NULL;
}

int urio__mux_send(struct mconn *mc, struct mreq *q, unsigned cache_max)
{
	const urio_pg_params *p = q->p;
	bool ready = false;
	int slot = cache_max && !p->types ? stmt_find(mc, q->sql, cache_max,
						       &ready)
					  : -1;
	char name[32];
	int ok;
	q->prep = MUX_NO_PREP;
	if (slot >= 0) {
		stmt_name(name, sizeof(name), slot);
		if (!ready && !PQsendPrepare(mc->conn, name, q->sql, p->n,
					     NULL)) {
			stmt_drop(mc, slot);
			return PQstatus(mc->conn) == CONNECTION_OK ? -EINVAL
								   : -ECONNRESET;
		}
		ok = PQsendQueryPrepared(mc->conn, name, p->n, p->values,
					 p->lengths, p->formats,
					 p->result_format);
		if (!ready) {
			q->prep = slot;
			if (!ok) /* a Prepare without its query and Sync */
				return -EPIPE;
		}
	} else {
		ok = PQsendQueryParams(mc->conn, q->sql, p->n, p->types,
				       p->values, p->lengths, p->formats,
				       p->result_format);
	}
	if (!ok)
		return PQstatus(mc->conn) == CONNECTION_OK ? -EINVAL
							   : -ECONNRESET;
	if (!PQpipelineSync(mc->conn))
		return -EPIPE; /* the query is queued: the stream is lost */
	return 0;
}

int urio__mux_prepared(struct mconn *mc, int slot, PGresult *r)
{
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		mc->stmts[slot].ready = true;
		PQclear(r);
		return 0;
	}
	stmt_drop(mc, slot);
	return 1;
}

void urio__mux_stmts_clear(struct mconn *mc)
{
	for (unsigned i = 0; i < mc->nstmts; i++)
		stmt_drop(mc, (int)i);
	mc->nstmts = 0;
}

int urio_pg_mux_cache_statements(urio_pg_mux *m, unsigned max)
{
	if (!m || max > 4096)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	int err = m->cache_max || m->started ? -EBUSY : 0;
	if (!err)
		m->cache_max = max;
	pthread_mutex_unlock(&m->mu);
	return err;
}
