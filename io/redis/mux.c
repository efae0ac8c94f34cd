/* urio_redis_pool_command: concurrent callers' commands batched onto the
 * pool's connections (automatic pipelining, as ioredis and redis-rs do).
 *
 * A lease per command costs a round trip per command per connection, so
 * P connections serve at most P commands per round trip however many
 * callers wait. Here callers queue their formatted command; up to P of
 * them at a time are combiners: each leases a connection, takes the queue
 * (up to BATCH), sends it in one write, reads the replies in order and
 * hands each to its caller. A combiner whose own reply has come passes the
 * role on to the oldest waiting caller (or gives it up if the queue is
 * empty), so nobody serves others for long and no command is stranded:
 * the role is dropped only under the queue's lock, with the queue empty.
 *
 * A request is shared by its caller and the combiner that took it
 * (reference counted): a caller cancelled while its command is in flight
 * leaves, and the combiner frees the request after reading its reply, so
 * the connection stays in step. A combiner's batch I/O runs shielded
 * (others' commands ride on it) within BATCH_TIMEOUT_MS. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <urio/scope.h>
#include <urio/sync.h>

#include "internal.h"

#define BATCH 128
#define BATCH_TIMEOUT_MS 10000

struct mreq {
	struct mreq *next;
	char *cmd;
	size_t len;
	redisReply *reply;
	int err;
	atomic_int refs;
	atomic_bool done;
	bool queued;   /* under the lock */
	bool promoted; /* under the lock: the caller is to combine */
	urio_sem sem;  /* done or promoted */
};

static void put(struct mreq *r)
{
	/* acq_rel: the last owner sees the other's writes before freeing */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
		redisFreeCommand(r->cmd);
		urio_redis_reply_free(r->reply);
		free(r);
	}
}

static void lock(urio_redis_mux *m)
{
	pthread_mutex_lock(&m->lock);
}

static void unlock(urio_redis_mux *m)
{
	pthread_mutex_unlock(&m->lock);
}

/* Under the lock: passes the combiner role to the oldest waiting caller,
 * or drops it when none is waiting. The promoted request in *wake (with a
 * reference) is signalled after unlocking. */
static void hand_off_locked(urio_redis_mux *m, struct mreq **wake)
{
	*wake = m->head;
	if (!m->head) {
		m->combiners--;
		return;
	}
	m->head->promoted = true;
	atomic_fetch_add_explicit(&m->head->refs, 1, memory_order_relaxed);
}

static void wake(struct mreq *r)
{
	if (r) {
		urio_sem_release(&r->sem);
		put(r);
	}
}

/* Takes up to BATCH requests off the queue (each keeps the queue's
 * reference, now the combiner's). */
static struct mreq *take(urio_redis_mux *m, unsigned *n)
{
	struct mreq *first = m->head, *last = NULL, *r = first;
	*n = 0;
	for (; r && *n < BATCH; r = r->next, (*n)++) {
		r->queued = false;
		last = r;
	}
	if (last) {
		m->head = last->next;
		if (!m->head)
			m->tail = NULL;
		last->next = NULL;
	}
	return first;
}

static void complete(struct mreq *r, redisReply *reply, int err)
{
	r->reply = reply;
	r->err = err;
	atomic_store_explicit(&r->done, true, memory_order_release);
	urio_sem_release(&r->sem);
	put(r);
}

/* Sends a batch on c and completes each request with its reply, or with
 * the error that broke c. */
static void run_batch(urio_redis *c, struct mreq *batch)
{
	int err = 0, terr = 0;
	urio_shield sh;
	urio_shield_enter(&sh);
	for (struct mreq *r = batch; r && err == 0; r = r->next)
		err = urio__redis_push(c, r->cmd, r->len);
	if (err < 0)
		urio__redis_break(c, err);
	URIO_TIMEOUT(terr, BATCH_TIMEOUT_MS)
	{
		if (err == 0)
			err = urio__redis_send(c);
		for (struct mreq *r = batch, *next; r; r = next) {
			next = r->next;
			redisReply *reply = NULL;
			if (err == 0)
				err = urio__redis_read(c, &reply);
			if (err == 0) {
				c->pending--;
				complete(r, reply, reply->type ==
							   REDIS_REPLY_ERROR
						   ? -EREMOTEIO
						   : 0);
			} else {
				complete(r, NULL, err);
			}
		}
	}
	if (terr < 0)
		urio__redis_break(c, terr);
	urio_shield_exit(&sh);
}

