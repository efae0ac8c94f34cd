/* A Redis connection: an output buffer of formatted commands, a count of
 * replies owed, and hiredis' reader fed from urio_recv.
 *
 * Commands are appended, not sent, so a pipeline of N commands is one
 * write; the reply count keeps reads in step with what was sent. Any I/O
 * error, cancellation or deadline in the middle of an exchange leaves the
 * stream at an unknown point, so the connection breaks for good (a pool
 * destroys it); cancellation noticed before any byte moved does not. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio/io.h>
#include <urio/scope.h>
#include <urio/server.h>

#include "internal.h"

int urio__redis_break(urio_redis *c, int err)
{
	if (!c->err)
		c->err = err;
	return err;
}

int urio__redis_push(urio_redis *c, const char *cmd, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 256;
		while (cap < c->out_len + len)
			cap *= 2;
		char *out = realloc(c->out, cap);
		if (!out)
			return -ENOMEM;
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, cmd, len);
	c->out_len += len;
	c->pending++;
	return 0;
}

int urio__redis_send(urio_redis *c)
{
	if (!c->out_len)
		return 0;
	ssize_t n = urio_send_all(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
	if (n < 0)
		return urio__redis_break(c, (int)n);
	c->out_len = 0;
	return 0;
}

static int reader_error(const redisReader *r)
{
	return r->err == REDIS_ERR_OOM ? -ENOMEM : -EPROTO;
}

int urio__redis_read(urio_redis *c, redisReply **reply)
{
	for (;;) {
		void *r = NULL;
		if (redisReaderGetReply(c->reader, &r) != REDIS_OK)
			return urio__redis_break(c, reader_error(c->reader));
		if (r) {
			*reply = r;
			return 0;
		}
		ssize_t n = urio_recv(c->fd, c->in, sizeof(c->in), 0);
		if (n == 0)
			return urio__redis_break(c, -ECONNRESET);
		if (n < 0)
			return urio__redis_break(c, (int)n);
		if (redisReaderFeed(c->reader, c->in, (size_t)n) != REDIS_OK)
			return urio__redis_break(c, reader_error(c->reader));
	}
}

/* --- commands -------------------------------------------------------------- */

static int check_argv(int argc, const char *const *argv, const size_t *lens)
{
	if (argc <= 0 || !argv)
		return -EINVAL;
	for (int i = 0; i < argc; i++)
		if (!argv[i] && (!lens || lens[i]))
			return -EINVAL;
	return 0;
}

int urio__redis_format(int argc, const char *const *argv, const size_t *lens,
		       char **cmd)
{
	int err = check_argv(argc, argv, lens);
	if (err < 0)
		return err;
	int len = redisFormatCommandArgv(cmd, argc, (const char **)argv, lens);
	return len < 0 ? -ENOMEM : len;
}

int urio__redis_append(urio_redis *c, int argc, const char *const *argv,
		       const size_t *lens)
{
	char *cmd;
	int len = urio__redis_format(argc, argv, lens, &cmd);
	if (len < 0)
		return len;
	int err = urio__redis_push(c, cmd, (size_t)len);
	redisFreeCommand(cmd);
	return err;
}

int urio__redis_vappend(urio_redis *c, const char *fmt, va_list ap)
{
	if (!fmt)
		return -EINVAL;
	char *cmd;
	int len = redisvFormatCommand(&cmd, fmt, ap);
	if (len == -1)
		return -ENOMEM;
	if (len < 0)
		return -EINVAL; /* a bad format */
	int err = urio__redis_push(c, cmd, (size_t)len);
	redisFreeCommand(cmd);
	return err;
}

int urio__redis_usable(const urio_redis *c)
{
	if (!c)
		return -EINVAL;
	if (c->err)
		return -ENOTCONN;
	if (c->state & (CONN_MULTI | CONN_SUBSCRIBED))
		return -EBUSY;
	return 0;
}

static int reply_result(redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR ? -EREMOTEIO : 0;
}

int urio_redis_get_reply(urio_redis *c, redisReply **reply)
{
	if (reply)
		*reply = NULL;
	int err = urio__redis_usable(c);
	if (err < 0 || !reply)
		return err < 0 ? err : -EINVAL;
	if (!c->pending)
		return -EALREADY;
	if (urio_cancelled())
		return -ECANCELED;
	err = urio__redis_send(c);
	if (err < 0)
		return err;
	redisReply *r;
	err = urio__redis_read(c, &r);
	if (err < 0)
		return err;
	c->pending--;
	*reply = r;
	return reply_result(r);
}

