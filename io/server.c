/* A server: listeners, an accept task per listener that spawns a task per
 * connection, and a drain that stops accepting, gives the connections a
 * grace period, then cancels the rest.
 *
 * Connections are kept in a list under a spinlock so a drain can cancel
 * them; each connection task unlinks itself when its body returns. The
 * task handle is stored after the spawn, which may already have run the
 * whole connection on another worker: whichever of the two comes second
 * (the spawner storing the handle, the task finishing) detaches and frees.
 *
 * Accept errors: EMFILE / ENFILE (no fd), ENOBUFS / ENOMEM (no memory) and
 * a failed spawn pause the accept task briefly (libuv and Go do the same):
 * retrying at once would spin, as the pending connection stays queued and
 * the error repeats until some connection closes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urio/future.h>
#include <urio/io.h>
#include <urio/scope.h>
#include <urio/server.h>

#include "accept.h"

#define BACKOFF_MS 10

struct conn {
	struct conn *prev, *next;
	urio_server *s;
	urio_task *task; /* NULL until the spawner stored it */
	int fd;
	bool done;
};

struct urio_server {
	urio_server_opts o;
	unsigned nl;
	struct urio__acceptor *ls;
	urio_task **acceptors;
	int port;
	bool started, drained;

	urio__spin lock; /* conns, active, idle */
	struct conn *conns;
	uint64_t active;
	urio_future *idle; /* set once active drops to 0 while draining */

	_Atomic uint64_t accepted, conn_errors, accept_errors, backoffs;
};

urio_server *urio_server_new(const urio_server_opts *o)
{
	if (!o || !o->conn || o->backlog < 0 || o->listeners > 1024 ||
	    (o->flags & ~URIO_SERVER_SINGLE_ACCEPT)) {
		errno = EINVAL;
		return NULL;
	}
	urio_server *s = urio__calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *o;
	s->nl = o->listeners ? o->listeners : 1;
	s->ls = urio__calloc(s->nl, sizeof(*s->ls));
	/* before any failure: free closes only what was opened, never fd 0 */
	for (unsigned i = 0; s->ls && i < s->nl; i++)
		s->ls[i].fd = -1;
	s->acceptors = urio__calloc(s->nl, sizeof(*s->acceptors));
	int err = ENOMEM;
	if (!s->ls || !s->acceptors)
		goto fail;
	unsigned flags = s->nl > 1 ? URIO_LISTEN_REUSEPORT : 0;
	uint16_t port = o->port;
	for (unsigned i = 0; i < s->nl; i++) {
		int fd = urio_listen(o->host, port, o->backlog, flags);
		if (fd < 0) {
			err = -fd;
			goto fail;
		}
		urio__acceptor_init(&s->ls[i], fd,
				    !(o->flags & URIO_SERVER_SINGLE_ACCEPT));
		if (i == 0) /* port 0: the others share the one picked */
			port = (uint16_t)urio_local_port(fd);
	}
	s->port = port;
	atomic_flag_clear(&s->lock.f);
	return s;
fail:
	urio_server_free(s);
	urio__errno_set(err); /* urio_server_free may suspend */
	return NULL;
}

int urio_server_port(const urio_server *s)
{
	return s ? s->port : -EINVAL;
}

