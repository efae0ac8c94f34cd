/* A pool of Redis connections on urio_pool. The address and options are
 * copied, so the caller's strings need not outlive the call. Whether a
 * connection goes back idle is decided by its own state, not by the
 * caller's err: one with replies owed, inside MULTI, still subscribed or
 * broken would hand the next user someone else's replies, while one that
 * is in step (an error reply, a rolled back transaction, a cancel noticed
 * before any byte moved) is worth keeping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <urio/io.h>

#include "internal.h"

struct urio_redis_pool {
	urio_pool *pool;
	char *host, *user, *password;
	uint16_t port;
	urio_redis_opts opts;
	urio_redis_mux mux;
};

static int redis_create(void *ctx, void **res)
{
	urio_redis_pool *p = ctx;
	urio_redis *c;
	int err = urio_redis_connect(p->host, p->port, &p->opts, &c);
	if (err == 0)
		*res = c;
	return err;
}

static void redis_destroy(void *ctx, void *res)
{
	(void)ctx;
	urio_redis_close(res);
}

/* An idle connection the server closed, reset, or wrote to unasked is
 * out of step: one non-blocking peek finds it. */
static int redis_check(void *ctx, void *res)
{
	(void)ctx;
	urio_redis *c = res;
	if (!urio_redis_clean(c))
		return -EPROTO;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return -EPIPE;
	if (n > 0)
		return -EPROTO;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

static const urio_pool_ops redis_ops = {redis_create, redis_destroy,
					redis_check};

static void pool_free_strings(urio_redis_pool *p)
{
	free(p->host);
	free(p->user);
	free(p->password);
	free(p);
}

static char *dup_opt(const char *s, bool *failed)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*failed = true;
	return d;
}

urio_redis_pool *urio_redis_pool_new(const char *host, uint16_t port,
				     const urio_redis_opts *copts,
				     const urio_pool_opts *popts)
{
	if (!host || !*host || (copts && copts->db < 0)) {
		errno = EINVAL;
		return NULL;
	}
	if (!urio_self()) {
		errno = EPERM;
		return NULL;
	}
	urio_redis_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	bool failed = false;
	if (copts)
		p->opts = *copts;
	p->port = port;
	p->host = dup_opt(host, &failed);
	p->user = dup_opt(p->opts.user, &failed);
	p->password = dup_opt(p->opts.password, &failed);
	p->opts.user = p->user;
	p->opts.password = p->password;
	if (failed) {
		pool_free_strings(p);
		errno = ENOMEM;
		return NULL;
	}
	int err = urio__redis_mux_init(&p->mux, popts ? popts->max_size : 0);
	if (err < 0) {
		pool_free_strings(p);
		errno = -err;
		return NULL;
	}
	p->pool = urio_pool_new(&redis_ops, p, popts);
	if (!p->pool) {
		int e = errno;
		urio__redis_mux_destroy(&p->mux);
		pool_free_strings(p);
		errno = e;
		return NULL;
	}
	return p;
}

int urio_redis_pool_acquire(urio_redis_pool *p, urio_redis **c)
{
	if (c)
		*c = NULL;
	if (!p || !c)
		return -EINVAL;
	void *res;
	int err = urio_pool_acquire(p->pool, &res);
	if (err == 0)
		*c = res;
	return err;
}

void urio_redis_pool_release(urio_redis_pool *p, urio_redis *c, int err)
{
	if (!p || !c)
		return;
	if (urio_redis_clean(c))
		err = 0; /* whatever went wrong, the stream is in step */
	else if (err >= 0)
		err = c->err ? c->err : -EPROTO;
	urio_pool_release(p->pool, c, err);
}

int urio_redis_pool_command(urio_redis_pool *p, redisReply **reply,
			    int argc, const char *const *argv,
			    const size_t *lens)
{
	if (reply)
		*reply = NULL;
	if (!p)
		return -EINVAL;
	return urio__redis_mux_command(p, &p->mux, reply, argc, argv, lens);
}

void urio_redis_pool_free(urio_redis_pool *p)
{
	if (!p)
		return;
	urio_pool_free(p->pool);
	urio__redis_mux_destroy(&p->mux);
	pool_free_strings(p);
}

urio_pool *urio_redis_pool_pool(urio_redis_pool *p)
{
	return p ? p->pool : NULL;
}
