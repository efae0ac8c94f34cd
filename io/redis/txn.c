/* MULTI/EXEC as a urio_txn: the whole transaction is one write and one
 * round trip. begin and the body only append to the connection's output,
 * commit appends EXEC, sends, and reads MULTI's, each QUEUED and EXEC's
 * replies. Because nothing leaves before commit (unless the queue grows
 * past FLUSH_AT), a rollback usually just truncates the output: the server
 * never saw the transaction. Once MULTI has reached it, rollback sends
 * DISCARD. Commit and rollback run shielded, so their I/O gets a deadline
 * of its own: a hung server must not hang a cancelled task. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urio/scope.h>

#include "internal.h"

#define FLUSH_AT (64 * 1024)
#define DEFAULT_TIMEOUT_MS 5000

enum { TXN_IDLE, TXN_OPEN, TXN_DONE };

static urio_redis_txn *txn_of(urio_txn *t)
{
	return (urio_redis_txn *)t;
}

static uint64_t bound_ms(const urio_redis_txn *t)
{
	return t->timeout_ms ? t->timeout_ms : DEFAULT_TIMEOUT_MS;
}

static int append1(urio_redis *c, const char *word)
{
	return urio__redis_append(c, 1, &word, NULL);
}

static int txn_begin(urio_txn *txn)
{
	urio_redis_txn *t = txn_of(txn);
	urio_redis *c = t->conn;
	int err = urio__redis_usable(c);
	if (err < 0)
		return err;
	if (c->pending || c->out_len)
		return -EBUSY; /* an unread pipeline would interleave */
	if (urio_cancelled())
		return -ECANCELED;
	t->mark = c->out_len;
	err = append1(c, "MULTI");
	if (err < 0)
		return err;
	c->state |= CONN_MULTI;
	t->state = TXN_OPEN;
	t->queued = 0;
	t->flushed = false;
	t->result = NULL;
	return 0;
}

/* Reads n replies; the last one into *last (NULL: freed). */
static int drain(urio_redis *c, unsigned n, redisReply **last)
{
	for (unsigned i = 0; i < n; i++) {
		redisReply *r;
		int err = urio__redis_read(c, &r);
		if (err < 0)
			return err;
		c->pending--;
		if (i + 1 == n && last)
			*last = r;
		else
			urio_redis_reply_free(r);
	}
	return 0;
}

/* Sends the output and reads n replies within t's bound. A bound that
 * fires breaks the connection with -ETIMEDOUT. */
static int exchange_bounded(urio_redis_txn *t, unsigned n, redisReply **last)
{
	urio_redis *c = t->conn;
	int err = 0, terr = 0;
	URIO_TIMEOUT(terr, bound_ms(t))
	{
		err = urio__redis_send(c);
		if (err == 0)
			err = drain(c, n, last);
	}
	if (terr < 0) {
		c->err = terr;
		return terr;
	}
	return err;
}

static int txn_commit(urio_txn *txn)
{
	urio_redis_txn *t = txn_of(txn);
	urio_redis *c = t->conn;
	if (t->state != TXN_OPEN)
		return -EBADF;
	if (c->err)
		return -ENOTCONN;
	int err = append1(c, "EXEC");
	if (err < 0)
		return err; /* still inside MULTI: roll back */
	t->state = TXN_DONE; /* EXEC, or a broken connection, ends it */
	redisReply *r = NULL;
	err = exchange_bounded(t, t->queued + 2, &r);
	if (err < 0)
		return err;
	c->state &= ~(CONN_MULTI | CONN_WATCH);
	t->result = r;
	if (r->type == REDIS_REPLY_ERROR)
		return -EREMOTEIO; /* EXECABORT: a queued command was refused */
	if (r->type == REDIS_REPLY_NIL)
		return -EAGAIN; /* a watched key changed */
	return 0;
}

static void txn_rollback(urio_txn *txn, int why)
{
	(void)why;
	urio_redis_txn *t = txn_of(txn);
	urio_redis *c = t->conn;
	if (t->state != TXN_OPEN)
		return; /* commit got as far as EXEC: nothing to undo here */
	t->state = TXN_DONE;
	if (c->err)
		return; /* closing the connection discards the MULTI */
	if (!t->flushed) {
		c->out_len = t->mark;
		c->pending -= t->queued + 1;
		c->state &= ~CONN_MULTI;
		if ((c->state & CONN_WATCH) && append1(c, "UNWATCH") == 0 &&
		    exchange_bounded(t, 1, NULL) == 0)
			c->state &= ~CONN_WATCH;
		return;
	}
	if (append1(c, "DISCARD") < 0) {
		urio__redis_break(c, -ENOMEM);
		return;
	}
	if (exchange_bounded(t, c->pending, NULL) == 0)
		c->state &= ~(CONN_MULTI | CONN_WATCH);
}

static const urio_txn_ops redis_txn_ops = {txn_begin, txn_commit,
					   txn_rollback};

void urio_redis_txn_init(urio_redis_txn *t, urio_redis *c)
{
	if (!t)
		return;
	memset(t, 0, sizeof(*t));
	t->txn.ops = &redis_txn_ops;
	t->conn = c;
}

/* Counts a command just appended; sends the queue once it is large, so a
 * huge transaction does not sit in memory twice. */
static int queued(urio_redis_txn *t, int err)
{
	if (err < 0)
		return err;
	t->queued++;
	urio_redis *c = t->conn;
	if (c->out_len < FLUSH_AT)
		return 0;
	t->flushed = true;
	return urio__redis_send(c);
}

int urio_redis_txn_add(urio_redis_txn *t, int argc, const char *const *argv,
		       const size_t *lens)
{
	if (!t)
		return -EINVAL;
	if (t->state != TXN_OPEN)
		return -EBADF;
	if (t->conn->err)
		return -ENOTCONN;
	return queued(t, urio__redis_append(t->conn, argc, argv, lens));
}

int urio_redis_txn_addf(urio_redis_txn *t, const char *fmt, ...)
{
	if (!t)
		return -EINVAL;
	if (t->state != TXN_OPEN)
		return -EBADF;
	if (t->conn->err)
		return -ENOTCONN;
	va_list ap;
	va_start(ap, fmt);
	int err = urio__redis_vappend(t->conn, fmt, ap);
	va_end(ap);
	return queued(t, err);
}

int urio_redis_watch(urio_redis *c, int nkeys, const char *const *keys,
		     const size_t *lens)
{
	if (nkeys <= 0 || !keys)
		return -EINVAL;
	for (int i = 0; i < nkeys; i++)
		if (!keys[i] && (!lens || lens[i]))
			return -EINVAL;
	const char **argv = malloc(sizeof(*argv) * ((size_t)nkeys + 1));
	size_t *len = malloc(sizeof(*len) * ((size_t)nkeys + 1));
	int err = -ENOMEM;
	if (argv && len) {
		argv[0] = "WATCH";
		len[0] = 5;
		for (int i = 0; i < nkeys; i++) {
			argv[i + 1] = keys[i];
			len[i + 1] = lens ? lens[i] : strlen(keys[i]);
		}
		err = urio_redis_command(c, NULL, nkeys + 1, argv, len);
		if (err == 0)
			c->state |= CONN_WATCH;
	}
	free(argv);
	free(len);
	return err;
}

int urio_redis_unwatch(urio_redis *c)
{
	int err = urio_redis_commandf(c, NULL, "UNWATCH");
	if (err == 0)
		c->state &= ~CONN_WATCH;
	return err;
}
