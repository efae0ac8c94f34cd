/* Internal to the HTTP client's pipelining: pipe.c queues and writes
 * requests, pipe_read.c reads the responses (see pipe.c). */
#ifndef URIO_HTTP_PIPE_H
#define URIO_HTTP_PIPE_H

#include <pthread.h>
#include <urio/future.h>

#include "client.h"

struct preq {
	struct preq *next;
	urio_http_response *r; /* receives the response */
	urio_future *f;        /* set once r is read (or err) */
	int err;
	bool retried;
	size_t max_body;
	size_t len;            /* of wire */
	char wire[];           /* the request, kept to send it again */
};

struct pconn {
	struct pconn *next;       /* the pipe's, until the reader ends */
	struct http_pipe *p;
	struct http_conn *c;
	urio_task *reader;
	struct preq *head, *tail; /* queued: responses due in this order */
	unsigned inflight;
	unsigned answered;        /* responses on c, before this lease too */
	bool accepting;           /* takes requests (counted in p->open) */
	bool writing;             /* a task is sending out */
	bool wfail;               /* a send failed */
	urio_future *wdone;       /* the reader waits for the writer */
	char *out, *spare;        /* to send; the writer's, being sent */
	size_t out_len, out_cap, spare_cap;
	char *carry;              /* received past the last response */
	size_t carry_len, carry_cap;
};

struct http_pipe {
	pthread_mutex_t mu;
	struct http_host *h;
	unsigned depth, max;
	struct pconn *conns;
	unsigned open, opening, readers;
	unsigned max_uses;        /* 0: unknown */
	urio_future *changed;     /* a connection opened or ended */
	urio_future *gone;        /* the last reader ended (freeing) */
	urio_sem room;
};

static inline void urio__pipe_lock(struct http_pipe *p)
{
	pthread_mutex_lock(&p->mu);
}

static inline void urio__pipe_unlock(struct http_pipe *p)
{
	pthread_mutex_unlock(&p->mu);
}

/* Sets f (a reference of one's own) and drops it; NULL is ignored. */
void urio__pipe_signal(urio_future *f);
/* Under the lock: a reference to the future in *slot, made if need be
 * (NULL: ENOMEM); it is set when what it marks happens. */
urio_future *urio__pipe_watch_locked(urio_future **slot);
/* Waits for a future of urio__pipe_watch_locked and drops it; shielded
 * when the caller holds what it waits for in hand. */
void urio__pipe_wait_free(urio_future *f, bool shield);
/* Under the lock: pc takes no more requests. */
void urio__pipe_stop_locked(struct pconn *pc);
/* *b of *cap bytes grown to hold need: 0 or -ENOMEM. */
int urio__pipe_grow(char **b, size_t *cap, size_t need);
/* q (holding a permit) leaves the pipeline with err: to its caller, or
 * freed if the caller left. */
void urio__pipe_finish(struct http_pipe *p, struct preq *q, int err);
/* Queues q (holding a permit) on a connection, opening one (fail_ns as
 * urio__http_acquire) if need be, and writes if nobody is: 0 or -errno. */
int urio__pipe_place(struct http_pipe *p, struct preq *q, uint64_t fail_ns);
/* The task reading a pipelined connection's responses. */
intptr_t urio__pipe_reader(void *arg);

#endif
