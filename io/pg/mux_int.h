/* Internal to urio-pg's shared, pipelined connections (mux.c: the queue
 * and the query calls; mux_conn.c: each connection's life). */
#ifndef URIO_PG_MUX_INT_H
#define URIO_PG_MUX_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <urio/future.h>
#include "pg_int.h"

/* Queries in flight per connection: enough to keep a backend busy while
 * its results travel back, few enough that a stall delays few. */
#define MUX_DEPTH 16
#define MUX_NO_PREP (-1)
#define MUX_PREP_READ (-2)
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
	int prep;                 /* the statement slot its Prepare fills,
				     MUX_PREP_READ once that result is read
				     (its end is due), or MUX_NO_PREP */
	bool queued;              /* in the mux's queue, not sent */
	bool ended;               /* its results are read; its Sync is next */
};

/* A statement prepared on one connection for an SQL text run there. */
struct mstmt {
	char *sql;   /* NULL: a free slot */
	uint64_t hash;
	bool ready;  /* the server accepted it; until then, sent unnamed */
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
	struct mstmt *stmts; /* m->cache_max slots, once a query used one */
	unsigned nstmts;     /* slots in use or freed */
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
	unsigned cache_max; /* statements prepared per connection */
	bool started;       /* a query was submitted */
	atomic_uint inside; /* tasks in urio_pg_mux_query_params */
	char *conninfo;
	uint64_t connect_timeout_ms;
	unsigned n;
	struct mconn *c;
};

static inline void done_add(struct done *d, struct mreq *q)
{
	q->next = NULL;
	*d->tail = q;
	d->tail = &q->next;
}


static inline void fifo_unlink(urio_pg_mux *m, struct mreq *q)
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


/* Appends q's query and a Sync to mc's output, as a prepared statement if
 * cache_max allows. 0, -EINVAL (libpq refused the query), -ECONNRESET
 * (the connection is lost, q not sent) or -EPIPE (lost, q maybe sent).
 * Under mc->mu and m->mu. */
int urio__mux_send(struct mconn *mc, struct mreq *q, unsigned cache_max);
/* The result r of the Prepare for slot: 0 (consumed), or 1 if r is an
 * error for the caller to record (the slot is freed). Under mc->mu. */
int urio__mux_prepared(struct mconn *mc, int slot, PGresult *r);
/* Forgets mc's statements (a new connection has none). Under mc->mu. */
void urio__mux_stmts_clear(struct mconn *mc);

/* Completes every request of d (drop the locks first). */
void urio__mux_complete(struct done *d);
/* Fails every queued request with err. Under m->mu. */
void urio__mux_fail_queue(urio_pg_mux *m, int err, struct done *d);
/* mc's connection is lost: its sent requests go to d with err. Under
 * mc->mu. */
void urio__mux_lose(struct mconn *mc, int err, struct done *d);
/* Sends the queue's head on mc while mc has room. Under mc->mu. */
void urio__mux_take(struct mconn *mc, struct done *d);
/* Pushes out what the socket takes now (mc->out: some is left). Under
 * mc->mu. */
void urio__mux_flush_now(struct mconn *mc, struct done *d);
/* Waits until mc's output is out, shielded and bounded. */
void urio__mux_flush_wait(struct mconn *mc);
/* Makes a new connection for mc and puts it to work. 0 or -errno. */
int urio__mux_connect(struct mconn *mc);
/* The task of mc's connection: serves it, replaces it when lost. */
intptr_t urio__mux_conn_task(void *arg);

#endif
