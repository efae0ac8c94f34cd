/* urio Redis client (liburio-redis, pkg-config urio-redis): the sockets
 * and the waiting are urio's, the protocol is hiredis' (its reader parses
 * replies, redisFormatCommandArgv encodes commands). Replies are hiredis'
 * redisReply; free them with urio_redis_reply_free (freeReplyObject).
 *
 * Arguments are binary-safe buffers (argv + lengths). Calls return >= 0 or
 * -errno: an I/O error (-ECONNRESET, -EPIPE, ...), -ECANCELED, -EPROTO for
 * bytes hiredis cannot parse, and -EREMOTEIO for a Redis error reply (the
 * reply, with its message, is still handed over). A connection whose
 * exchange was cut short (I/O error, cancelled or timed out mid-command)
 * is broken: every later call returns -ENOTCONN, and a pool destroys it.
 * A connection is used by one task at a time (any worker). */
#ifndef URIO_REDIS_H
#define URIO_REDIS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urio/iter.h>
#include <urio/pool.h>
#include <urio/txn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urio_redis urio_redis;

typedef struct urio_redis_opts { /* zero = default */
	const char *password;        /* AUTH after connecting; NULL: none */
	const char *user;            /* AUTH user password (ACL); NULL: none */
	int db;                      /* SELECT db when > 0 */
	uint64_t connect_timeout_ms; /* 0: none */
} urio_redis_opts;

/* Connects to host (numeric IPv4/IPv6 address) and port, then AUTH and
 * SELECT as opts say (opts may be NULL). Returns 0 with *out set, or
 * -errno (-ECONNREFUSED, -ETIMEDOUT, -EREMOTEIO when AUTH or SELECT was
 * refused, -EINVAL, -EPERM outside a task). */
URIO_API int urio_redis_connect(const char *host, uint16_t port,
				const urio_redis_opts *opts, urio_redis **out);
/* Closes the socket and frees c (NULL is ignored); works in a cancelled
 * task too. */
URIO_API void urio_redis_close(urio_redis *c);

/* One command and its reply: argv[i] is lens[i] bytes (lens NULL: NUL-
 * terminated strings). Commands appended before and not yet read are
 * sent with it and their replies read first (and freed). Returns 0 with
 * *reply set (reply may be NULL: freed for you), -EREMOTEIO with *reply
 * the error reply, or -errno with *reply NULL. */
URIO_API int urio_redis_command(urio_redis *c, redisReply **reply, int argc,
				const char *const *argv, const size_t *lens);
/* The same with a printf-like format as hiredis' redisCommand: %s a
 * string, %b a binary buffer and its size_t length, %d ... */
URIO_API int urio_redis_commandf(urio_redis *c, redisReply **reply,
				 const char *fmt, ...);

/* --- pipelining --------------------------------------------------------
 * Append N commands (no I/O), then read N replies: the first read sends
 * everything appended in one write. */

/* Appends a command to c's output: 0, -ENOMEM, -EINVAL, -ENOTCONN. */
URIO_API int urio_redis_append(urio_redis *c, int argc,
			       const char *const *argv, const size_t *lens);
URIO_API int urio_redis_appendf(urio_redis *c, const char *fmt, ...);
/* Sends what was appended: 0 or -errno. */
URIO_API int urio_redis_flush(urio_redis *c);
/* The reply to the oldest command appended and not yet read (flushing
 * first); as urio_redis_command. -EALREADY when no reply is owed. */
URIO_API int urio_redis_get_reply(urio_redis *c, redisReply **reply);
/* Replies owed to c: commands appended and not yet read. */
URIO_API unsigned urio_redis_pending(const urio_redis *c);

/* The error a broken connection broke with (< 0), or 0 while it is usable. */
URIO_API int urio_redis_error(const urio_redis *c);
/* True when c is idle: usable, nothing owed, not inside MULTI, not
 * subscribed, no WATCH, so it may be handed to another user. */
URIO_API bool urio_redis_clean(const urio_redis *c);
/* The socket, for diagnostics; -EINVAL for a NULL c. */
URIO_API int urio_redis_fd(const urio_redis *c);

/* Frees a reply (hiredis' freeReplyObject); NULL is ignored. */
URIO_API void urio_redis_reply_free(redisReply *r);

/* --- pool -------------------------------------------------------------
 * Connections made with urio_redis_connect on urio_pool. The check before
 * reusing an idle connection is a non-blocking peek (a connection the
 * server closed or that has stray bytes is replaced). A connection given
 * back unclean (broken, replies owed, inside MULTI, subscribed, watching)
 * is destroyed. */
typedef struct urio_redis_pool urio_redis_pool;

/* A pool for host:port (numeric address); copts as urio_redis_connect and
 * popts as urio_pool_new, both may be NULL. Call from a task. NULL with
 * errno EINVAL, EPERM, ENOMEM. */
URIO_API urio_redis_pool *urio_redis_pool_new(const char *host, uint16_t port,
					      const urio_redis_opts *copts,
					      const urio_pool_opts *popts);
