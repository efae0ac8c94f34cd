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
	bool queued;              /* in the mux's queue, not sent */
	bool ended;               /* its results are read; its Sync is next */
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