/* Sends what is appended and returns the last reply, the earlier ones
 * (a caller's unread pipeline) read and dropped. */
static int exchange(urio_redis *c, redisReply **reply)
{
	while (c->pending > 1) {
		redisReply *r;
		int err = urio_redis_get_reply(c, &r);
		urio_redis_reply_free(r);
		if (err < 0 && err != -EREMOTEIO)
			return err;
	}
	redisReply *r;
	int err = urio_redis_get_reply(c, &r);
	if (reply)
		*reply = r;
	else
		urio_redis_reply_free(r);
	return err;
}

int urio_redis_command(urio_redis *c, redisReply **reply, int argc,
		       const char *const *argv, const size_t *lens)
{
	if (reply)
		*reply = NULL;
	int err = urio__redis_usable(c);
	if (err < 0)
		return err;
	if (urio_cancelled())
		return -ECANCELED;
	err = urio__redis_append(c, argc, argv, lens);
	return err < 0 ? err : exchange(c, reply);
}

int urio_redis_commandf(urio_redis *c, redisReply **reply, const char *fmt,
			...)
{
	if (reply)
		*reply = NULL;
	int err = urio__redis_usable(c);
	if (err < 0)
		return err;
	if (urio_cancelled())
		return -ECANCELED;
	va_list ap;
	va_start(ap, fmt);
	err = urio__redis_vappend(c, fmt, ap);
	va_end(ap);
	return err < 0 ? err : exchange(c, reply);
}

int urio_redis_append(urio_redis *c, int argc, const char *const *argv,
		      const size_t *lens)
{
	int err = urio__redis_usable(c);
	return err < 0 ? err : urio__redis_append(c, argc, argv, lens);
}

int urio_redis_appendf(urio_redis *c, const char *fmt, ...)
{
	int err = urio__redis_usable(c);
	if (err < 0)
		return err;
	va_list ap;
	va_start(ap, fmt);
	err = urio__redis_vappend(c, fmt, ap);
	va_end(ap);
	return err;
}

int urio_redis_flush(urio_redis *c)
{
	int err = urio__redis_usable(c);
	if (err < 0)
		return err;
	if (c->out_len && urio_cancelled())
		return -ECANCELED;
	return urio__redis_send(c);
}

unsigned urio_redis_pending(const urio_redis *c)
{
	return c ? c->pending : 0;
}

int urio_redis_error(const urio_redis *c)
{
	return c ? c->err : -EINVAL;
}

bool urio_redis_clean(const urio_redis *c)
{
	return c && !c->err && !c->pending && !c->out_len && !c->state &&
	       c->reader->pos == c->reader->len;
}

int urio_redis_fd(const urio_redis *c)
{
	return c ? c->fd : -EINVAL;
}

void urio_redis_reply_free(redisReply *r)
{
	if (r)
		freeReplyObject(r);
}

/* --- connect / close ----------------------------------------------------- */

static int handshake(urio_redis *c, const urio_redis_opts *o)
{
	int err = 0;
	if (o->password && o->user) {
		const char *argv[] = {"AUTH", o->user, o->password};
		err = urio_redis_command(c, NULL, 3, argv, NULL);
	} else if (o->password) {
		const char *argv[] = {"AUTH", o->password};
		err = urio_redis_command(c, NULL, 2, argv, NULL);
	}
	if (err == 0 && o->db > 0)
		err = urio_redis_commandf(c, NULL, "SELECT %d", o->db);
	return err;
}

int urio_redis_connect(const char *host, uint16_t port,
		       const urio_redis_opts *opts, urio_redis **out)
{
	static const urio_redis_opts none;
	if (out)
		*out = NULL;
	if (!host || !out)
		return -EINVAL;
	if (!urio_self())
		return -EPERM;
	if (!opts)
		opts = &none;
	if (opts->db < 0)
		return -EINVAL;
	urio_redis *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->reader = redisReaderCreate();
	if (!c->reader) {
		free(c);
		return -ENOMEM;
	}
	int fd = urio_dial(host, port, opts->connect_timeout_ms);
	if (fd < 0) {
		urio_redis_close(c);
		return fd;
	}
	c->fd = fd;
	int err = handshake(c, opts);
	if (err < 0) {
		urio_redis_close(c);
		return err;
	}
	*out = c;
	return 0;
}

void urio_redis_close(urio_redis *c)
{
	if (!c)
		return;
	if (c->fd >= 0 && urio_close(c->fd) == -EPERM) /* not in a task */
		close(c->fd);
	redisReaderFree(c->reader);
	free(c->out);
	free(c);
}