/* Leases a connection: 0, or as urio_pool_acquire. */
URIO_API int urio_redis_pool_acquire(urio_redis_pool *p, urio_redis **c);
/* Gives c back: idle again if it is clean (urio_redis_clean: an error
 * reply, a rolled back transaction or a cancel noticed before any byte
 * moved leave it so), destroyed otherwise, whatever err says. */
URIO_API void urio_redis_pool_release(urio_redis_pool *p, urio_redis *c,
				      int err);
/* One command on the pool, as urio_redis_command, pipelined automatically:
 * concurrent callers' commands are batched onto the pool's connections
 * (one write and one read per batch, not one round trip per command), so
 * many callers share few connections at little cost. A caller cancelled
 * while its command is in flight gets -ECANCELED; the reply is still read,
 * by whoever sent the batch, so the connection stays in step. Commands
 * that block the connection (BLPOP, SUBSCRIBE, MULTI) would stall the
 * batch: run them on a leased connection. */
URIO_API int urio_redis_pool_command(urio_redis_pool *p, redisReply **reply,
				     int argc, const char *const *argv,
				     const size_t *lens);
/* As urio_pool_free. */
URIO_API void urio_redis_pool_free(urio_redis_pool *p);
/* The generic pool, for stats (urio_pool_get_stats). */
URIO_API urio_pool *urio_redis_pool_pool(urio_redis_pool *p);

/* --- MULTI/EXEC as a transaction scope -----------------------------------
 *	urio_redis_txn t;
 *	urio_redis_txn_init(&t, c);
 *	int err = urio_with(&urio_txn_scope, &t, body, ctx);
 * begin queues MULTI; the body queues commands with urio_redis_txn_add
 * (no round trip: they go out with EXEC, or earlier once the queue passes
 * 64 KiB); commit sends EXEC and reads every reply, leaving EXEC's array
 * in t.result. A body that fails, is cancelled or passes a deadline rolls
 * back: queued commands that never left are dropped, and if MULTI reached
 * the server, DISCARD is sent and its replies read (shielded, bounded by
 * timeout_ms). WATCH keys first with urio_redis_watch: a commit that finds them
 * changed returns -EAGAIN (run it again). A transaction interrupted mid-
 * I/O breaks the connection (closing it discards the MULTI server-side);
 * give it back with the error so the pool destroys it. */
typedef struct urio_redis_txn {
	urio_txn txn;       /* first */
	redisReply *result; /* after a commit: EXEC's replies (the caller's to
			     * free), or the error reply of a -EREMOTEIO */
	uint64_t timeout_ms; /* bounds commit's and rollback's I/O, which run
			      * shielded (a deadline cannot stop them); 0: 5 s */
	/* private: */
	urio_redis *conn;
	size_t mark;        /* output offset where the transaction starts */
	unsigned queued;    /* commands after MULTI */
	int state;
	bool flushed;       /* MULTI has left for the server */
} urio_redis_txn;

/* Prepares t on c. No I/O. */
URIO_API void urio_redis_txn_init(urio_redis_txn *t, urio_redis *c);
/* Queues a command inside t (its reply will be in t->result): 0, -ENOMEM,
 * -EINVAL, -EBADF outside begin/end, or a flush's I/O error. */
URIO_API int urio_redis_txn_add(urio_redis_txn *t, int argc,
				const char *const *argv, const size_t *lens);
URIO_API int urio_redis_txn_addf(urio_redis_txn *t, const char *fmt, ...);
/* WATCH keys (before the transaction): 0 or as urio_redis_command. */
URIO_API int urio_redis_watch(urio_redis *c, int nkeys,
			      const char *const *keys, const size_t *lens);
/* UNWATCH: 0 or as urio_redis_command. */
URIO_API int urio_redis_unwatch(urio_redis *c);

/* --- pub/sub as an iterator --------------------------------------------- */
typedef struct urio_redis_msg {
	const char *channel, *data;
	size_t channel_len, data_len;
	const char *pattern;       /* for a PSUBSCRIBE match, else NULL */
	size_t pattern_len;
} urio_redis_msg;

/* Subscribes c to channels (patterns: PSUBSCRIBE) and returns an iterator
 * whose items are urio_redis_msg * (valid until the next call), in the
 * order the server sent them. It ends (0) once every channel has been
 * unsubscribed (urio_redis_unsubscribe); the connection is then usable
 * again. A server that closes the connection, or a cancelled task, gets
 * the error once (-ECONNRESET, -ECANCELED), then the end. Closing the
 * iterator before the end leaves c broken (still subscribed): close c, or
 * give it back to its pool. c stays the caller's. NULL with errno
 * (EINVAL, ENOMEM, ENOTCONN, the subscription's error). */
URIO_API urio_iter *urio_redis_subscribe(urio_redis *c, bool patterns,
					 int n, const char *const *names,
					 const size_t *lens);
/* Unsubscribes it from names (n 0: from all), from any task, also while
 * another task waits in urio_iter_next(it): the iterator ends once no
 * subscription is left. 0 (also once it has ended) or -errno. Two calls
 * that each leave the last subscription race: the second one's reply is
 * left unread, and a pool's check then replaces the connection. */
URIO_API int urio_redis_unsubscribe(urio_iter *it, int n,
				    const char *const *names,
				    const size_t *lens);

#ifdef __cplusplus
}
#endif
#endif
