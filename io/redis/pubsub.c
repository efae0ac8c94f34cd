/* Pub/sub as an iterator. The subscribing task reads; other tasks may
 * unsubscribe meanwhile, writing to the same socket (a write and a read on
 * one TCP socket do not interfere) under a mutex of their own and never
 * through the connection's output buffer, which only the reader's side
 * touches. The server confirms each (un)subscription with the number of
 * subscriptions left; the iterator ends when that reaches zero, and the
 * connection is then an ordinary one again. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <urio/scope.h>
#include <urio/server.h>
#include <urio/sync.h>

#include "internal.h"

typedef struct sub {
	urio_iter it; /* first */
	urio_redis *c;
	bool patterns;
	atomic_bool done; /* read by unsubscribers */
	atomic_int users; /* unsubscribers inside; close waits them out */
	redisReply *cur; /* the reply the current item points into */
	urio_redis_msg msg;
	urio_mutex wlock; /* unsubscribers' writes */
} sub;

static bool is(const redisReply *r, const char *word)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(word) &&
	       strncasecmp(r->str, word, r->len) == 0;
}

static bool is_string(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING;
}

/* A message into s->msg: 1; a confirmation: 0; anything else: -EPROTO. */
static int classify(sub *s, redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    !is_string(r->element[0]))
		return -EPROTO;
	redisReply **e = r->element;
	memset(&s->msg, 0, sizeof(s->msg));
	if (is(e[0], "message") && is_string(e[1]) && is_string(e[2])) {
		s->msg.channel = e[1]->str;
		s->msg.channel_len = e[1]->len;
		s->msg.data = e[2]->str;
		s->msg.data_len = e[2]->len;
		return 1;
	}
	if (is(e[0], "pmessage") && r->elements == 4 && is_string(e[1]) &&
	    is_string(e[2]) && is_string(e[3])) {
		s->msg.pattern = e[1]->str;
		s->msg.pattern_len = e[1]->len;
		s->msg.channel = e[2]->str;
		s->msg.channel_len = e[2]->len;
		s->msg.data = e[3]->str;
		s->msg.data_len = e[3]->len;
		return 1;
	}
	if (e[2]->type != REDIS_REPLY_INTEGER)
		return -EPROTO;
	if (is(e[0], "subscribe") || is(e[0], "psubscribe"))
		return 0;
	if (is(e[0], "unsubscribe") || is(e[0], "punsubscribe")) {
		if (e[2]->integer == 0) {
			s->c->state &= ~CONN_SUBSCRIBED;
			atomic_store(&s->done, true);
		}
		return 0;
	}
	return -EPROTO;
}

static int sub_next(urio_iter *it, void **item)
{
	sub *s = (sub *)it;
	urio_redis_reply_free(s->cur);
	s->cur = NULL;
	while (!atomic_load(&s->done)) {
		redisReply *r;
		int err = urio__redis_read(s->c, &r);
		if (err == 0) {
			err = classify(s, r);
			if (err == 1) {
				s->cur = r;
				*item = &s->msg;
				return 1;
			}
			urio_redis_reply_free(r);
		}
		if (err < 0) {
			atomic_store(&s->done, true); /* the error once, then the end */
			return urio__redis_break(s->c, err);
		}
	}
	return 0;
}

static void sub_close(urio_iter *it)
{
	sub *s = (sub *)it;
	urio_redis_reply_free(s->cur);
	if (s->c->state & CONN_SUBSCRIBED)
		urio__redis_break(s->c, -ECANCELED);
	/* the server's answer to an unsubscriber can end the iterator before
	 * that task has left s (it still unlocks wlock) */
	while (atomic_load(&s->users))
		urio_yield();
	free(s);
}

static const urio_iter_ops sub_ops = {sub_next, sub_close};

/* Formats verb and names into a malloc'd command in *cmd: its length, or
 * -errno. */
