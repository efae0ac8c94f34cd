/* Bounded MPMC channel of fixed-size items.
 *
 * A ring of capacity items under one spinlock, with a FIFO queue of waiting
 * senders and one of waiting receivers. A waiter is never handed an item or
 * a slot it must give back by copying: it is granted a reservation (an item
 * in the ring kept for it, or a free slot kept for it), counted in rsv_recv
 * / rsv_send, which newcomers cannot take (no barging), and it does the copy
 * itself when it runs. A waiter that resumes to find itself cancelled drops
 * its reservation and passes it to the next waiter of its kind, so a cancel
 * or timeout never loses or duplicates an item.
 *
 * Close: waiting senders get -EPIPE, and so does a sender woken with a slot
 * it has not filled yet; receivers take what is in the ring, then get 0
 * once it is empty (not while an item is still kept for a woken receiver,
 * which may yet give it up). */
#include <errno.h>
#include <string.h>
#include <urio/sync.h>

#include "waitq.h"

/* receivers' grants */
enum { R_EOF = 0, R_ITEM = 1 };

struct urio_chan {
	urio__spin lock;
	bool closed;
	size_t item_size, cap;
	size_t head, count;
	size_t rsv_recv; /* queued items kept for woken receivers */
	size_t rsv_send; /* free slots kept for woken senders */
	struct urio__waitq senders, receivers;
	char *buf;
};

urio_chan *urio_chan_new(size_t item_size, size_t capacity)
{
	if (!item_size || !capacity || capacity > SIZE_MAX / item_size) {
		errno = EINVAL;
		return NULL;
	}
	urio_chan *c = urio__calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->buf = urio__malloc(item_size * capacity);
	if (!c->buf) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	atomic_flag_clear(&c->lock.f);
	c->item_size = item_size;
	c->cap = capacity;
	return c;
}

void urio_chan_free(urio_chan *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c);
}

/* --- under the lock ------------------------------------------------------ */

static size_t free_slots(const urio_chan *c)
{
	return c->cap - c->count - c->rsv_send;
}

static size_t free_items(const urio_chan *c)
{
	return c->count - c->rsv_recv;
}

static void put(urio_chan *c, const void *item)
{
	size_t tail = (c->head + c->count) % c->cap;
	memcpy(c->buf + tail * c->item_size, item, c->item_size);
	c->count++;
}

static void take(urio_chan *c, void *item)
{
	memcpy(item, c->buf + c->head * c->item_size, c->item_size);
	c->head = (c->head + 1) % c->cap;
	c->count--;
}

/* Hands out what free items and slots there are to queued waiters. Also
 * the settle hook: a waiter that left may have held the queue up. */
static void match(void *prim, struct urio__wakes *wk)
{
	urio_chan *c = prim;
	while (free_items(c) && urio__waitq_grant(&c->receivers, wk, R_ITEM))
		c->rsv_recv++;
	while (free_slots(c) && urio__waitq_grant(&c->senders, wk, 0))
		c->rsv_send++;
	/* closed and empty: what waits for an item waits in vain. Not
	 * before: a reserved item whose receiver gives up goes to them */
	if (c->closed && !c->count)
		urio__waitq_grant_all(&c->receivers, wk, R_EOF);
}

/* --- send ---------------------------------------------------------------- */

static int try_send(urio_chan *c, const void *item, struct urio__wakes *wk)
{
	if (c->closed)
		return -EPIPE;
	if (!free_slots(c) || !urio__waitq_empty(&c->senders))
		return -EAGAIN;
	put(c, item);
	match(c, wk);
	return 0;
}

int urio_chan_try_send(urio_chan *c, const void *item)
{
	if (!c || !item)
		return -EINVAL;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&c->lock);
	int r = try_send(c, item, &wk);
	urio__spin_unlock(&c->lock);
	urio__wakes_run(&wk);
	return r;
}

struct req {
	urio_chan *c;
	void *item;
};

static int send_slow(void *arg, uint64_t deadline_ns)
{
	struct req *q = arg;
	urio_chan *c = q->c;
	struct urio__waiter w;
	struct urio__wakes wk = {NULL};
	int r = urio__waiter_init(&w, "chan_send", &c->lock, &c->senders,
				  match, c);
	if (r < 0)
		return r;
	urio__spin_lock(&c->lock);
	r = try_send(c, q->item, &wk);
	if (r == -EAGAIN && urio__waiter_cancelled(&w))
		r = -ECANCELED;
	if (r != -EAGAIN) {
		urio__spin_unlock(&c->lock);
		urio__waiter_abort(&w);
		urio__wakes_run(&wk);
		return r;
	}
	r = urio__waitq_park(&w, deadline_ns);
	if (r < 0)
		return r; /* -EPIPE (closed), -ECANCELED, -ETIMEDOUT */
	/* a slot is kept for us: fill it, or hand it on */
	urio__spin_lock(&c->lock);
	c->rsv_send--;
	if (c->closed) {
		r = -EPIPE;
	} else if (urio__waiter_cancelled(&w)) {
		r = -ECANCELED;
	} else {
		put(c, q->item);
		r = 0;
	}
	match(c, &wk);
	urio__spin_unlock(&c->lock);
	urio__wakes_run(&wk);
	return r;
}