/* Fails a batch that found no connection. */
static void fail_batch(struct mreq *batch, int err)
{
	for (struct mreq *r = batch, *next; r; r = next) {
		next = r->next;
		complete(r, NULL, err);
	}
}

/* The combiner's loop: until own is done, then the role is handed on. */
static void combine(urio_redis_pool *p, urio_redis_mux *m, struct mreq *own)
{
	urio_redis *c = NULL;
	int err = urio_redis_pool_acquire(p, &c);
	struct mreq *next = NULL;
	for (;;) {
		unsigned n;
		lock(m);
		if (err == -ECANCELED || urio_cancelled() ||
		    atomic_load_explicit(&own->done, memory_order_acquire) ||
		    !m->head) {
			hand_off_locked(m, &next);
			unlock(m);
			break;
		}
		struct mreq *batch = take(m, &n);
		unlock(m);
		if (err < 0) /* no connection to be had: their error too */
			fail_batch(batch, err);
		else
			run_batch(c, batch);
	}
	if (c)
		urio_redis_pool_release(p, c, urio_redis_error(c));
	wake(next);
}

/* The caller gives up (cancelled): unqueues its request if still queued,
 * passes on a combiner role it was given. */
static void abandon(urio_redis_mux *m, struct mreq *r)
{
	struct mreq *next = NULL;
	lock(m);
	if (r->queued) {
		struct mreq **pp = &m->head, *prev = NULL;
		while (*pp != r) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = r->next;
		if (m->tail == r)
			m->tail = prev;
		r->queued = false;
		atomic_fetch_sub_explicit(&r->refs, 1, memory_order_relaxed);
	}
	if (r->promoted) {
		r->promoted = false;
		hand_off_locked(m, &next);
	}
	unlock(m);
	wake(next);
}

int urio__redis_mux_command(urio_redis_pool *p, urio_redis_mux *m,
			    redisReply **reply, int argc,
			    const char *const *argv, const size_t *lens)
{
	if (urio_cancelled())
		return -ECANCELED;
	struct mreq *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int len = urio__redis_format(argc, argv, lens, &r->cmd);
	if (len < 0) {
		free(r);
		return len;
	}
	r->len = (size_t)len;
	atomic_init(&r->refs, 2); /* the caller's, the queue's */
	urio_sem_init(&r->sem, 0);
	lock(m);
	r->queued = true;
	if (m->tail)
		m->tail->next = r;
	else
		m->head = r;
	m->tail = r;
	bool lead = m->combiners < m->max;
	m->combiners += lead;
	unlock(m);
	int err = 0;
	for (;;) {
		if (lead)
			combine(p, m, r);
		if (atomic_load_explicit(&r->done, memory_order_acquire))
			break;
		err = urio_sem_acquire(&r->sem);
		/* A free permit is taken without suspending, also when we are
		 * cancelled: leave here, or a role handed to the queue's head,
		 * which may be our own request (combine does so when
		 * cancelled), comes back to us round and round, never
		 * suspending. */
		if (!err && urio_cancelled() &&
		    !atomic_load_explicit(&r->done, memory_order_acquire))
			err = -ECANCELED;
		if (err < 0) {
			abandon(m, r);
			put(r);
			return err;
		}
		lock(m);
		lead = r->promoted;
		r->promoted = false;
		unlock(m);
	}
	err = r->err;
	if (reply) {
		*reply = r->reply;
		r->reply = NULL;
	}
	put(r);
	return err;
}

int urio__redis_mux_init(urio_redis_mux *m, unsigned max)
{
	m->head = m->tail = NULL;
	m->combiners = 0;
	m->max = max ? max : 16;
	return -pthread_mutex_init(&m->lock, NULL);
}

void urio__redis_mux_destroy(urio_redis_mux *m)
{
	pthread_mutex_destroy(&m->lock);
}