static int format(const char *verb, int n, const char *const *names,
		  const size_t *lens, char **cmd)
{
	if (n < 0 || (n > 0 && !names))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!names[i] && (!lens || lens[i]))
			return -EINVAL;
	const char **argv = malloc(sizeof(*argv) * ((size_t)n + 1));
	size_t *len = malloc(sizeof(*len) * ((size_t)n + 1));
	int r = -ENOMEM;
	if (argv && len) {
		argv[0] = verb;
		len[0] = strlen(verb);
		for (int i = 0; i < n; i++) {
			argv[i + 1] = names[i];
			len[i + 1] = lens ? lens[i] : strlen(names[i]);
		}
		r = redisFormatCommandArgv(cmd, n + 1, argv, len);
		if (r < 0)
			r = -ENOMEM;
	}
	free(argv);
	free(len);
	return r;
}

/* Reads the n confirmations of a SUBSCRIBE: 0 or -errno. */
static int confirm(sub *s, int n)
{
	for (int i = 0; i < n; i++) {
		redisReply *r;
		int err = urio__redis_read(s->c, &r);
		if (err < 0)
			return err;
		if (r->type == REDIS_REPLY_ERROR)
			err = -EREMOTEIO;
		else if (classify(s, r) != 0)
			err = urio__redis_break(s->c, -EPROTO);
		urio_redis_reply_free(r);
		if (err < 0)
			return err;
	}
	return 0;
}

urio_iter *urio_redis_subscribe(urio_redis *c, bool patterns, int n,
				const char *const *names, const size_t *lens)
{
	int err = urio__redis_usable(c);
	if (err == 0 && (c->pending || c->out_len || (c->state & CONN_WATCH)))
		err = -EBUSY;
	if (err == 0 && n <= 0)
		err = -EINVAL;
	char *cmd = NULL;
	if (err == 0)
		err = format(patterns ? "PSUBSCRIBE" : "SUBSCRIBE", n, names,
			     lens, &cmd);
	sub *s = err < 0 ? NULL : calloc(1, sizeof(*s));
	if (err >= 0 && !s)
		err = -ENOMEM;
	if (err < 0) {
		redisFreeCommand(cmd);
		errno = -err;
		return NULL;
	}
	s->it.ops = &sub_ops;
	s->c = c;
	s->patterns = patterns;
	urio_mutex_init(&s->wlock);
	ssize_t sent = urio_send_all(c->fd, cmd, (size_t)err, MSG_NOSIGNAL);
	redisFreeCommand(cmd);
	c->state |= CONN_SUBSCRIBED;
	err = sent < 0 ? urio__redis_break(c, (int)sent) : confirm(s, n);
	if (err < 0) {
		urio__redis_break(c, err);
		free(s);
		errno = -err;
		return NULL;
	}
	return &s->it;
}

static int leave(sub *s, int n, const char *const *names, const size_t *lens)
{
	if (atomic_load(&s->done))
		return 0; /* nothing left to leave */
	char *cmd = NULL;
	int len = format(s->patterns ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", n,
			 names, lens, &cmd);
	if (len < 0)
		return len;
	int err = urio_mutex_lock(&s->wlock);
	if (err == 0) {
		ssize_t sent = urio_send_all(s->c->fd, cmd, (size_t)len,
					     MSG_NOSIGNAL);
		/* a command cut short garbles the stream: the reader is made
		 * to see the connection end rather than a wrong message */
		if (sent < 0) {
			shutdown(s->c->fd, SHUT_RDWR);
			err = (int)sent;
		}
		urio_mutex_unlock(&s->wlock);
	}
	redisFreeCommand(cmd);
	return err;
}

int urio_redis_unsubscribe(urio_iter *it, int n, const char *const *names,
			   const size_t *lens)
{
	if (!it || it->ops != &sub_ops)
		return -EINVAL;
	sub *s = (sub *)it;
	atomic_fetch_add(&s->users, 1);
	int err = leave(s, n, names, lens);
	atomic_fetch_sub(&s->users, 1);
	return err;
}