int urio_chan_send(urio_chan *c, const void *item)
{
	int r = urio_chan_try_send(c, item);
	if (r != -EAGAIN)
		return r;
	struct req q = {c, (void *)item};
	return send_slow(&q, 0);
}

int urio_chan_send_timeout(urio_chan *c, const void *item, uint64_t ms)
{
	int r = urio_chan_try_send(c, item);
	if (r != -EAGAIN)
		return r;
	if (!ms)
		return -ETIMEDOUT;
	struct req q = {c, (void *)item};
	return urio__wait_timed(send_slow, &q, ms);
}

/* --- receive ------------------------------------------------------------- */

static int try_recv(urio_chan *c, void *item, struct urio__wakes *wk)
{
	if (!free_items(c) || !urio__waitq_empty(&c->receivers))
		return c->closed && !c->count ? R_EOF : -EAGAIN;
	take(c, item);
	match(c, wk);
	return R_ITEM;
}

int urio_chan_try_recv(urio_chan *c, void *item)
{
	if (!c || !item)
		return -EINVAL;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&c->lock);
	int r = try_recv(c, item, &wk);
	urio__spin_unlock(&c->lock);
	urio__wakes_run(&wk);
	return r;
}

static int recv_slow(void *arg, uint64_t deadline_ns)
{
	struct req *q = arg;
	urio_chan *c = q->c;
	struct urio__waiter w;
	struct urio__wakes wk = {NULL};
	int r = urio__waiter_init(&w, "chan_recv", &c->lock, &c->receivers,
				  match, c);
	if (r < 0)
		return r;
	urio__spin_lock(&c->lock);
	r = try_recv(c, q->item, &wk);
	if (r == -EAGAIN && urio__waiter_cancelled(&w))
		r = -ECANCELED;
	if (r != -EAGAIN) {
		urio__spin_unlock(&c->lock);
		urio__waiter_abort(&w);
		urio__wakes_run(&wk);
		return r;
	}
	r = urio__waitq_park(&w, deadline_ns);
	if (r != R_ITEM)
		return r; /* R_EOF (closed and drained), -ECANCELED, -ETIMEDOUT */
	/* an item is kept for us: take it, or hand it on */
	urio__spin_lock(&c->lock);
	c->rsv_recv--;
	if (urio__waiter_cancelled(&w)) {
		r = -ECANCELED;
	} else {
		take(c, q->item);
		r = R_ITEM;
	}
	match(c, &wk);
	urio__spin_unlock(&c->lock);
	urio__wakes_run(&wk);
	return r;
}

int urio_chan_recv(urio_chan *c, void *item)
{
	int r = urio_chan_try_recv(c, item);
	if (r != -EAGAIN)
		return r;
	struct req q = {c, item};
	return recv_slow(&q, 0);
}

int urio_chan_recv_timeout(urio_chan *c, void *item, uint64_t ms)
{
	int r = urio_chan_try_recv(c, item);
	if (r != -EAGAIN)
		return r;
	if (!ms)
		return -ETIMEDOUT;
	struct req q = {c, item};
	return urio__wait_timed(recv_slow, &q, ms);
}

/* --- close and length ---------------------------------------------------- */

int urio_chan_close(urio_chan *c)
{
	if (!c)
		return -EINVAL;
	struct urio__wakes wk = {NULL};
	urio__spin_lock(&c->lock);
	bool was = c->closed;
	c->closed = true;
	urio__waitq_grant_all(&c->senders, &wk, -EPIPE);
	match(c, &wk);
	urio__spin_unlock(&c->lock);
	urio__wakes_run(&wk);
	return was ? -EALREADY : 0;
}

size_t urio_chan_len(urio_chan *c)
{
	if (!c)
		return 0;
	urio__spin_lock(&c->lock);
	size_t n = c->count;
	urio__spin_unlock(&c->lock);
	return n;
}

static unsigned waiting(urio_chan *c, struct urio__waitq *q)
{
	urio__spin_lock(&c->lock);
	unsigned n = urio__waitq_len(q);
	urio__spin_unlock(&c->lock);
	return n;
}

unsigned urio_chan_senders(urio_chan *c)
{
	return c ? waiting(c, &c->senders) : 0;
}

unsigned urio_chan_receivers(urio_chan *c)
{
	return c ? waiting(c, &c->receivers) : 0;
}