static void conn_unlink(urio_server *s, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* Under s->lock: one connection fewer; returns the idle future to set (a
 * reference the caller drops), or NULL. */
static urio_future *conn_gone_locked(urio_server *s)
{
	if (--s->active || !s->idle)
		return NULL;
	return urio_future_ref(s->idle);
}

static void set_idle(urio_future *f)
{
	if (f) {
		urio_future_set(f, 0);
		urio_future_free(f);
	}
}

static intptr_t conn_main(void *arg)
{
	struct conn *c = arg;
	urio_server *s = c->s;
	int r = s->o.conn(c->fd, s->o.arg);
	if (r < 0 && r != -ECANCELED)
		atomic_fetch_add_explicit(&s->conn_errors, 1,
					  memory_order_relaxed);
	close(c->fd); /* plain close: it must happen even when cancelled */
	urio__spin_lock(&s->lock);
	conn_unlink(s, c);
	urio_task *t = c->task;
	c->done = true;
	urio_future *idle = conn_gone_locked(s);
	urio__spin_unlock(&s->lock);
	/* s may be freed from here on: a drain waits only for `active` */
	if (t) {
		urio_detach(t);
		free(c);
	}
	set_idle(idle);
	return 0;
}

/* Runs a connection task for fd; 0, or -errno with fd closed. */
static int spawn_conn(urio_server *s, int fd)
{
	struct conn *c = urio__calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->s = s;
	c->fd = fd;
	urio__spin_lock(&s->lock);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->active++;
	urio__spin_unlock(&s->lock);
	atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
	urio_task *t = urio_spawn_ex(conn_main, c, s->o.stack_size);
	int err = errno;
	urio__spin_lock(&s->lock);
	if (!t) {
		conn_unlink(s, c);
		urio_future *idle = conn_gone_locked(s);
		urio__spin_unlock(&s->lock);
		set_idle(idle);
		close(fd);
		free(c);
		return -err;
	}
	bool done = c->done;
	if (!done)
		c->task = t;
	urio__spin_unlock(&s->lock);
	if (done) {
		urio_detach(t);
		free(c);
	}
	return 0;
}

static bool resource_error(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM ||
	       r == -EAGAIN;
}

struct accept_arg {
	urio_server *s;
	struct urio__acceptor *l;
};

static intptr_t accept_main(void *arg)
{
	struct accept_arg *a = arg;
	urio_server *s = a->s;
	struct urio__acceptor *l = a->l;
	free(a);
	for (;;) {
		int fd = urio__acceptor_next(l);
		if (fd >= 0) {
			fd = spawn_conn(s, fd);
			if (fd >= 0)
				continue;
		}
		if (fd == -ECANCELED)
			break;
		atomic_fetch_add_explicit(&s->accept_errors, 1,
					  memory_order_relaxed);
		if (resource_error(fd)) {
			atomic_fetch_add_explicit(&s->backoffs, 1,
						  memory_order_relaxed);
			if (urio_sleep_ms(BACKOFF_MS) < 0)
				break;
			continue;
		}
		/* the peer gave up before we took it; anything else means
		 * the listener itself is broken */
		if (fd != -ECONNABORTED && fd != -EINTR && fd != -EPROTO &&
		    fd != -EPERM && fd != -ETIMEDOUT)
			break;
	}
	urio__acceptor_stop(l);
	return 0;
}

int urio_server_start(urio_server *s)
{
	if (!s)
		return -EINVAL;
	if (!urio_self())
		return -EPERM;
	if (s->started)
		return -EALREADY;
	for (unsigned i = 0; i < s->nl; i++) {
		struct accept_arg *a = urio__malloc(sizeof(*a));
		if (a)
			*a = (struct accept_arg){s, &s->ls[i]};
		urio_task *t = a ? urio_spawn(accept_main, a) : NULL;
		if (!t) {
			int err = errno;
			free(a);
			for (unsigned j = 0; j < i; j++) {
				urio_cancel(s->acceptors[j]);
				urio_join(s->acceptors[j], NULL);
				s->acceptors[j] = NULL;
			}
			return -err;
		}
		urio_task_set_name(t, "acceptor");
		s->acceptors[i] = t;
	}
	s->started = true;
	return 0;
}

/* Waits (shielded when `shield`) until no connection is left, or until
 * the enclosing deadline fires. */
static int wait_idle(urio_server *s, urio_future *idle)
{
	urio__spin_lock(&s->lock);
	bool none = s->active == 0;
	urio__spin_unlock(&s->lock);
	return none ? 0 : urio_future_wait(idle, NULL);
}

static void cancel_conns(urio_server *s)
{
	urio__spin_lock(&s->lock);
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->task)
			urio_cancel(c->task);
	urio__spin_unlock(&s->lock);
}

int urio_server_drain(urio_server *s, uint64_t grace_ms)
{
	if (!s)
		return -EINVAL;
	if (!urio_self())
		return -EPERM;
	if (s->drained)
		return -EALREADY;
	/* first, so that failing leaves nothing half done */
	urio_future *idle = urio_future_new();
	if (!idle)
		return -ENOMEM;
	s->drained = true;
	urio_shield sh;
	urio_shield_enter(&sh);
	/* stop accepting: new connections are refused from here on */
	for (unsigned i = 0; i < s->nl; i++) {
		if (s->acceptors[i]) {
			urio_cancel(s->acceptors[i]);
			urio_join(s->acceptors[i], NULL);
			s->acceptors[i] = NULL;
		}
		urio__acceptor_close(&s->ls[i]);
	}
	urio__spin_lock(&s->lock);
	s->idle = idle;
	urio__spin_unlock(&s->lock);
	urio_shield_exit(&sh);

	/* the grace period: connections finish on their own, unless the
	 * caller is cancelled */
	urio_deadline d;
	urio_timeout_enter(&d, grace_ms);
	int r = wait_idle(s, idle);
	urio_timeout_exit(&d);
	int caller = urio_cancelled() ? -ECANCELED : 0;

	urio_shield_enter(&sh);
	if (r < 0) {
		cancel_conns(s);
		wait_idle(s, idle);
	}
	urio_shield_exit(&sh);
	urio__spin_lock(&s->lock);
	s->idle = NULL;
	urio__spin_unlock(&s->lock);
	urio_future_free(idle);
	return caller;
}

int urio_server_free(urio_server *s)
{
	if (!s)
		return 0;
	for (unsigned i = 0; s->acceptors && i < s->nl; i++)
		if (s->acceptors[i] && !urio_task_done(s->acceptors[i]))
			return -EBUSY;
	urio__spin_lock(&s->lock);
	bool busy = s->active != 0;
	urio__spin_unlock(&s->lock);
	if (busy)
		return -EBUSY;
	for (unsigned i = 0; s->acceptors && i < s->nl; i++)
		if (s->acceptors[i])
			urio_join(s->acceptors[i], NULL); /* done: frees it */
	for (unsigned i = 0; s->ls && i < s->nl; i++)
		urio__acceptor_close(&s->ls[i]);
	free(s->ls);
	free(s->acceptors);
	free(s);
	return 0;
}

void urio_server_stats_get(const urio_server *s, urio_server_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	urio_server *m = (urio_server *)s;
	urio__spin_lock(&m->lock);
	out->active = m->active;
	urio__spin_unlock(&m->lock);
	out->accepted = atomic_load(&m->accepted);
	out->conn_errors = atomic_load(&m->conn_errors);
	out->accept_errors = atomic_load(&m->accept_errors);
	out->fd_backoffs = atomic_load(&m->backoffs);
	out->listeners = s->nl;
	out->multishot = s->nl && urio__acceptor_multishot(&s->ls[0]);
}
